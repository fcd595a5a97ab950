"""The local worker pool: threads that take submissions off the queue and grade them.

Each thread owns a worker slot, a child process that grades one submission
at a time in its sandbox (``grader.slot_process``), so the threads spend
their time waiting, and the pool's size is the number of runs that execute
at once. One more thread renews the leases of running submissions and
requeues those whose worker died.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from grader import metrics, queue
from grader.claims import Outcome, collect_grade, event, log_expired, start_grading, store_outcome
from grader.errors import SandboxError
from grader.sandbox import Limits, SandboxMode
from grader.slot_process import SlotProcess, SlotSettings
from grader.slots import slot_cpu

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
        warm: bool = True,
        log_format: str = "text",
    ) -> None:
        self.factory = factory
        # One slot process per thread, with its warm sandbox, each pinned to a CPU of its own.
        self.slots = {
            number: SlotProcess(
                SlotSettings(number, limits, mode, runs_dir.resolve(), slot_cpu(number), warm, log_format)
            )
            for number in range(size)
        }
        self.size = size
        self.limits = limits
        self.mode = mode
        self.runs_dir = runs_dir
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._keeper_stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._keeper: threading.Thread | None = None
        self._held: dict[int, queue.Claim] = {}  # By submission id: claimed and not yet stored.
        self._held_lock = threading.Lock()

    def start(self) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for slot in range(self.size):
            thread = threading.Thread(target=self._work, args=(slot,), name=f"grader-{slot}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._keeper = threading.Thread(target=self._keep_leases, name="grader-leases", daemon=True)
        self._keeper.start()
        logger.info("worker pool started: %d workers, sandbox %s", self.size, self.mode.value)

    def notify(self) -> None:
        """Wake idle workers at once, for example after a new submission."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """Stop taking work, wait up to ``timeout`` s in all for running grades, requeue the rest.

        The lease keeper goes on renewing until the wait ends, so a grade that
        finishes within ``timeout`` keeps its lease however short the lease is.
        A grade still running is released without charging an attempt. Its
        thread is a daemon that dies with the process, and bwrap's
        ``--die-with-parent`` then kills the sandbox.
        """
        logger.info("worker pool stopping: waiting up to %g s for running grades", timeout)
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._keeper_stopping.set()
        if self._keeper is not None:
            self._keeper.join(5.0)
        with self._held_lock:
            unfinished = list(self._held.values())
        for claim in unfinished:
            if queue.release(self.factory, claim):
                metrics.REQUEUED.labels("shutdown").inc()
                logger.info(
                    "submission %d requeued at shutdown",
                    claim.submission_id,
                    extra=event(claim.submission_id, "requeued"),
                )
        # A slot process still grading is left to die with its thread at this process's exit
        # (PR_SET_PDEATHSIG), so that its run is not reported as the sandbox's failure.
        logger.info("worker pool stopped")

    def _work(self, slot: int) -> None:
        grader = self.slots[slot]
        try:
            grader.start()  # Before the first claim, so no submission waits for the warm sandbox.
        except SandboxError as error:
            logger.error(
                "worker %d: its grading process failed to start, retrying at the first claim: %s", slot, error
            )
        metrics.SANDBOX_STARTS.inc(grader.take_sandbox_starts())
        try:
            self._take_claims(slot, grader)
        finally:
            grader.stop()

    def _take_claims(self, slot: int, grader: SlotProcess) -> None:
        """Grade claims one after another, storing each outcome while the next one runs.

        Storing an outcome takes a commit, which waits for the disk. Claiming
        the next submission and handing it to the slot first keeps the slot's
        CPU busy meanwhile: on a 2-CPU VM the slot otherwise idled about 10 ms
        between submissions.
        """
        graded: tuple[queue.Claim, Outcome] | None = None  # Collected, not yet stored.
        while not self._stopping.is_set():
            claim = self._claim_next(slot)
            failure = start_grading(self.factory, claim, grader) if claim is not None else None
            if graded is not None:
                self._store(slot, *graded)
                graded = None
            if claim is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            graded = (claim, failure or collect_grade(claim, grader))
        if graded is not None:
            self._store(slot, *graded)

    def _claim_next(self, slot: int) -> queue.Claim | None:
        """Claim the next submission and hold its lease, or return None if there is none or the queue failed."""
        try:
            claim = queue.claim_next(self.factory, self.lease_seconds)
        except Exception:
            logger.exception("worker %d could not read the queue; retrying", slot)
            self._stopping.wait(1.0)
            return None
        if claim is not None:
            with self._held_lock:
                self._held[claim.submission_id] = claim
        return claim

    def _store(self, slot: int, claim: queue.Claim, outcome: Outcome) -> None:
        try:
            store_outcome(self.factory, claim, outcome)
        except Exception:
            # Storing the outcome failed, for example because the database is down. The lease
            # expires and the watchdog requeues the submission, so the thread goes on.
            logger.exception(
                "worker %d could not store the outcome of submission %d; its lease will expire",
                slot,
                claim.submission_id,
                extra=event(claim.submission_id, "error"),
            )
        finally:
            with self._held_lock:
                self._held.pop(claim.submission_id, None)

    def _keep_leases(self) -> None:
        interval = self.lease_seconds / 3
        while not self._keeper_stopping.wait(interval):
            try:
                with self._held_lock:
                    tokens = [claim.lease_token for claim in self._held.values()]
                queue.renew(self.factory, tokens, self.lease_seconds)
                if not self._stopping.is_set():
                    expired = queue.requeue_expired(self.factory)
                    log_expired(expired)
                    if expired.requeued:
                        self._wake.set()
            except Exception:
                logger.exception("lease keeper failed; retrying in %.0f s", interval)
