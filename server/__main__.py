"""Start the service: ``python -m server``. HOST and PORT choose the address."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from grader.errors import SandboxError
from server.app import create_app
from server.config import Settings
from server.logs import configure_logging
from server.migrate import upgrade

logger = logging.getLogger("server")


def main() -> None:
    # The database and its WAL files hold every student's code and token hashes: owner only.
    os.umask(0o077)
    settings = Settings()
    configure_logging(settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)

    host = os.environ.get("HOST", "127.0.0.1")
    port_text = os.environ.get("PORT", "8000")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        sys.exit(f"invalid PORT {port_text!r}: expected a TCP port number between 1 and 65535")
    try:
        uvicorn.run(create_app(settings), host=host, port=int(port_text), log_config=None)
    except SandboxError as error:
        sys.exit(f"gradedescent: {error}")


if __name__ == "__main__":
    main()
