"""The tests of tests/server/test_api.py, run again against a server on PostgreSQL.

The star import collects that module's tests and fixtures here, where the
``live_server`` below replaces the SQLite one of tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, start_server, stop_server
from tests.integration.conftest import PostgresServer
from tests.server.test_api import *  # noqa: F403


@pytest.fixture(scope="module")
def live_server(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = postgres_server.create_database()
    server = start_server(tmp_path_factory.mktemp("postgres-api"), {"GRADEDESCENT_DATABASE_URL": url})
    yield server
    stop_server(server)


def test_server_on_postgres(live_server: LiveServer):
    assert "gradedescent started: database postgresql+psycopg://" in live_server.log()
