"""Settings of the scale-out deployment: database and broker URLs from either variable name."""

from __future__ import annotations

import pytest

from server.config import Settings
from server.db import with_driver

URL_VARIABLES = ("GRADEDESCENT_DATABASE_URL", "DATABASE_URL", "GRADEDESCENT_BROKER_URL", "BROKER_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in URL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_database_url_fallback(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://grader@127.0.0.1/course")

    assert Settings().resolved_database_url == "postgresql+psycopg://grader@127.0.0.1/course"


def test_database_url_prefixed_wins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://grader@127.0.0.1/platform")
    monkeypatch.setenv("GRADEDESCENT_DATABASE_URL", "postgresql://grader@127.0.0.1/course")

    assert Settings().resolved_database_url == "postgresql+psycopg://grader@127.0.0.1/course"


def test_database_url_default_sqlite(tmp_path):
    settings = Settings(data_dir=tmp_path)

    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'gradedescent.db'}"


def test_database_url_by_name():
    assert Settings(database_url="sqlite:///x.db").resolved_database_url == "sqlite:///x.db"


def test_broker_url_fallback(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:6379/1")

    assert Settings().broker_url == "redis://127.0.0.1:6379/1"


def test_broker_url_prefixed_wins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:6379/1")
    monkeypatch.setenv("GRADEDESCENT_BROKER_URL", "redis://127.0.0.1:6379/2")

    assert Settings().broker_url == "redis://127.0.0.1:6379/2"


def test_broker_url_default_none():
    assert Settings().broker_url is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://a:secret@127.0.0.1:5432/db", "postgresql+psycopg://a:secret@127.0.0.1:5432/db"),
        ("postgresql://a@127.0.0.1/db", "postgresql+psycopg://a@127.0.0.1/db"),
        ("postgresql+psycopg://a@127.0.0.1/db", "postgresql+psycopg://a@127.0.0.1/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_with_driver(url: str, expected: str):
    assert with_driver(url) == expected


def test_watchdog_interval_default():
    assert Settings(lease_seconds=30).watchdog_interval == 10
