"""Celery tasks as nudges: send one per queued submission, and a watchdog for the ones lost.

The database stays the source of truth. A task carries only a submission id.
The worker that receives it claims the row through ``grader.queue`` and grades
it only if the claim succeeds, so a duplicate, late or redelivered task does
nothing. The broker may therefore lose or repeat messages: the watchdog, which
runs in every Celery worker's main process, requeues expired leases and sends
a task for each queued row that no task covers (``queue.take_undispatched``).
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from kombu.exceptions import KombuError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from grader import queue
from grader.claims import event, log_expired

logger = logging.getLogger(__name__)

TASK_NAME = "gradedescent.grade"
QUEUE_NAME = "grading"

DISPATCH_GRACE_SECONDS = 10.0
"""How long after its creation a queued row with no recorded task counts as uncovered.

The API records the send right after it. This margin keeps the watchdog from
sending a second task while the API is between its commit and its send.
"""

VISIBILITY_TIMEOUT_SECONDS = 3600
"""Redis redelivers a task that no worker acknowledged within this time.

Tasks are acknowledged when they end (``acks_late``), so a grade that runs
longer is delivered again. The second delivery finds the row running or done
and does nothing.
"""


def make_celery(broker_url: str) -> Celery:
    """Create the Celery app that the API sends with and the workers consume from."""
    app = Celery("gradedescent", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE_NAME,
        # Acknowledge after the task ends, and put the message back if the pool process dies, so a task
        # whose worker died before it claimed the row is delivered again at once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        # Each pool process reserves one task at a time, so a backlog spreads over all workers.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        # The API sends from a request: give up after about 2 s and leave the row to the watchdog.
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        broker_connection_timeout=2,
    )
    return app


class Dispatcher:
    """Send grading tasks for queued submissions and record each send in the database."""

    def __init__(self, app: Celery, factory: sessionmaker[Session]) -> None:
        self.app = app
        self.factory = factory

    def send(self, submission_id: int) -> bool:
        """Send a task for a newly committed submission; return False if it could not be sent.

        A failure is logged, not raised: the row is stored, and the watchdog
        sends its task ``DISPATCH_GRACE_SECONDS`` after its creation.
        """
        if not self.publish(submission_id):
            return False
        try:
            queue.mark_dispatched(self.factory, submission_id)
        except SQLAlchemyError as error:
            # The task was sent, so the duplicate that the watchdog sends later does nothing.
            logger.error(
                "submission %d: task sent but not recorded: %s",
                submission_id,
                error,
                extra=event(submission_id, "dispatch_unrecorded"),
            )
        return True

    def publish(self, submission_id: int) -> bool:
        """Send a task without recording it; return False if the broker could not take it."""
        try:
            self.app.send_task(TASK_NAME, args=[submission_id])
        except (KombuError, OSError) as error:
            logger.error(
                "submission %d: could not send its grading task to the broker: %s; "
                "a worker's watchdog sends it once the broker is back",
                submission_id,
                error,
                extra=event(submission_id, "dispatch_failed"),
            )
            return False
        logger.info(
            "submission %d: grading task sent", submission_id, extra=event(submission_id, "dispatched")
        )
        return True


class Watchdog:
    """A daemon thread that requeues expired leases and sends tasks for uncovered queued rows.

    Every Celery worker runs one. Each pass is a few conditional UPDATEs, so
    watchdogs in many workers take each row at most once between them.
    """

    def __init__(self, dispatcher: Dispatcher, interval: float, redispatch_seconds: float) -> None:
        self.dispatcher = dispatcher
        self.interval = interval
        self.redispatch_seconds = redispatch_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grader-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()
        logger.info("watchdog started: a pass every %.1f s", self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)
        logger.info("watchdog stopped")

    def run_once(self) -> list[int]:
        """Make one pass and return the ids whose task it sent."""
        factory = self.dispatcher.factory
        log_expired(queue.requeue_expired(factory))
        taken = queue.take_undispatched(factory, DISPATCH_GRACE_SECONDS, self.redispatch_seconds)
        sent = []
        for submission_id in taken:
            # After one failure the broker is likely down: stop here rather than wait out every retry.
            if not self.dispatcher.publish(submission_id):
                break
            sent.append(submission_id)
        # The next pass retries the rows that were not sent.
        queue.clear_dispatched(factory, taken[len(sent) :])
        if taken:
            logger.info(
                "watchdog sent tasks for %d of %d uncovered queued submissions", len(sent), len(taken)
            )
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                logger.exception("watchdog pass failed; retrying in %.1f s", self.interval)
