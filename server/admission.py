"""Admitting a submission: idempotency, the lab's schedule and the daily quota, then storing it.

Checks run in one transaction that first takes the student's row lock, so
two requests of one student that arrive together are decided one after the
other. The second finds the first's submission when it looks up its
Idempotency-Key and when it counts the quota. On SQLite the lock is the
database's write lock; on PostgreSQL it is the row lock of the student's
``students`` row. The unique constraint on ``(student_pk, idempotency_key)``
backs the lookup up: a duplicate that slips past it fails to insert, and the
response returns the stored submission.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import idempotency, quota, schedule
from server.lab_settings import get_settings
from server.models import Student, Submission

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    """The stored submission, whether it was stored by an earlier request with the same key, and the quota."""

    submission: Submission
    replayed: bool
    quota: quota.QuotaStatus


class QuotaExceeded(Exception):
    """Raised when the student has no submissions left today on the lab."""

    def __init__(self, status: quota.QuotaStatus) -> None:
        super().__init__(f"quota of {status.limit} used on {status.lab_id}")
        self.status = status


def quota_status(
    session: Session, student: Student, lab_id: str, now: dt.datetime, zone: ZoneInfo
) -> quota.QuotaStatus:
    """Return the student's quota on the lab now, without locking anything."""
    limit = get_settings(session, lab_id).daily_quota
    return quota.status(session, student.id, lab_id, limit, now, zone)


def admit(
    session: Session,
    student: Student,
    lab_id: str,
    code: str,
    key: str | None,
    now: dt.datetime,
    zone: ZoneInfo,
) -> Admission:
    """Store a new submission, or return the one stored under ``key``, and commit.

    Raises ``idempotency.KeyReusedError`` (key used for another request),
    ``schedule.ClosedError`` (lab not open, or late under "reject") or
    ``QuotaExceeded``; nothing is stored then.
    """
    request_fingerprint = idempotency.fingerprint(lab_id, code) if key is not None else None
    try:
        _lock_student(session, student.id)
        if key is not None:
            stored = idempotency.find(session, student.id, key)
            if stored is not None:
                return _replay(session, stored, key, request_fingerprint, now, zone)

        settings = get_settings(session, lab_id)
        late = schedule.check(settings, now, zone)
        status = quota.status(session, student.id, lab_id, settings.daily_quota, now, zone)
        if status.exhausted:
            raise QuotaExceeded(status)

        submission = Submission(
            student_pk=student.id,
            lab_id=lab_id,
            code=code,
            created_at=now,
            late=late,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
        )
        session.add(submission)
        session.commit()  # Stored before it is acknowledged.
    except IntegrityError:
        session.rollback()
        stored = idempotency.find(session, student.id, key) if key is not None else None
        if stored is None:
            raise
        logger.info("submission %d: a concurrent request with the same Idempotency-Key was merged", stored.id)
        return _replay(session, stored, key, request_fingerprint, now, zone)  # type: ignore[arg-type]
    except BaseException:
        session.rollback()
        raise
    return Admission(submission, False, dataclasses.replace(status, used=status.used + 1))


def _lock_student(session: Session, student_pk: int) -> None:
    # A write that changes nothing, issued first so that it opens the transaction. It takes the lock the
    # module docstring describes, so every read after it finds the submissions committed before it.
    session.execute(update(Student).where(Student.id == student_pk).values(id=Student.id))


def _replay(
    session: Session,
    stored: Submission,
    key: str,
    request_fingerprint: str | None,
    now: dt.datetime,
    zone: ZoneInfo,
) -> Admission:
    idempotency.check_same_request(stored, request_fingerprint or "", key)
    limit = get_settings(session, stored.lab_id).daily_quota
    status = quota.status(session, stored.student_pk, stored.lab_id, limit, now, zone)
    session.commit()
    return Admission(stored, True, status)
