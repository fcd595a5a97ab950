"""Warm sandboxes: one fork server (``zygote.py``) per worker slot, on the trusted side.

A cold run starts bwrap, Python, NumPy and torch for every submission: about
2 s of CPU before any student code runs. A ``Zygote`` starts one sandbox with
those imports done and forks a fresh process in it for each run (see the
theory of operation in ``zygote.py``). Each run keeps its own process,
working directory, resource limits, pipes and verdict; the sandbox's
namespaces, mounts, uid and capabilities are the cold sandbox's.

A zygote that dies, stops responding or breaks the protocol is killed with its
sandbox and started again for the next run. The run it served raises
``SandboxError``, an internal error, and the worker grades that submission
again in a cold sandbox.
"""

from __future__ import annotations

import array
import json
import logging
import os
import select
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

from grader import sandbox
from grader.errors import SandboxError
from grader.sandbox import Limits, SandboxMode

logger = logging.getLogger(__name__)

ZYGOTE_SOURCE = Path(__file__).with_name("zygote.py")
START_TIMEOUT_SECONDS = 60.0
RETRY_AFTER_SECONDS = 60.0
"""After a failed start, runs go cold for this long before the zygote is tried again."""
ANSWER_TIMEOUT_SECONDS = 5.0
MAX_MESSAGE_BYTES = 4096


def run_limits(limits: Limits) -> dict[str, list[int]]:
    """Return the ``[soft, hard]`` rlimits a forked run sets on itself, by ``resource`` constant name.

    They match the cold sandbox's ``prlimit``: the CPU limit's hard value is one
    second above its soft value, so a run over it gets SIGXCPU first.
    """
    return {
        "RLIMIT_CPU": [limits.cpu_time, limits.cpu_time + 1],
        "RLIMIT_AS": [limits.memory, limits.memory],
        "RLIMIT_FSIZE": [limits.file_size, limits.file_size],
        "RLIMIT_NOFILE": [limits.open_files, limits.open_files],
        "RLIMIT_NPROC": [limits.processes + sandbox.ZYGOTE_PROCESSES] * 2,
        "RLIMIT_CORE": [0, 0],
        # POSIX message queues outlive a run and cannot be listed without a mount, so none may be made.
        "RLIMIT_MSGQUEUE": [0, 0],
    }


class Zygote:
    """A warm sandbox that forks one runner per request. It is not thread-safe: use one per worker slot."""

    def __init__(self, slot: int, limits: Limits, files_dir: Path, cpu: int | None = None) -> None:
        self.slot = slot
        # The run is pinned to this CPU, where the caller pins the evaluator's thread too: a
        # round trip then costs a context switch instead of a wake-up on another CPU.
        self.cpu = cpu
        self.limits = limits
        self.files_dir = files_dir.resolve()  # bwrap resolves bind sources from files_dir itself.
        self._sandbox: sandbox.RunnerProcess | None = None
        self._control: socket.socket | None = None
        self.starts = 0
        self._failed_at: float | None = None

    @property
    def usable(self) -> bool:
        """False for ``RETRY_AFTER_SECONDS`` after a failed start, so runs go cold meanwhile."""
        return self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_AFTER_SECONDS

    @property
    def alive(self) -> bool:
        return self._sandbox is not None and not self._sandbox.wait(0)

    def ensure_started(self) -> None:
        """Start the sandbox and wait until its imports are done, unless it already runs."""
        if self.alive:
            return
        self.stop()
        try:
            self._start()
        except SandboxError:
            self._failed_at = time.monotonic()
            raise
        self._failed_at = None

    def _start(self) -> None:
        self.files_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        for source in (sandbox.RUNNER_SOURCE, ZYGOTE_SOURCE):
            shutil.copyfile(source, self.files_dir / source.name)
            os.chmod(self.files_dir / source.name, 0o644)

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with open(self.files_dir / "zygote.log", "wb") as log:
                self._sandbox = sandbox.start_zygote(
                    self.files_dir, self.limits, self.slot, theirs.fileno(), log
                )
        except SandboxError:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        self.starts += 1
        message = self.receive(START_TIMEOUT_SECONDS)
        if message.get("event") != "ready":
            self.stop()
            raise SandboxError(f"the warm sandbox sent {message!r} instead of 'ready'")
        logger.info("warm sandbox %d ready", self.slot)

    def launch(self, code: str, request_fd: int, reply_fd: int, limits: Limits | None = None) -> WarmRun:
        """Fork a runner for ``code`` with the given pipe ends; the caller keeps its own ends.

        ``limits`` are the run's, by default the zygote's; a run can only lower
        the zygote's memory, process and file limits, not raise them.
        """
        self.ensure_started()
        code_fd = os.memfd_create("solution.py", os.MFD_CLOEXEC)
        data = code.encode("utf-8")
        while data:
            data = data[os.write(code_fd, data) :]
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        request = {
            "op": "run",
            "limits": run_limits(limits or self.limits),
            "environment": sandbox.runner_environment(),
            "cpu": self.cpu,
        }
        fds = [request_fd, reply_fd, stdout_write, stderr_write, code_fd]
        try:
            self.send(request, fds)
            message = self.receive(ANSWER_TIMEOUT_SECONDS)
        except SandboxError:
            os.close(stdout_read)
            os.close(stderr_read)
            raise
        finally:
            os.close(stdout_write)
            os.close(stderr_write)
            os.close(code_fd)
        if message.get("event") != "started":
            os.close(stdout_read)
            os.close(stderr_read)
            self.stop()
            raise SandboxError(f"the warm sandbox sent {message!r} instead of 'started'")
        return WarmRun(self, stdout_read, stderr_read)

    def stop(self) -> None:
        """Kill the sandbox and everything in it."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._sandbox is not None:
            self._sandbox.kill()
            self._sandbox = None

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        if self._control is None:
            raise SandboxError("the warm sandbox is not running")
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        try:
            self._control.sendmsg([json.dumps(message).encode()], ancillary)
        except OSError as error:
            self.stop()
            raise SandboxError(f"the warm sandbox stopped responding: {error}") from error

    def receive(self, timeout: float) -> dict[str, Any]:
        control = self._control
        if control is None:
            raise SandboxError("the warm sandbox is not running")
        ready, _, _ = select.select([control], [], [], timeout)
        if not ready:
            self.stop()
            raise SandboxError(f"the warm sandbox did not respond within {timeout:g} s")
        try:
            data = control.recv(MAX_MESSAGE_BYTES)
            message = json.loads(data) if data else None
        except (OSError, ValueError) as error:
            self.stop()
            raise SandboxError(f"the warm sandbox sent a broken message: {error}") from error
        if not isinstance(message, dict):
            stderr = self._stderr_tail()
            self.stop()
            raise SandboxError(f"the warm sandbox exited: {stderr}")
        return message

    def poll(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a message; raise ``SandboxError`` if the sandbox is gone."""
        if self._control is None:
            raise SandboxError("the warm sandbox died during the run")
        ready, _, _ = select.select([self._control], [], [], max(timeout, 0.0))
        return bool(ready)

    def _stderr_tail(self) -> str:
        try:
            return (self.files_dir / "zygote.log").read_bytes()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""


class WarmRun:
    """A runner forked by a zygote, with the interface of ``sandbox.RunnerProcess``."""

    def __init__(self, zygote: Zygote, stdout_fd: int, stderr_fd: int) -> None:
        self.zygote = zygote
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd
        self.exit_code: int | None = None
        self.cpu_seconds = 0.0
        self.max_rss_bytes = 0
        self._closed = False

    @property
    def signal(self) -> int | None:
        return -self.exit_code if self.exit_code is not None and self.exit_code < 0 else None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the run to end and the zygote to clean up after it."""
        if self.exit_code is not None:
            return True
        if not self.zygote.poll(timeout):
            return False
        self._exited(self.zygote.receive(ANSWER_TIMEOUT_SECONDS))
        return True

    def kill(self) -> None:
        """Have the zygote kill the run, or kill the whole sandbox if the zygote does not respond in time."""
        try:
            if self.exit_code is None:
                self.zygote.send({"op": "kill"})
                deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
                while not self.wait(deadline - time.monotonic()):
                    if time.monotonic() >= deadline:
                        logger.warning(
                            "warm sandbox %d did not kill its run; restarting it", self.zygote.slot
                        )
                        self.zygote.stop()
                        break
        except SandboxError as error:
            logger.warning("warm sandbox %d failed while killing a run: %s", self.zygote.slot, error)
        finally:
            self._close()

    def _exited(self, message: dict[str, Any]) -> None:
        if message.get("event") != "exited":
            self.zygote.stop()
            raise SandboxError(f"the warm sandbox sent {message!r} instead of 'exited'")
        self.exit_code = os.waitstatus_to_exitcode(int(message["status"]))
        self.cpu_seconds = float(message["cpu_seconds"])
        self.max_rss_bytes = int(message["max_rss_bytes"])
        if message.get("restart"):
            # The run left something behind or changed the zygote. Its verdict is kept.
            logger.warning("warm sandbox %d is restarted after a run changed it", self.zygote.slot)
            self.zygote.stop()

    def _close(self) -> None:
        if not self._closed:
            os.close(self.stdout_fd)
            os.close(self.stderr_fd)
            self._closed = True


def warm_available(mode: SandboxMode) -> bool:
    """Warm sandboxes need bwrap's PID namespace, where the zygote may kill every other process."""
    return mode is SandboxMode.BWRAP and sys.platform == "linux" and hasattr(os, "pidfd_open")
