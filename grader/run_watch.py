"""The evaluator's second thread: the runner's output and the wall clock.

The evaluator waits for each evaluation request with one blocking ``read``
of the request pipe. That costs less than waiting on several file
descriptors and then reading, and a run makes up to a thousand evaluations
per case. A blocking read cannot notice a deadline or empty a full stdout
pipe, so ``RunWatch`` does both from a thread of its own:

- it reads the runner's stdout and stderr as they arrive and keeps them up
  to the output limit, so the runner does not stay blocked on a full pipe;
- it ends the run when the deadline passes or the output limit is exceeded.

To end the run it sets ``interrupt`` and wakes the evaluator's read by
writing one byte into the request pipe. It opens a write end for that
through ``/proc/self/fd`` at that moment only: a write end held for the
whole run would keep the pipe from reporting end of file once the runner
exits. The evaluator checks ``interrupt`` after every read, before it
parses what it read, and the byte is only written after ``interrupt`` is
set, so the byte is never parsed as part of a message.

The lock serialises reads of the output pipes with the evaluator's drains at
case boundaries, and expiry with the evaluator's restarts of the clock, so a
deadline that has passed is never moved.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import threading
import time

from grader.errors import SandboxError

logger = logging.getLogger(__name__)

READ_SIZE = 65536
WAKE_RETRY_SECONDS = 0.1


class RunInterrupted(Exception):
    """The watch has ended the run; the evaluator turns this into a verdict."""


class DeadlinePassed(RunInterrupted):
    """Raised when the wall-clock deadline passes before the run ends."""


class OutputLimitExceeded(RunInterrupted):
    """Raised when stdout and stderr together exceed the output limit."""


class RunWatch:
    """Read one runner's output and keep its deadline, on a thread of its own.

    Parameters
    ----------
    request_fd : int
        The evaluator's read end of the request pipe, in blocking mode. The
        watch writes one byte into it to wake the evaluator.
    stdout_fd, stderr_fd : int
        The read ends of the runner's output pipes. The watch sets them to
        non-blocking mode. The caller closes them after ``stop``.
    output_limit : int
        Bytes of stdout and stderr together that a run may print.
    """

    def __init__(self, request_fd: int, stdout_fd: int, stderr_fd: int, output_limit: int) -> None:
        self.request_fd = request_fd
        self.output_limit = output_limit
        self.stdout = b""
        self.stderr = b""
        self.output_total = 0
        self.keeps_output = True
        self.interrupt: RunInterrupted | None = None
        self._streams = {stdout_fd: "stdout", stderr_fd: "stderr"}
        for fd in self._streams:
            os.set_blocking(fd, False)
        self._deadline = 0.0
        self._lock = threading.Lock()
        self._stop_fd = -1
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> None:
        """Start the thread with a deadline ``seconds`` from now."""
        self._deadline = time.monotonic() + seconds
        self._stop_fd = os.eventfd(0, os.EFD_CLOEXEC)
        self._thread = threading.Thread(target=self._watch, name="run-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it; the watch then reads only when ``drain`` is called."""
        if self._thread is not None:
            os.eventfd_write(self._stop_fd, 1)
            self._thread.join()
            self._thread = None
        if self._stop_fd >= 0:
            os.close(self._stop_fd)
            self._stop_fd = -1

    def restart_clock(self, seconds: float) -> None:
        """Move the deadline to ``seconds`` from now, unless the run has already been interrupted.

        Raises
        ------
        RunInterrupted
            The interrupt already set, so that a deadline that passed is never moved.
        """
        with self._lock:
            if self.interrupt is not None:
                raise self.interrupt
            self._deadline = time.monotonic() + seconds

    def drain(self, hide_later_output: bool = False) -> None:
        """Read what the runner has written so far, then optionally stop keeping later output.

        The runner flushes its output before each report, so a drain at a
        report reads everything printed before it.

        Raises
        ------
        OutputLimitExceeded
            If the output so far, read here or by the thread, exceeds the limit.
        """
        with self._lock:
            for fd in self._streams:
                while self._read(fd):
                    pass
            if self.output_total > self.output_limit:
                raise OutputLimitExceeded()  # Found by the watch's thread, which reads no more after it.
            if hide_later_output:
                self.keeps_output = False

    def _watch(self) -> None:
        try:
            with select.epoll(3) as poller:
                for fd in self._streams:
                    poller.register(fd, select.EPOLLIN)
                poller.register(self._stop_fd, select.EPOLLIN)
                self._serve(poller)
        except Exception as error:
            # Re-raised in the evaluator's thread, which fails the run as the service's error.
            logger.exception("the run's output watch failed")
            with self._lock:
                self.interrupt = RunInterrupted(f"the run's output watch failed: {error}")
        if self.interrupt is not None:
            self._wake_evaluator()

    def _serve(self, poller: select.epoll) -> None:
        """Read output until the run is interrupted or the watch is stopped."""
        while True:
            with self._lock:
                timeout = self._deadline - time.monotonic()
                if timeout <= 0:
                    self.interrupt = DeadlinePassed()
                    return
            for fd, _ in poller.poll(timeout):
                if fd == self._stop_fd:
                    return
                with self._lock:
                    try:
                        chunk = self._read(fd)
                    except OutputLimitExceeded as exceeded:
                        self.interrupt = exceeded
                        return
                if chunk == b"":
                    poller.unregister(fd)  # The runner closed it; the clock still runs.

    def _read(self, fd: int) -> bytes | None:
        """Read once from an output pipe and keep what fits: ``b""`` at end of file, None if empty."""
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return None
        self.output_total += len(chunk)
        if self.keeps_output:
            room = max(self.output_limit - len(self.stdout) - len(self.stderr), 0)
            if self._streams[fd] == "stdout":
                self.stdout += chunk[:room]
            else:
                self.stderr += chunk[:room]
        if self.output_total > self.output_limit:
            raise OutputLimitExceeded()
        return chunk

    def _wake_evaluator(self) -> None:
        """Write the wake-up byte, retrying every ``WAKE_RETRY_SECONDS`` until it is written or the watch is stopped."""
        path = f"/proc/self/fd/{self.request_fd}"
        stop = select.poll()
        stop.register(self._stop_fd, select.POLLIN)
        failures = 0
        while True:
            try:
                wake_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as error:
                # A blocked evaluator has no other way out, so an open that fails (EMFILE, say) is retried.
                if failures == 0:
                    logger.error(
                        "the run's watch could not reopen %s to wake the evaluator, retrying: %s", path, error
                    )
                failures += 1
                if stop.poll(WAKE_RETRY_SECONDS * 1000):
                    return
                continue
            try:
                os.write(wake_fd, b"\0")
            except BlockingIOError:
                pass  # The pipe is full, so the evaluator's next read returns at once and checks the interrupt.
            finally:
                os.close(wake_fd)
            return


@functools.cache
def _proc_reopens_pipes() -> bool:
    read_fd, write_fd = os.pipe()
    try:
        os.close(os.open(f"/proc/self/fd/{read_fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except OSError:
        return False
    finally:
        os.close(read_fd)
        os.close(write_fd)
    return True


def check_wake_available() -> None:
    """Raise ``SandboxError`` unless a watch can wake the evaluator, which a run cannot do without."""
    if not _proc_reopens_pipes():
        raise SandboxError(
            "the evaluator cannot reopen its pipes through /proc/self/fd, which it needs to end a "
            "run at its deadline; run the worker with procfs mounted at /proc"
        )
