"""Settings, read from ``GRADEDESCENT_*`` environment variables, with ``DATABASE_URL`` and ``BROKER_URL`` as fallbacks."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.sandbox import Limits, SandboxMode
from server.db import with_driver


class Settings(BaseSettings):
    """The service's settings; every field has a working default."""

    # validate_by_name keeps Settings(database_url=...) working next to the environment aliases.
    model_config = SettingsConfigDict(env_prefix="GRADEDESCENT_", validate_by_name=True)

    data_dir: Path = Field(
        Path("var"), description="Directory of the SQLite file, the TA token and run files."
    )
    database_url: str | None = Field(
        None,
        # The first alias that is set wins, so GRADEDESCENT_DATABASE_URL overrides a platform's DATABASE_URL.
        validation_alias=AliasChoices("GRADEDESCENT_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; postgresql:// URLs use psycopg 3. Default: SQLite in data_dir.",
    )
    broker_url: str | None = Field(
        None,
        validation_alias=AliasChoices("GRADEDESCENT_BROKER_URL", "BROKER_URL"),
        description="Celery broker URL (redis://...); when set, Celery workers grade and the API runs no pool.",
    )
    ta_token: SecretStr | None = Field(None, description="The TA's bearer token; generated when unset.")
    time_zone: str = Field(
        "Asia/Seoul",
        description="IANA time zone of the course: pages show times in it and daily quotas reset at its midnight.",
    )
    sandbox: SandboxMode = Field(
        SandboxMode.BWRAP, description="'bwrap', or 'none' for local experiments only."
    )
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0, description="Grading threads.")
    time_limit: float = Field(10.0, gt=0, le=600, description="Wall-clock seconds per case.")
    warm_pool: bool = Field(
        True,
        description="Fork runs from a warm sandbox with NumPy and torch imported (bwrap mode only); false starts each run cold.",
    )
    lease_seconds: float = Field(
        30.0,
        gt=0,
        description="A running submission is requeued this long after its worker's last heartbeat.",
    )
    poll_seconds: float = Field(0.2, gt=0, description="How often an idle worker looks for queued work.")
    shutdown_grace_seconds: float = Field(
        15.0,
        ge=0,
        description="At shutdown, seconds the local pool waits for running grades before requeueing them.",
    )
    watchdog_seconds: float | None = Field(
        None,
        gt=0,
        description="Seconds between a Celery worker's watchdog passes; default: a third of lease_seconds.",
    )
    redispatch_seconds: float = Field(
        300.0,
        gt=0,
        description="A queued submission whose task was sent this long ago gets another task (a lost message).",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="'text' for people, 'json' for one JSON object per log record."
    )
    metrics_port: int = Field(
        9808,
        ge=0,
        lt=65536,
        description="Port of a Celery worker's Prometheus exporter; 0 turns it off. The API serves /metrics.",
    )
    metrics_address: str = Field(
        "127.0.0.1", description="Address a Celery worker's Prometheus exporter listens on."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # The sandbox binds run files by path from another working directory, so a relative
        # path such as the default "var" would name nothing there.
        return value.expanduser().resolve()

    @field_validator("ta_token")
    @classmethod
    def _reject_weak_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "GRADEDESCENT_TA_TOKEN must be at least 16 characters; unset it to have one generated"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"GRADEDESCENT_TIME_ZONE {value!r} is not an IANA time zone name: use one such as 'Asia/Seoul'"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return with_driver(self.database_url)
        return f"sqlite:///{self.data_dir.resolve() / 'gradedescent.db'}"

    @property
    def watchdog_interval(self) -> float:
        return self.watchdog_seconds if self.watchdog_seconds is not None else self.lease_seconds / 3

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def limits(self) -> Limits:
        return Limits(wall_time=self.time_limit)
