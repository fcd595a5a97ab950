"""The structure of docker-compose.yml and the Dockerfile.

No container engine runs on the project's machines, so these files are
checked by reading them: the services exist, scale, start in order and run
commands that exist in this repository.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
SERVICES = {"api", "worker", "redis", "postgres", "migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPOSITORY / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def test_compose_services(services):
    assert set(services) == SERVICES


@pytest.mark.parametrize("name", ["api", "worker", "migrate"])
def test_compose_builds_dockerfile(services, name: str):
    context = REPOSITORY / services[name]["build"]
    assert (context / "Dockerfile").is_file()
    assert services[name]["image"] == "gradedescent:latest"


def test_worker_scales(services):
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # A fixed host port would let only one replica start.


@pytest.mark.parametrize("name", ["api", "worker", "migrate"])
def test_compose_environment(services, name: str):
    environment = services[name]["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql://gradedescent:")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/gradedescent")
    assert environment["BROKER_URL"] == "redis://redis:6379/0"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_compose_waits_for_migration(services, name: str):
    depends_on = services[name]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_migration_waits_for_postgres(services):
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert (REPOSITORY / "alembic.ini").is_file()


@pytest.mark.parametrize(("name", "module"), [("api", "server"), ("worker", "grader.celery_worker")])
def test_compose_commands_exist(services, name: str, module: str):
    assert services[name]["command"] == ["python", "-m", module]
    assert importlib.util.find_spec(module) is not None


def test_worker_metrics_reachable(services):
    worker = services["worker"]
    assert worker["environment"]["GRADEDESCENT_METRICS_ADDRESS"] == "0.0.0.0"
    assert worker["expose"] == [worker["environment"]["GRADEDESCENT_METRICS_PORT"]]


def test_compose_volumes_declared(compose, services):
    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert used == set(compose["volumes"])


def test_dockerfile_installs_sandbox():
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    assert "bubblewrap" in dockerfile
    assert "util-linux" in dockerfile
    assert "pip install" in dockerfile
