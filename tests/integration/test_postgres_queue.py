"""The queue's claims under concurrency on PostgreSQL, where transactions really run in parallel."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from grader import queue
from grader.grading import GradeResult
from grader.verdicts import Verdict
from server.db import make_engine, make_session_factory
from server.models import Status, Submission, utc_now
from tests.server.conftest import add_student

THREADS = 8
ROWS = 40
LEASE_SECONDS = 30.0

T = TypeVar("T")


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)  # Its pool holds up to 15 connections, one per thread here.
    yield make_session_factory(engine)
    engine.dispose()


def add_queued(factory: sessionmaker[Session], count: int, **values: object) -> list[int]:
    student_pk = add_student(factory, "queue-student")
    with factory() as session:
        rows = [Submission(student_pk=student_pk, lab_id="lab1", code="pass", **values) for _ in range(count)]
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def run_together(count: int, work: Callable[[], T]) -> list[T]:
    """Run ``work`` in ``count`` threads released at the same moment; return their results."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            value = work()
        except BaseException as error:
            errors.append(error)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_claim_next_concurrent(factory):
    ids = add_queued(factory, ROWS)

    def drain() -> list[int]:
        claimed = []
        while (claim := queue.claim_next(factory, LEASE_SECONDS)) is not None:
            claimed.append(claim.submission_id)
        return claimed

    per_thread = run_together(THREADS, drain)

    claimed = [submission_id for ids_ in per_thread for submission_id in ids_]
    assert sorted(claimed) == ids
    assert [count for count in Counter(claimed).values() if count > 1] == []


def test_claim_by_id_concurrent(factory):
    (submission_id,) = add_queued(factory, 1)

    claims = run_together(THREADS, lambda: queue.claim(factory, submission_id, LEASE_SECONDS))

    won = [claim for claim in claims if claim is not None]
    assert len(won) == 1
    assert won[0].attempts == 1


def test_take_undispatched_concurrent(factory):
    ids = add_queued(factory, ROWS, created_at=utc_now() - dt.timedelta(minutes=5))

    taken = run_together(THREADS, lambda: queue.take_undispatched(factory, 10, 300))

    every = [submission_id for batch in taken for submission_id in batch]
    assert sorted(every) == ids


def test_complete_after_requeue_discarded(factory):
    (submission_id,) = add_queued(factory, 1)
    stale = queue.claim(factory, submission_id, lease_seconds=-1)  # Expired at once.
    assert stale is not None

    expired = queue.requeue_expired(factory)
    fresh = queue.claim(factory, submission_id, LEASE_SECONDS)
    assert fresh is not None
    stored_stale = queue.complete(factory, stale, GradeResult(Verdict.RUNTIME_ERROR), [])
    stored_fresh = queue.complete(factory, fresh, GradeResult(Verdict.NO_RESULT), [])

    assert expired.requeued == [submission_id]
    assert stored_stale is False
    assert stored_fresh is True
    with factory() as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        assert row.status == Status.DONE.value
        assert row.verdict == Verdict.NO_RESULT.value
        assert row.attempts == 2
