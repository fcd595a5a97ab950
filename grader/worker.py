"""The local worker pool: threads that take submissions off the queue and grade them.

Each thread grades one submission at a time in its own sandboxed process, so
the threads spend their time waiting on pipes and the pool's size is the
number of runs that execute at once. One more thread renews the leases of
running submissions and requeues those whose worker died.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from grader import metrics, queue
from grader.claims import event, grade_claim, log_expired
from grader.errors import SandboxError
from grader.sandbox import Limits, SandboxMode
from grader.warm_pool import Zygote, warm_available

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
    ) -> None:
        self.factory = factory
        # One warm sandbox per slot, used only by that slot's thread and pinned to its CPU.
        self.cpus = {slot: slot_cpu(slot) for slot in range(size)}
        self.zygotes: dict[int, Zygote] = (
            {slot: Zygote(slot, limits, runs_dir / f"warm-{slot}", self.cpus[slot]) for slot in range(size)}
            if warm and warm_available(mode)
            else {}
        )
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
        self._held: dict[int, queue.Claim] = {}
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
        # A warm sandbox still serving a run is left to die with this process (bwrap's
        # --die-with-parent), so that run is not reported as the sandbox's failure.
        busy = {slot for slot, thread in enumerate(self._threads) if thread.is_alive()}
        for slot, zygote in self.zygotes.items():
            if slot not in busy:
                zygote.stop()
        logger.info("worker pool stopped")

    def _work(self, slot: int) -> None:
        zygote = self.zygotes.get(slot)
        if zygote is not None and zygote.cpu is not None:
            os.sched_setaffinity(0, {zygote.cpu})  # On Linux, 0 is this thread alone.
        if zygote is not None:
            try:
                zygote.ensure_started()  # Before the first claim, so no submission waits for it.
            except SandboxError as error:
                logger.error(
                    "worker %d: warm sandbox failed to start, runs start cold until it does: %s", slot, error
                )
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
                grade_claim(
                    self.factory, claim, self.limits, self.mode, self.runs_dir, slot, self.zygotes.get(slot)
                )
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
                    self._held.pop(slot, None)

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


def slot_cpu(slot: int) -> int | None:
    """Return the CPU for worker slot ``slot``: the process's allowed CPUs in turn, or None if unknown."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return allowed[slot % len(allowed)] if allowed else None
