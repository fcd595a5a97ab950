"""Settings, read from ``GRADEDESCENT_*`` environment variables."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.sandbox import Limits, SandboxMode


class Settings(BaseSettings):
    """The service's settings; every field has a working default."""

    model_config = SettingsConfigDict(env_prefix="GRADEDESCENT_")

    data_dir: Path = Field(
        Path("var"), description="Directory of the SQLite file, the TA token and run files."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    ta_token: SecretStr | None = Field(None, description="The TA's bearer token; generated when unset.")
    sandbox: SandboxMode = Field(
        SandboxMode.BWRAP, description="'bwrap', or 'none' for local experiments only."
    )
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0, description="Grading threads.")
    time_limit: float = Field(10.0, gt=0, le=600, description="Wall-clock seconds per case.")
    lease_seconds: float = Field(
        30.0,
        gt=0,
        description="A running submission is requeued this long after its worker's last heartbeat.",
    )
    poll_seconds: float = Field(0.2, gt=0, description="How often an idle worker looks for queued work.")

    @field_validator("ta_token")
    @classmethod
    def _reject_weak_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "GRADEDESCENT_TA_TOKEN must be at least 16 characters; unset it to have one generated"
            )
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'gradedescent.db'}"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def limits(self) -> Limits:
        return Limits(wall_time=self.time_limit)
