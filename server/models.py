"""Database tables. The schema changes only through Alembic migrations."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from server import display_names


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC time")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Student(Base):
    """A student on the roster, who signs requests with a bearer token."""

    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(32))
    # NULL once a TA revokes the token; a rotation stores the new token's hash.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    # The name boards show instead of ``name``: chosen by the student, or a generated pseudonym.
    display_name: Mapped[str | None] = mapped_column(String(64), default=None)
    # ``display_name`` casefolded, so two names that differ only in case or width are one name.
    display_name_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    display_name_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)

    submissions: Mapped[list[Submission]] = relationship(back_populates="student")


@event.listens_for(Student, "before_insert")
def _give_pseudonym(_mapper: Mapper[Student], connection: Connection, student: Student) -> None:
    """Give every new student a generated display name, whichever code path adds them."""
    if student.display_name is not None:
        return

    def taken(key: str) -> bool:
        return connection.scalar(select(Student.id).where(Student.display_name_key == key)) is not None

    student.display_name = display_names.new_pseudonym(taken)
    student.display_name_key = display_names.name_key(student.display_name)


class TAAccount(Base):
    """A TA who signs requests with a bearer token of their own.

    The ``bootstrap`` account's token is ``GRADEDESCENT_TA_TOKEN`` (or the
    generated ``ta_token`` file) and is set again at every start.
    """

    __tablename__ = "ta_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    bootstrap: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class AuditEntry(Base):
    """One action a TA took, kept for the course's records."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    ta_account_id: Mapped[int | None] = mapped_column(ForeignKey("ta_accounts.id"))
    # Copied from the account, so the entry reads the same after the account is renamed or revoked.
    ta_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Submission(Base):
    """One solution file and, once graded, its verdict.

    ``lease_token`` names the worker's claim on a running submission. A result
    is stored only under the lease that is current, so a worker that lost its
    lease (it stalled and the submission was requeued) cannot store a second result.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_queue", "status", "id"),
        Index("ix_submissions_lab_student", "lab_id", "student_pk"),
        Index("ix_submissions_created_at", "created_at"),
        # Several NULL keys are allowed: only requests that send Idempotency-Key are deduplicated.
        UniqueConstraint("student_pk", "idempotency_key", name="uq_submissions_student_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id"))
    lab_id: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED.value)
    verdict: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    stdout: Mapped[str] = mapped_column(Text, default="")
    stderr: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When a Celery task for this queued submission was last sent; NULL under the local pool and after a requeue.
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Scores of the whole submission, recomputed by a rescore; NULL until accepted, or when not finite.
    public_gap: Mapped[float | None] = mapped_column(Float, default=None)
    public_ert: Mapped[float | None] = mapped_column(Float, default=None)
    hidden_mean_gap: Mapped[float | None] = mapped_column(Float, default=None)
    hidden_ert: Mapped[float | None] = mapped_column(Float, default=None)
    solved_fraction: Mapped[float | None] = mapped_column(Float, default=None)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    cpu_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    wall_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    # CPU time inside solution() as the runner reports it: statistics only, never a score.
    student_cpu_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Submitted after the lab's deadline under the late policy "mark_late".
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    # SHA-256 of the lab and the code, which identifies the request that first used ``idempotency_key``.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)

    student: Mapped[Student] = relationship(back_populates="submissions")
    cases: Mapped[list[CaseResult]] = relationship(
        back_populates="submission", order_by="CaseResult.case_index", cascade="all, delete-orphan"
    )


class CaseResult(Base):
    """The score of one case of a submission, with the evaluator's trajectory.

    ``trajectory`` contains float64 little-endian values, one row per evaluation:
    the point's coordinates and then ``f``. Non-finite scores are stored as NULL.
    """

    __tablename__ = "case_results"
    __table_args__ = (UniqueConstraint("submission_id", "case_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    case_index: Mapped[int] = mapped_column(Integer)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    seed: Mapped[int | None] = mapped_column(Integer, default=None)
    final_point: Mapped[list[float]] = mapped_column(JSON)
    final_f: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    distance: Mapped[float | None] = mapped_column(Float)
    evaluations: Mapped[int] = mapped_column(Integer)
    evaluations_to_target: Mapped[list[int | None]] = mapped_column(JSON)
    reached_global: Mapped[bool] = mapped_column(Boolean)
    budget_spent: Mapped[bool] = mapped_column(Boolean)
    scored_on: Mapped[str] = mapped_column(String(32))
    feedback: Mapped[str] = mapped_column(String(32), default="")
    trajectory: Mapped[bytes] = mapped_column(LargeBinary)

    submission: Mapped[Submission] = relationship(back_populates="cases")


class LabSettings(Base):
    """A lab's grading settings, created with defaults the first time the lab is graded.

    ``hidden_seeds`` are drawn at random once and kept, so every submission of
    the lab meets the same hidden instances and any run can be replayed.
    """

    __tablename__ = "lab_settings"

    lab_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hidden_cases: Mapped[int] = mapped_column(Integer, default=8)
    hidden_seeds: Mapped[list[int]] = mapped_column(JSON, default=list)
    leaderboard: Mapped[bool] = mapped_column(Boolean, default=False)
    board_rule: Mapped[str] = mapped_column(String(16), default="best")
    deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # "reject" refuses submissions after the deadline; "mark_late" accepts them with ``late`` set.
    late_policy: Mapped[str] = mapped_column(String(16), default="mark_late")
    # Charged submissions per student per course-time-zone day; NULL means no limit.
    daily_quota: Mapped[int | None] = mapped_column(Integer, default=20)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)
