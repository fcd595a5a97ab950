"""Grade one claimed submission and store its outcome under the claim's lease.

The Celery task (``grader.celery_app``) grades through ``grade_claim``. The
local pool (``grader.worker``) calls its three steps, ``start_grading``,
``collect_grade`` and ``store_outcome``, itself, so that it stores one
outcome while its slot already runs the next submission. Each state change
is logged with the extra fields ``submission_id`` and ``event``, which the
JSON log format (``GRADEDESCENT_LOG_FORMAT=json``) writes as keys of their own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from grader import metrics, queue
from grader.errors import GraderError
from grader.grading import GradeResult
from grader.slots import Grader
from server.db import transaction
from server.lab_settings import grading_cases
from server.models import utc_now

logger = logging.getLogger(__name__)


def event(submission_id: int, name: str) -> dict[str, object]:
    """Return the ``extra`` of a log record about a submission's state change."""
    return {"submission_id": submission_id, "event": name}


@dataclass(frozen=True)
class GraderFailure:
    """The service's own failure to grade a submission, stored as an internal error."""

    message: str


Outcome = GradeResult | GraderFailure


def grade_claim(factory: sessionmaker[Session], claim: queue.Claim, grader: Grader) -> str:
    """Grade ``claim``'s submission with ``grader``, a worker slot, and store the verdict.

    Returns what ``store_outcome`` returns.
    """
    failure = start_grading(factory, claim, grader)
    return store_outcome(factory, claim, failure or collect_grade(claim, grader))


def start_grading(factory: sessionmaker[Session], claim: queue.Claim, grader: Grader) -> GraderFailure | None:
    """Hand ``claim``'s submission to ``grader`` with its cases; return the failure if that failed."""
    submission_id = claim.submission_id
    logger.info(
        "submission %d running (attempt %d, slot %d)",
        submission_id,
        claim.attempts,
        grader.number,
        extra=event(submission_id, "running"),
    )
    try:
        with transaction(factory) as session:
            cases, seeds = grading_cases(session, claim.lab_id)
        grader.submit(claim.code, claim.lab_id, cases, seeds, first_attempt=claim.attempts == 1)
    except Exception as error:
        return _failure(claim, error)
    return None


def collect_grade(claim: queue.Claim, grader: Grader) -> Outcome:
    """Wait for the grade that ``start_grading`` handed to ``grader``."""
    try:
        return grader.collect()
    except Exception as error:
        return _failure(claim, error)
    finally:
        metrics.SANDBOX_STARTS.inc(grader.take_sandbox_starts())


def _failure(claim: queue.Claim, error: Exception) -> GraderFailure:
    if isinstance(error, (GraderError, OSError)):
        return GraderFailure(str(error))
    logger.error(
        "submission %d: unexpected grader failure",
        claim.submission_id,
        exc_info=error,
        extra=event(claim.submission_id, "error"),
    )
    return GraderFailure(f"unexpected grader failure: {error!r}")


def store_outcome(factory: sessionmaker[Session], claim: queue.Claim, outcome: Outcome) -> str:
    """Store a graded result, or an internal error, under ``claim``'s lease.

    Returns ``"done"``; ``"requeued"`` or ``"failed"`` after an internal error
    (see ``queue.fail_internal``); or ``"lost"`` when the lease expired first
    and the outcome was discarded.
    """
    if isinstance(outcome, GraderFailure):
        return _internal_error(factory, claim, outcome.message)
    submission_id = claim.submission_id
    metrics.RUN_WALL.observe(outcome.wall_seconds)
    if not queue.complete(factory, claim, outcome, outcome.outcomes):
        logger.warning(
            "submission %d: lease lost, result discarded; the submission was requeued for another worker",
            submission_id,
            extra=event(submission_id, "lease_lost"),
        )
        return "lost"
    metrics.GRADED.labels(outcome.verdict.value).inc()
    if claim.created_at is not None:
        metrics.LATENCY.observe((utc_now() - claim.created_at).total_seconds())
    logger.info(
        "submission %d done: %s", submission_id, outcome.verdict.value, extra=event(submission_id, "done")
    )
    return "done"


def _internal_error(factory: sessionmaker[Session], claim: queue.Claim, message: str) -> str:
    submission_id = claim.submission_id
    outcome = queue.fail_internal(factory, claim, message)
    if outcome == "requeued":
        metrics.REQUEUED.labels("internal_error").inc()
    elif outcome == "failed":
        metrics.GRADED.labels("internal_error").inc()
    logger.error(
        "submission %d internal error, %s: %s",
        submission_id,
        outcome,
        message,
        extra=event(submission_id, "internal_error"),
    )
    return outcome


def log_expired(expired: queue.Expired) -> None:
    """Log and count what ``queue.requeue_expired`` did."""
    for submission_id in expired.requeued:
        metrics.REQUEUED.labels("lease_expired").inc()
        logger.warning(
            "submission %d requeued: its worker's lease expired",
            submission_id,
            extra=event(submission_id, "requeued"),
        )
    for submission_id in expired.failed:
        metrics.GRADED.labels("internal_error").inc()
        logger.error(
            "submission %d failed: its worker stopped %d times while grading it",
            submission_id,
            queue.MAX_CLAIMS,
            extra=event(submission_id, "internal_error"),
        )


class LeaseRenewal:
    """Renew one claim's lease from a daemon thread while the ``with`` block runs.

    The lease is renewed every third of ``lease_seconds``, so it expires only
    when the process stops renewing (it died or hung) for two thirds of it.
    """

    def __init__(self, factory: sessionmaker[Session], claim: queue.Claim, lease_seconds: float) -> None:
        self.factory = factory
        self.claim = claim
        self.lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim.submission_id}", daemon=True)

    def __enter__(self) -> LeaseRenewal:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self.lease_seconds / 3
        while not self._stop.wait(interval):
            try:
                queue.renew(self.factory, [self.claim.lease_token], self.lease_seconds)
            except Exception:
                logger.exception(
                    "submission %d: could not renew the lease; retrying in %.1f s",
                    self.claim.submission_id,
                    interval,
                    extra=event(self.claim.submission_id, "renew_failed"),
                )
