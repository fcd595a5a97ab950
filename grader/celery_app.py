"""The Celery app of the scale-out deployment: the grading task and the worker's hooks.

Start a worker with ``python -m grader.celery_worker``, which also sets up
metrics for the pool's processes. ``celery -A grader.celery_app worker``
grades the same way but exports no per-run metrics. The app reads the same
settings as the API (``server.config.Settings``) when this module is
imported, and needs ``GRADEDESCENT_BROKER_URL`` or ``BROKER_URL``.

Each pool process grades one submission at a time with its own database
engine. The worker's main process runs the watchdog (``grader.dispatch``).
"""

from __future__ import annotations

import atexit
import logging
import os
from typing import Any

from celery import signals
from celery.utils.log import current_process_index
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from grader import queue, sandbox
from grader.claims import LeaseRenewal, event, grade_claim
from grader.dispatch import TASK_NAME, Dispatcher, Watchdog, make_celery
from grader.errors import SandboxError
from grader.sandbox import SandboxMode
from grader.slots import Slot
from server.config import Settings
from server.db import make_engine, make_session_factory
from server.logs import configure_logging

logger = logging.getLogger(__name__)

settings = Settings()
if not settings.broker_url:
    raise RuntimeError(
        "no broker configured: set GRADEDESCENT_BROKER_URL or BROKER_URL to the Redis URL, "
        "for example redis://127.0.0.1:6379/0"
    )
app = make_celery(settings.broker_url)

_engine: Engine | None = None
_engine_pid = 0
_watchdog: Watchdog | None = None
_watchdog_engine: Engine | None = None


_slot: Slot | None = None


def process_slot(number: int) -> Slot:
    """Return this pool process's worker slot, created on first use, with its warm sandbox."""
    global _slot
    if _slot is None or _slot.number != number:
        if _slot is not None:
            _slot.stop()
        _slot = Slot(
            number,
            settings.limits,
            settings.sandbox,
            settings.runs_dir,
            warm=settings.warm_pool,
            warm_dir=settings.runs_dir / f"warm-{number}-{os.getpid()}",
        )
    return _slot


@atexit.register
def _stop_slot() -> None:
    if _slot is not None:
        _slot.stop()


def session_factory() -> sessionmaker[Session]:
    """Return this process's session factory, creating its engine on first use after a fork."""
    global _engine, _engine_pid
    if _engine is None or _engine_pid != os.getpid():
        _engine = make_engine(settings.resolved_database_url)
        _engine_pid = os.getpid()
    return make_session_factory(_engine)


@app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def grade_submission(submission_id: int) -> str:
    """Claim the submission and grade it; a task whose claim fails does nothing.

    Returns the outcome: ``"skipped"`` or one of ``grader.claims.grade_claim``'s.
    """
    factory = session_factory()
    claim = queue.claim(factory, submission_id, settings.lease_seconds)
    if claim is None:
        logger.info(
            "submission %d: task skipped, the submission is not queued (a duplicate or late task)",
            submission_id,
            extra=event(submission_id, "skipped"),
        )
        return "skipped"
    # Pool process n grades as sandbox slot n, so the runs of one worker have different uids.
    # NOTE: a second worker on the same machine reuses slots 0, 1, ... (see docs/deployment.md).
    slot = current_process_index(base=0) or 0
    with LeaseRenewal(factory, claim, settings.lease_seconds):
        return grade_claim(factory, claim, process_slot(slot))


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting here keeps Celery from installing its own handlers.
    configure_logging(settings.log_format)


@signals.worker_init.connect
def _check_worker_host(**_: Any) -> None:
    try:
        sandbox.check_available(settings.sandbox)
    except SandboxError as error:
        # Celery logs and ignores an Exception from a signal handler, but not SystemExit: a worker
        # that cannot sandbox must not take tasks.
        raise SystemExit(f"gradedescent worker: {error}") from None
    if settings.sandbox is SandboxMode.NONE:
        logger.warning(
            "GRADEDESCENT_SANDBOX=none: student code runs without isolation; use this for local experiments only"
        )
    settings.runs_dir.mkdir(parents=True, exist_ok=True)


@signals.worker_ready.connect
def _start_watchdog(**_: Any) -> None:
    global _watchdog, _watchdog_engine
    _watchdog_engine = make_engine(settings.resolved_database_url)
    dispatcher = Dispatcher(app, make_session_factory(_watchdog_engine))
    _watchdog = Watchdog(dispatcher, settings.watchdog_interval, settings.redispatch_seconds)
    _watchdog.start()


@signals.worker_process_init.connect
def _forget_parent_connections(**_: Any) -> None:
    # A pool process forked after the watchdog connected must not close the parent's connections.
    if _watchdog_engine is not None:
        _watchdog_engine.dispose(close=False)


@signals.worker_shutdown.connect
def _stop_watchdog(**_: Any) -> None:
    if _watchdog is not None:
        _watchdog.stop()
