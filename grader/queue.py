"""The submission queue in the database, with leases.

A worker claims the oldest queued submission by setting ``status='running'``
and a fresh ``lease_token`` in one UPDATE, so two workers never claim the same
row. It renews the lease while it grades; the watchdog requeues running rows
whose lease expired (their worker died). Every later write names the lease
token, so only the current holder can store a result or requeue.

Each claim is one UPDATE whose WHERE clause requires ``status='queued'``. On
PostgreSQL under READ COMMITTED, a second transaction that waited for the
row's lock re-checks that clause on the committed row and updates nothing, so
concurrent claims of one row give it to exactly one worker. ``claim_next``
also picks its row with ``FOR UPDATE SKIP LOCKED``, so concurrent workers take
different rows instead of queueing behind one lock. SQLite serialises writers
and ignores the locking clause.

Under Celery (``grader.dispatch``), ``dispatched_at`` records when a task was
last sent for a queued row, so the watchdog can send one for rows that no task
covers.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from grader.evaluator import CaseRecord
from grader.grading import GradeResult
from grader.results import CaseOutcome, finite_or_none, summarize, trajectory_bytes
from grader.verdicts import Verdict
from server.db import transaction
from server.models import CaseResult, Status, Submission, utc_now

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
"""An internal error is retried once; the second one is final."""

MAX_CLAIMS = 3
"""Claims after which an expired lease ends in ``internal_error`` instead of a requeue.

A submission whose run kills its worker process would otherwise be requeued
and kill the next worker forever.
"""


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one running submission."""

    submission_id: int
    lease_token: str
    lab_id: str
    code: str
    attempts: int
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Expired:
    """The outcome of one pass over expired leases: submission ids requeued, and ids given ``internal_error``."""

    requeued: list[int]
    failed: list[int]


def claim_next(factory: sessionmaker[Session], lease_seconds: float) -> Claim | None:
    """Claim a queued submission, or return None if there is none.

    Students with fewer submissions running go first, then the oldest
    submission: one student's many slow submissions cannot hold every
    worker while another student waits.
    """
    queued = aliased(Submission)
    running = aliased(Submission)
    busy = (
        select(func.count())
        .select_from(running)
        .where(running.student_pk == queued.student_pk, running.status == Status.RUNNING.value)
        .scalar_subquery()
    )
    next_up = (
        select(queued.id)
        .where(queued.status == Status.QUEUED.value)
        .order_by(busy, queued.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=queued)
    )
    return _claim_where(factory, Submission.id == next_up.scalar_subquery(), lease_seconds)


def claim(factory: sessionmaker[Session], submission_id: int, lease_seconds: float) -> Claim | None:
    """Claim one submission if it is queued; return None if it is running, done or missing.

    A duplicate or late task for a submission therefore claims nothing.
    """
    return _claim_where(factory, Submission.id == submission_id, lease_seconds)


def _claim_where(factory: sessionmaker[Session], which: Any, lease_seconds: float) -> Claim | None:
    token = secrets.token_hex(16)
    now = utc_now()
    with transaction(factory) as session:
        claimed = session.execute(
            update(Submission)
            .where(which, Submission.status == Status.QUEUED.value)
            .values(
                status=Status.RUNNING.value,
                lease_token=token,
                lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
                attempts=Submission.attempts + 1,
                started_at=now,
            )
            .returning(
                Submission.id, Submission.lab_id, Submission.code, Submission.attempts, Submission.created_at
            )
        ).first()
    if claimed is None:
        return None
    return Claim(claimed.id, token, claimed.lab_id, claimed.code, claimed.attempts, claimed.created_at)


def renew(factory: sessionmaker[Session], tokens: Iterable[str], lease_seconds: float) -> None:
    """Extend the leases of submissions still being graded."""
    tokens = list(tokens)
    if not tokens:
        return
    with transaction(factory) as session:
        session.execute(
            update(Submission)
            .where(Submission.lease_token.in_(tokens), Submission.status == Status.RUNNING.value)
            .values(lease_expires_at=utc_now() + dt.timedelta(seconds=lease_seconds))
        )


def requeue_expired(factory: sessionmaker[Session]) -> Expired:
    """Requeue running submissions whose lease expired, or fail those claimed ``MAX_CLAIMS`` times."""
    now = utc_now()
    expired = (Submission.status == Status.RUNNING.value, Submission.lease_expires_at < now)
    with transaction(factory) as session:
        failed = session.execute(
            update(Submission)
            .where(*expired, Submission.attempts >= MAX_CLAIMS)
            .values(
                status=Status.DONE.value,
                verdict=Verdict.INTERNAL_ERROR.value,
                detail=f"the grader's worker stopped {MAX_CLAIMS} times while grading this submission; "
                "a TA has been told in the logs",
                lease_token=None,
                lease_expires_at=None,
                finished_at=now,
            )
            .returning(Submission.id)
        ).all()
        requeued = session.execute(
            update(Submission)
            .where(*expired)
            .values(status=Status.QUEUED.value, lease_token=None, lease_expires_at=None, dispatched_at=None)
            .returning(Submission.id)
        ).all()
    return Expired(requeued=[row.id for row in requeued], failed=[row.id for row in failed])


def mark_dispatched(factory: sessionmaker[Session], submission_id: int) -> None:
    """Record that a task for a queued submission was just sent."""
    with transaction(factory) as session:
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == Status.QUEUED.value)
            .values(dispatched_at=utc_now())
        )


def clear_dispatched(factory: sessionmaker[Session], submission_ids: list[int]) -> None:
    """Forget the sends recorded for queued submissions whose task could not be sent after all."""
    if not submission_ids:
        return
    with transaction(factory) as session:
        session.execute(
            update(Submission)
            .where(Submission.id.in_(submission_ids), Submission.status == Status.QUEUED.value)
            .values(dispatched_at=None)
        )


def take_undispatched(
    factory: sessionmaker[Session], grace_seconds: float, redispatch_seconds: float
) -> list[int]:
    """Mark queued submissions that no task covers as dispatched now, and return their ids to send.

    A row is uncovered in three cases. It was requeued: it has been claimed
    before and no task was recorded since. No task was recorded
    ``grace_seconds`` after its creation: the API died between its commit and
    the send, or the broker was down. Or its task was sent more than
    ``redispatch_seconds`` ago, and the message may be lost. The rows are marked
    in the same UPDATE that selects them, so two watchdogs never both take one.
    If the caller dies before sending, the row waits ``redispatch_seconds``.
    """
    now = utc_now()
    with transaction(factory) as session:
        rows = session.execute(
            update(Submission)
            .where(
                Submission.status == Status.QUEUED.value,
                or_(
                    and_(
                        Submission.dispatched_at.is_(None),
                        or_(
                            Submission.attempts > 0,
                            Submission.created_at < now - dt.timedelta(seconds=grace_seconds),
                        ),
                    ),
                    Submission.dispatched_at < now - dt.timedelta(seconds=redispatch_seconds),
                ),
            )
            .values(dispatched_at=now)
            .returning(Submission.id)
        ).all()
    return sorted(row.id for row in rows)


def release(factory: sessionmaker[Session], claim: Claim) -> bool:
    """Put a claimed submission back in the queue without charging an attempt."""
    with transaction(factory) as session:
        result = session.execute(
            _current(claim).values(
                status=Status.QUEUED.value,
                lease_token=None,
                lease_expires_at=None,
                dispatched_at=None,
                attempts=Submission.attempts - 1,
            )
        )
    return result.rowcount == 1  # type: ignore[attr-defined]


def fail_internal(factory: sessionmaker[Session], claim: Claim, message: str) -> str:
    """Record the service's own failure: requeue once, then give the final verdict.

    Returns ``"requeued"``, ``"failed"`` or ``"lost"`` (the lease had already expired).
    """
    if claim.attempts < MAX_ATTEMPTS:
        values: dict[str, object] = {
            "status": Status.QUEUED.value,
            "lease_token": None,
            "lease_expires_at": None,
            "dispatched_at": None,
        }
        outcome = "requeued"
    else:
        values = {
            "status": Status.DONE.value,
            "verdict": Verdict.INTERNAL_ERROR.value,
            "detail": "the grader failed twice on this submission; a TA has been told in the logs",
            "lease_token": None,
            "finished_at": utc_now(),
        }
        outcome = "failed"
    with transaction(factory) as session:
        result = session.execute(_current(claim).values(**values))
    return outcome if result.rowcount == 1 else "lost"  # type: ignore[attr-defined]


def complete(
    factory: sessionmaker[Session],
    claim: Claim,
    result: GradeResult,
    outcomes: list[CaseOutcome],
) -> bool:
    """Store a graded result under the claim's lease; return False if the lease was lost.

    ``outcomes`` contains one scored case per case when the verdict is accepted,
    and is empty otherwise.
    """
    scores = summarize(outcomes) if outcomes else {}
    with transaction(factory) as session:
        stored = session.execute(
            _current(claim).values(
                status=Status.DONE.value,
                verdict=result.verdict.value,
                detail=result.detail,
                stdout=result.stdout,
                stderr=result.stderr,
                cpu_seconds=result.cpu_seconds,
                wall_seconds=result.wall_seconds,
                student_cpu_seconds=result.student_cpu_seconds,
                lease_token=None,
                finished_at=utc_now(),
                **scores,
            )
        )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if outcomes:
            # One executemany of plain rows: the ORM's unit of work costs a few milliseconds
            # per submission more, which a burst pays on the CPUs that run the submissions.
            session.execute(
                insert(CaseResult),
                [
                    case_row(claim.submission_id, index, outcome, record)
                    for index, (outcome, record) in enumerate(zip(outcomes, result.records))
                ],
            )
    return True


def case_row(submission_id: int, index: int, outcome: CaseOutcome, record: CaseRecord) -> dict[str, Any]:
    """Return the ``case_results`` row of one scored case, as column values."""
    score = outcome.score
    return dict(
        submission_id=submission_id,
        case_index=index,
        hidden=outcome.hidden,
        seed=outcome.seed,
        final_point=list(score.final_point),
        final_f=finite_or_none(score.final_f),
        gap=finite_or_none(score.gap),
        distance=finite_or_none(score.distance),
        evaluations=score.evaluations,
        evaluations_to_target=list(score.evaluations_to_target),
        reached_global=score.reached_global,
        budget_spent=score.budget_spent,
        scored_on=score.scored_on,
        feedback=outcome.feedback.kind,
        trajectory=trajectory_bytes(record),
    )


def _current(claim: Claim):  # type: ignore[no-untyped-def]
    return update(Submission).where(
        Submission.id == claim.submission_id,
        Submission.lease_token == claim.lease_token,
        Submission.status == Status.RUNNING.value,
    )
