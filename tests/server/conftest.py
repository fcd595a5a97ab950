"""Fixtures for tests that use the database directly: a migrated SQLite file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from grader import queue
from grader.grading import GradeResult
from server.db import make_engine, make_session_factory
from server.migrate import upgrade
from server.models import Status, Student, Submission, utc_now
from server.security import hash_token


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A session factory on a fresh SQLite file, migrated by Alembic as the service does."""
    url = f"sqlite:///{tmp_path / 'gradedescent.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def add_student(factory: sessionmaker[Session], student_id: str, name: str | None = None) -> int:
    """Insert a student directly and return its primary key."""
    with factory() as session:
        student = Student(
            student_id=student_id,
            name=name or f"Student {student_id}",
            section="A",
            token_hash=hash_token(student_id),
        )
        session.add(student)
        session.commit()
        return student.id


def store_result(
    factory: sessionmaker[Session],
    student_pk: int,
    lab_id: str,
    result: GradeResult,
    created_at: dt.datetime | None = None,
) -> int:
    """Store a graded result the way a worker does: a claimed submission, then ``queue.complete``."""
    with factory() as session:
        submission = Submission(
            student_pk=student_pk,
            lab_id=lab_id,
            code="# graded in the test process",
            status=Status.RUNNING.value,
            lease_token="test-lease",
            attempts=1,
            created_at=created_at or utc_now(),
        )
        session.add(submission)
        session.commit()
        submission_id = submission.id
    claim = queue.Claim(submission_id, "test-lease", lab_id, "", 1)
    assert queue.complete(factory, claim, result, result.outcomes)
    return submission_id
