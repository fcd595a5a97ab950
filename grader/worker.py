"""The local worker pool: threads that take submissions off the queue and grade them.

Each thread grades one submission at a time in its own sandboxed process, so
the threads spend their time waiting on pipes and the pool's size is the
number of runs that execute at once. One more thread renews the leases of
running submissions and requeues those whose worker died.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from grader import queue
from grader.errors import GraderError
from grader.grading import grade
from grader.sandbox import Limits, SandboxMode
from reference.labs import get_lab
from server.db import transaction
from server.lab_settings import grading_cases

logger = logging.getLogger(__name__)


class WorkerPool:
    """Grade queued submissions with ``size`` threads until ``stop`` is called."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        size: int,
        limits: Limits,
        mode: SandboxMode,
        runs_dir: Path,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.factory = factory
        self.size = size
        self.limits = limits
        self.mode = mode
        self.runs_dir = runs_dir
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._held: dict[int, queue.Claim] = {}
        self._held_lock = threading.Lock()

    def start(self) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for slot in range(self.size):
            thread = threading.Thread(target=self._work, args=(slot,), name=f"grader-{slot}", daemon=True)
            thread.start()
            self._threads.append(thread)
        keeper = threading.Thread(target=self._keep_leases, name="grader-leases", daemon=True)
        keeper.start()
        self._threads.append(keeper)
        logger.info("worker pool started: %d workers, sandbox %s", self.size, self.mode.value)

    def notify(self) -> None:
        """Wake idle workers at once, for example after a new submission."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """Stop taking work, wait up to ``timeout`` s for running grades, requeue the rest."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        with self._held_lock:
            unfinished = list(self._held.values())
        for claim in unfinished:
            if queue.release(self.factory, claim):
                logger.info("submission %d requeued at shutdown", claim.submission_id)
        logger.info("worker pool stopped")

    def _work(self, slot: int) -> None:
        while not self._stopping.is_set():
            try:
                claim = queue.claim_next(self.factory, self.lease_seconds)
            except Exception:
                logger.exception("worker %d could not read the queue; retrying", slot)
                self._stopping.wait(1.0)
                continue
            if claim is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            with self._held_lock:
                self._held[slot] = claim
            try:
                self._grade(slot, claim)
            finally:
                with self._held_lock:
                    self._held.pop(slot, None)

    def _grade(self, slot: int, claim: queue.Claim) -> None:
        logger.info(
            "submission %d running (attempt %d, worker %d)", claim.submission_id, claim.attempts, slot
        )
        lab = get_lab(claim.lab_id)
        try:
            with transaction(self.factory) as session:
                cases, seeds = grading_cases(session, lab.lab_id)
            result = grade(
                claim.code,
                lab,
                cases,
                self.limits,
                self.mode,
                slot=slot,
                work_root=self.runs_dir,
                seeds=seeds,
            )
        except (GraderError, OSError) as error:
            outcome = queue.fail_internal(self.factory, claim, str(error))
            logger.error("submission %d internal error, %s: %s", claim.submission_id, outcome, error)
            return
        except Exception:
            logger.exception("submission %d: unexpected grader failure", claim.submission_id)
            queue.fail_internal(self.factory, claim, "unexpected grader failure")
            return

        if queue.complete(self.factory, claim, result, result.outcomes):
            logger.info("submission %d done: %s", claim.submission_id, result.verdict.value)
        else:
            logger.warning("submission %d: lease lost, result discarded", claim.submission_id)

    def _keep_leases(self) -> None:
        interval = self.lease_seconds / 3
        while not self._stopping.wait(interval):
            try:
                with self._held_lock:
                    tokens = [claim.lease_token for claim in self._held.values()]
                queue.renew(self.factory, tokens, self.lease_seconds)
                for submission_id in queue.requeue_expired(self.factory):
                    logger.warning("submission %d requeued: its worker's lease expired", submission_id)
                    self._wake.set()
            except Exception:
                logger.exception("lease keeper failed; retrying in %.0f s", interval)
