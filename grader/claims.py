"""Grade one claimed submission and store its outcome under the claim's lease.

The local pool (``grader.worker``) and the Celery task (``grader.celery_app``)
both grade through ``grade_claim``. Each state change is logged with the
extra fields ``submission_id`` and ``event``, which the JSON log format
(``GRADEDESCENT_LOG_FORMAT=json``) writes as keys of their own.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from grader import metrics, queue
from grader.errors import GraderError
from grader.slots import Grader
from server.db import transaction
from server.lab_settings import grading_cases
from server.models import utc_now

logger = logging.getLogger(__name__)


def event(submission_id: int, name: str) -> dict[str, object]:
    """Return the ``extra`` of a log record about a submission's state change."""
    return {"submission_id": submission_id, "event": name}


def grade_claim(factory: sessionmaker[Session], claim: queue.Claim, grader: Grader) -> str:
    """Grade ``claim``'s submission with ``grader``, a worker slot, and store the verdict.

    Returns ``"done"``; ``"requeued"`` or ``"failed"`` after an internal error
    (see ``queue.fail_internal``); or ``"lost"`` when the lease expired first
    and the outcome was discarded.
    """
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
        result = grader.grade(claim.code, claim.lab_id, cases, seeds, first_attempt=claim.attempts == 1)
    except (GraderError, OSError) as error:
        return _internal_error(factory, claim, str(error))
    except Exception as error:
        logger.exception(
            "submission %d: unexpected grader failure", submission_id, extra=event(submission_id, "error")
        )
        return _internal_error(factory, claim, f"unexpected grader failure: {error!r}")
    finally:
        metrics.SANDBOX_STARTS.inc(grader.take_sandbox_starts())

    metrics.RUN_WALL.observe(result.wall_seconds)
    if not queue.complete(factory, claim, result, result.outcomes):
        logger.warning(
            "submission %d: lease lost, result discarded; the submission was requeued for another worker",
            submission_id,
            extra=event(submission_id, "lease_lost"),
        )
        return "lost"
    metrics.GRADED.labels(result.verdict.value).inc()
    if claim.created_at is not None:
        metrics.LATENCY.observe((utc_now() - claim.created_at).total_seconds())
    logger.info(
        "submission %d done: %s", submission_id, result.verdict.value, extra=event(submission_id, "done")
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
