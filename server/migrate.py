"""Apply Alembic migrations from code, so the service starts on an up-to-date schema."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

REPOSITORY = Path(__file__).resolve().parent.parent


def upgrade(database_url: str) -> None:
    """Migrate the database at ``database_url`` to the newest revision."""
    config = Config(str(REPOSITORY / "alembic.ini"))
    config.set_main_option("script_location", str(REPOSITORY / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
