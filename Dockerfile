# One image for the API, the Celery workers and the migration job of docker-compose.yml.
# NOTE: never built on the project's machines, which have no container engine; see docs/deployment.md.
FROM python:3.11-slim-bookworm

# The sandbox's tools: bwrap (bubblewrap), prlimit and setpriv (util-linux); see docs/security.md.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap util-linux \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
# An editable install keeps alembic/ and alembic.ini next to the code, where server.migrate finds them,
# and keeps the project's packages out of site-packages, which the sandbox mounts for student code.
RUN pip install --no-cache-dir --disable-pip-version-check -e .

ENV HOST=0.0.0.0 \
    PORT=8000 \
    GRADEDESCENT_DATA_DIR=/var/lib/gradedescent
EXPOSE 8000 9808
CMD ["python", "-m", "server"]
