"""The course-management migration on a database that already has students."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic.config import Config

from alembic import command
from server.migrate import REPOSITORY, upgrade


def alembic_config(url: str) -> Config:
    config = Config(str(REPOSITORY / "alembic.ini"))
    config.set_main_option("script_location", str(REPOSITORY / "alembic"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    return config


def test_existing_students_get_pseudonyms(tmp_path: Path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "0003")
    with closing(sqlite3.connect(path)) as connection, connection:
        for number in range(3):
            connection.execute(
                "INSERT INTO students (student_id, name, section, token_hash, created_at) VALUES (?, ?, 'A', ?, ?)",
                (f"old-{number}", f"Old Student {number}", f"hash-{number}", "2026-12-01 00:00:00"),
            )

    upgrade(url)

    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT display_name, display_name_key, display_name_chosen FROM students"
        ).fetchall()
    names = [name for name, _, _ in rows]
    assert len(set(names)) == 3
    assert all(name.startswith("Student ") for name in names)
    assert all(key == name.casefold() for name, key, _ in rows)
    assert {chosen for _, _, chosen in rows} == {0}


def test_downgrade_and_upgrade_again(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    upgrade(url)

    command.downgrade(alembic_config(url), "0003")
    upgrade(url)

    with closing(sqlite3.connect(tmp_path / "cycle.db")) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(lab_settings)")}
    assert {"opens_at", "late_policy", "daily_quota"} <= columns
