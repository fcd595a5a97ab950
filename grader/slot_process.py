"""A worker slot in a child process of its own, so that its evaluator has a GIL to itself.

The evaluator replies to every ``func`` call of a run, thousands per
submission, with a few microseconds of Python each. In the API's process it
waits for the GIL whenever a request handler or another slot's evaluator
holds it, and the run waits with it. So the local pool starts one child per
slot (``python -m grader.slot_process``), which owns the slot's warm sandbox
and grades there. The pool's thread only claims, stores and renews.

The child dies with the thread that started it (``PR_SET_PDEATHSIG``), and
its warm sandbox dies with the child (bwrap's ``--die-with-parent``). It
ignores SIGINT and SIGTERM, so a Ctrl-C or a SIGTERM to the process group
lets the pool finish its running grades as it does for a SIGTERM of its own.

Messages go over a socket pair as pickles (``multiprocessing.connection``),
between two trusted processes: the settings first, then for each grade a
request ``(code, lab_id, cases, seeds, first_attempt)`` and a reply
``(kind, value, sandbox_starts)`` with ``kind`` ``"result"`` or ``"error"``.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from grader.errors import GraderError, SandboxError
from grader.grading import GradeResult
from grader.sandbox import Limits, SandboxMode
from grader.slots import Slot
from reference.labs import Instance
from server.logs import configure_logging

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 120.0
"""Time for the child's imports plus a warm sandbox's start (at most 60 s, ``warm_pool``)."""
GRADE_SLACK_SECONDS = 120.0
"""Added to the run's own wall-time limits before a silent child counts as hung."""
STOP_TIMEOUT_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class SlotSettings:
    """The settings the child builds its ``Slot`` from: the ``Slot`` arguments and the log format."""

    number: int
    limits: Limits
    mode: SandboxMode
    runs_dir: Path
    cpu: int | None = None
    warm: bool = True
    log_format: str = "text"


class SlotProcess:
    """A ``Slot`` that grades in a child process, with the same methods. Use it from one thread only.

    Start it from the thread that grades with it: the child is killed when
    that thread ends.
    """

    def __init__(self, settings: SlotSettings) -> None:
        self.settings = settings
        self.number = settings.number
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._new_starts = 0
        self._timeout = GRADE_SLACK_SECONDS

    @property
    def pid(self) -> int | None:
        """The child's process id, or None while it is not running."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child and wait until its warm sandbox is up; raises ``SandboxError`` if it cannot start."""
        self.stop()
        ours, theirs = socket.socketpair()

        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
        )
        # The child's NumPy works on arrays of a few thousand numbers, so math-library threads
        # would gain nothing and only compete with the runs for the CPUs.
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            environment.setdefault(name, "1")
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "grader.slot_process", str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=environment,
            )
        except OSError as error:
            ours.close()
            raise SandboxError(
                f"could not start the grading process of slot {self.number}: {error}"
            ) from error
        finally:
            theirs.close()

        self._connection = Connection(ours.detach())
        self._send(self.settings)
        kind, value = self._receive(START_TIMEOUT_SECONDS)
        if kind != "ready":
            self.stop()
            raise SandboxError(f"the grading process of slot {self.number} sent {kind!r} instead of 'ready'")

    def grade(
        self, code: str, lab_id: str, cases: list[Instance], seeds: list[int | None], first_attempt: bool
    ) -> GradeResult:
        """Grade as ``Slot.grade`` does, in the child."""
        self.submit(code, lab_id, cases, seeds, first_attempt)
        return self.collect()

    def submit(
        self, code: str, lab_id: str, cases: list[Instance], seeds: list[int | None], first_attempt: bool
    ) -> None:
        """Send one submission to the child, starting the child again first if it has died."""
        if self._process is None or self._process.poll() is not None:
            if self._process is not None:
                logger.warning(
                    "the grading process of slot %d exited with status %s; starting it again",
                    self.number,
                    self._process.returncode,
                )
            self.start()
        self._send((code, lab_id, cases, seeds, first_attempt))
        self._timeout = (len(cases) + 2) * self.settings.limits.wall_time + GRADE_SLACK_SECONDS

    def collect(self) -> GradeResult:
        """Wait for the grade of the submission ``submit`` sent; raises ``GraderError`` as ``Slot.grade`` does."""
        kind, value = self._receive(self._timeout)
        if kind == "result" and isinstance(value, GradeResult):
            return value
        if kind == "error" and isinstance(value, GraderError):
            raise value
        self.stop()
        raise SandboxError(f"the grading process of slot {self.number} sent an invalid reply ({kind!r})")

    def take_sandbox_starts(self) -> int:
        """Return how many sandboxes the child started since the last call."""
        new, self._new_starts = self._new_starts, 0
        return new

    def stop(self) -> None:
        """Ask the child to stop its sandbox and exit; kill it if it has not within ``STOP_TIMEOUT_SECONDS``."""
        if self._connection is not None:
            self._connection.close()  # The child exits at the end of file.
            self._connection = None
        if self._process is not None:
            try:
                self._process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("the grading process of slot %d did not exit; killing it", self.number)
                self._process.kill()
                self._process.wait()
            self._process = None

    def _send(self, message: Any) -> None:
        assert self._connection is not None
        try:
            self._connection.send(message)
        except OSError as error:
            self._kill()
            raise SandboxError(f"the grading process of slot {self.number} is gone: {error}") from error

    def _receive(self, timeout: float) -> tuple[str, Any]:
        """Return the next reply's kind and value, counting the sandboxes it reports as started."""
        assert self._connection is not None
        try:
            if not self._connection.poll(timeout):
                self._kill()
                raise SandboxError(
                    f"the grading process of slot {self.number} did not reply within {timeout:g} s"
                )
            kind, value, starts = self._connection.recv()
        except (EOFError, OSError) as error:
            status = self._kill()
            raise SandboxError(
                f"the grading process of slot {self.number} exited (status {status}): {error!r}"
            ) from error
        self._new_starts += int(starts)
        return str(kind), value

    def _kill(self) -> int | None:
        """Kill the child and its sandbox at once; return its exit status."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is None:
            return None
        self._process.kill()
        status = self._process.wait()
        self._process = None
        return status


def _serve(connection: Connection, slot: Slot) -> None:
    """Grade each request from ``connection`` until it closes."""
    while True:
        try:
            code, lab_id, cases, seeds, first_attempt = connection.recv()
        except EOFError:
            return
        reply: tuple[str, Any]
        gc.disable()
        try:
            reply = ("result", slot.grade(code, lab_id, cases, seeds, first_attempt))
        except GraderError as error:
            reply = ("error", error)
        except OSError as error:
            reply = ("error", SandboxError(f"the grader failed: {error}"))
        except Exception as error:
            logger.exception("slot %d: unexpected grader failure", slot.number)
            reply = ("error", GraderError(f"unexpected grader failure: {error!r}"))
        finally:
            gc.enable()
        connection.send((*reply, slot.take_sandbox_starts()))


def main(argv: list[str]) -> None:
    connection_fd, parent_pid = int(argv[1]), int(argv[2])
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        return  # The parent ended before the death signal was set.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    connection = Connection(connection_fd)
    settings: SlotSettings = connection.recv()
    configure_logging(settings.log_format)
    if settings.cpu is not None:
        # The warm sandbox's runs are pinned to this CPU too: a round trip between the run and
        # this process's evaluator then costs a context switch instead of a wake-up elsewhere.
        os.sched_setaffinity(0, {settings.cpu})
    slot = Slot(
        settings.number, settings.limits, settings.mode, settings.runs_dir, settings.cpu, settings.warm
    )
    slot.start()
    connection.send(("ready", None, slot.take_sandbox_starts()))
    try:
        _serve(connection, slot)
    finally:
        slot.stop()


if __name__ == "__main__":
    main(sys.argv)
