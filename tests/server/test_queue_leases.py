"""The queue's claims, leases and dispatch records on a real SQLite file."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from grader import queue
from grader.grading import GradeResult
from grader.verdicts import Verdict
from server.models import Status, Submission, utc_now
from tests.server.conftest import add_student

LEASE_SECONDS = 30.0


def add_submission(factory: sessionmaker[Session], **values: object) -> int:
    student_pk = add_student(factory, f"queue-{utc_now().timestamp()}")
    with factory() as session:
        submission = Submission(student_pk=student_pk, lab_id="lab1", code="pass", **values)
        session.add(submission)
        session.commit()
        return submission.id


def read(factory: sessionmaker[Session], submission_id: int) -> Submission:
    with factory() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        return submission


def set_values(factory: sessionmaker[Session], submission_id: int, **values: object) -> None:
    with factory() as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))
        session.commit()


def test_claim_queued(session_factory):
    submission_id = add_submission(session_factory)

    claim = queue.claim(session_factory, submission_id, LEASE_SECONDS)

    assert claim is not None
    assert claim.submission_id == submission_id
    assert claim.attempts == 1
    assert claim.created_at == read(session_factory, submission_id).created_at
    assert read(session_factory, submission_id).status == Status.RUNNING.value
    assert read(session_factory, submission_id).lease_token == claim.lease_token


@pytest.mark.parametrize("status", [Status.RUNNING.value, Status.DONE.value])
def test_claim_not_queued(session_factory, status: str):
    submission_id = add_submission(session_factory, status=status, attempts=1)

    assert queue.claim(session_factory, submission_id, LEASE_SECONDS) is None
    assert read(session_factory, submission_id).attempts == 1


def test_claim_missing(session_factory):
    assert queue.claim(session_factory, 12345, LEASE_SECONDS) is None


def test_claim_twice(session_factory):
    submission_id = add_submission(session_factory)

    first = queue.claim(session_factory, submission_id, LEASE_SECONDS)
    second = queue.claim(session_factory, submission_id, LEASE_SECONDS)

    assert first is not None
    assert second is None


def test_requeue_expired_lease(session_factory):
    submission_id = add_submission(session_factory, dispatched_at=utc_now())
    claim = queue.claim(session_factory, submission_id, lease_seconds=-1)
    assert claim is not None

    expired = queue.requeue_expired(session_factory)

    assert expired == queue.Expired(requeued=[submission_id], failed=[])
    row = read(session_factory, submission_id)
    assert row.status == Status.QUEUED.value
    assert row.lease_token is None
    assert row.dispatched_at is None
    assert queue.complete(session_factory, claim, GradeResult(Verdict.NO_RESULT), []) is False


def test_requeue_expired_gives_up(session_factory):
    submission_id = add_submission(
        session_factory,
        status=Status.RUNNING.value,
        lease_token="dead-worker",
        lease_expires_at=utc_now() - dt.timedelta(seconds=1),
        attempts=queue.MAX_CLAIMS,
    )

    expired = queue.requeue_expired(session_factory)

    assert expired == queue.Expired(requeued=[], failed=[submission_id])
    row = read(session_factory, submission_id)
    assert row.status == Status.DONE.value
    assert row.verdict == Verdict.INTERNAL_ERROR.value
    assert row.finished_at is not None
    assert f"stopped {queue.MAX_CLAIMS} times" in row.detail


def test_requeue_keeps_live_lease(session_factory):
    submission_id = add_submission(session_factory)
    assert queue.claim(session_factory, submission_id, LEASE_SECONDS) is not None

    assert queue.requeue_expired(session_factory) == queue.Expired(requeued=[], failed=[])
    assert read(session_factory, submission_id).status == Status.RUNNING.value


def test_release_clears_dispatch(session_factory):
    submission_id = add_submission(session_factory, dispatched_at=utc_now())
    claim = queue.claim(session_factory, submission_id, LEASE_SECONDS)
    assert claim is not None

    assert queue.release(session_factory, claim) is True

    row = read(session_factory, submission_id)
    assert row.status == Status.QUEUED.value
    assert row.attempts == 0
    assert row.dispatched_at is None


def test_fail_internal_requeue_clears_dispatch(session_factory):
    submission_id = add_submission(session_factory, dispatched_at=utc_now())
    claim = queue.claim(session_factory, submission_id, LEASE_SECONDS)
    assert claim is not None

    assert queue.fail_internal(session_factory, claim, "sandbox failed") == "requeued"
    assert read(session_factory, submission_id).dispatched_at is None


def test_mark_dispatched(session_factory):
    queued = add_submission(session_factory)
    done = add_submission(session_factory, status=Status.DONE.value)

    queue.mark_dispatched(session_factory, queued)
    queue.mark_dispatched(session_factory, done)

    assert read(session_factory, queued).dispatched_at is not None
    assert read(session_factory, done).dispatched_at is None


def test_take_undispatched_rules(session_factory):
    now = utc_now()
    minute_ago = now - dt.timedelta(minutes=1)
    hour_ago = now - dt.timedelta(hours=1)
    never_sent = add_submission(session_factory, created_at=minute_ago)
    just_created = add_submission(session_factory)
    requeued = add_submission(session_factory, attempts=1)
    sent_recently = add_submission(session_factory, created_at=minute_ago, dispatched_at=now)
    sent_long_ago = add_submission(session_factory, created_at=hour_ago, dispatched_at=hour_ago)
    running = add_submission(session_factory, status=Status.RUNNING.value, created_at=minute_ago)

    taken = queue.take_undispatched(session_factory, grace_seconds=10, redispatch_seconds=300)

    assert taken == [never_sent, requeued, sent_long_ago]
    assert read(session_factory, never_sent).dispatched_at is not None
    assert read(session_factory, just_created).dispatched_at is None
    assert read(session_factory, sent_recently).dispatched_at == now
    assert read(session_factory, running).dispatched_at is None
    assert queue.take_undispatched(session_factory, grace_seconds=10, redispatch_seconds=300) == []


def test_clear_dispatched(session_factory):
    queued = add_submission(session_factory, dispatched_at=utc_now())
    running = add_submission(session_factory, status=Status.RUNNING.value, dispatched_at=utc_now())

    queue.clear_dispatched(session_factory, [queued, running])

    assert read(session_factory, queued).dispatched_at is None
    assert read(session_factory, running).dispatched_at is not None


def test_claim_prefers_student_with_nothing_running(session_factory):
    busy_student = add_student(session_factory, "busy")
    waiting_student = add_student(session_factory, "waiting")
    with session_factory() as session:
        for _ in range(3):
            session.add(Submission(student_pk=busy_student, lab_id="lab1", code="# slow"))
        session.add(Submission(student_pk=waiting_student, lab_id="lab1", code="# quick"))
        session.commit()

    first = queue.claim_next(session_factory, 30)
    second = queue.claim_next(session_factory, 30)
    third = queue.claim_next(session_factory, 30)

    assert first is not None and first.code == "# slow"
    assert second is not None and second.code == "# quick"
    assert third is not None and third.code == "# slow"
