"""The run watch: output read on its own thread, and a deadline that wakes a blocked read."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from grader import run_watch
from grader.errors import SandboxError
from grader.run_watch import DeadlinePassed, OutputLimitExceeded, RunWatch


@dataclass
class Pipes:
    """The evaluator's read ends and the runner's write ends, as a run has them."""

    request_read: int
    request_write: int
    stdout_read: int
    stdout_write: int
    stderr_read: int
    stderr_write: int


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    request = os.pipe()
    stdout = os.pipe()
    stderr = os.pipe()
    yield Pipes(*request, *stdout, *stderr)
    for fd in (*request, *stdout, *stderr):
        try:
            os.close(fd)
        except OSError:
            pass  # The test closed it to simulate the runner's exit.


def watch_on(pipes: Pipes, output_limit: int = 1000) -> RunWatch:
    return RunWatch(pipes.request_read, pipes.stdout_read, pipes.stderr_read, output_limit)


def blocked_read(fd: int) -> tuple[threading.Thread, list[bytes]]:
    """Start a thread that blocks on ``fd`` as the evaluator does, and collect what it reads."""
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(os.read(fd, 65536)), daemon=True)
    reader.start()
    return reader, read


def wait_until(condition, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def test_deadline_wakes_blocked_read(pipes: Pipes):
    watch = watch_on(pipes)
    reader, read = blocked_read(pipes.request_read)
    started = time.monotonic()
    watch.start(0.2)
    reader.join(5)
    waited = time.monotonic() - started
    watch.stop()

    assert not reader.is_alive()
    assert read == [b"\0"]
    assert isinstance(watch.interrupt, DeadlinePassed)
    assert 0.15 <= waited < 5


def test_output_limit_wakes_blocked_read(pipes: Pipes):
    watch = watch_on(pipes, output_limit=100)
    reader, read = blocked_read(pipes.request_read)
    watch.start(30)
    os.write(pipes.stdout_write, b"a" * 60)
    os.write(pipes.stderr_write, b"b" * 60)
    reader.join(5)
    watch.stop()

    assert not reader.is_alive()
    assert isinstance(watch.interrupt, OutputLimitExceeded)
    assert watch.output_total == 120
    assert len(watch.stdout) + len(watch.stderr) == 100


def test_full_stdout_pipe_is_emptied(pipes: Pipes):
    # More than a pipe holds: without the watch's thread the write would block until the deadline.
    watch = watch_on(pipes, output_limit=2**20)
    watch.start(30)
    written = os.write(pipes.stdout_write, b"x" * 65536)
    writer = threading.Thread(target=os.write, args=(pipes.stdout_write, b"y" * 65536), daemon=True)
    writer.start()
    writer.join(5)
    finished = wait_until(lambda: watch.output_total == 2 * 65536)
    watch.stop()

    assert written == 65536
    assert not writer.is_alive()
    assert finished
    assert watch.interrupt is None
    assert watch.stdout == b"x" * 65536 + b"y" * 65536


def test_drain_hides_later_output(pipes: Pipes):
    watch = watch_on(pipes)
    watch.start(30)
    os.write(pipes.stdout_write, b"visible case\n")
    watch.drain(hide_later_output=True)
    os.write(pipes.stdout_write, b"hidden case\n")
    counted = wait_until(lambda: watch.output_total == 25)
    watch.stop()

    assert counted
    assert watch.stdout == b"visible case\n"
    assert not watch.keeps_output


def test_drain_raises_limit_found_by_thread(pipes: Pipes):
    # The thread stops reading once it finds the limit exceeded, so a drain has nothing left to read.
    watch = watch_on(pipes, output_limit=100)
    watch.start(30)
    os.write(pipes.stdout_write, b"x" * 101)
    found = wait_until(lambda: watch.interrupt is not None)

    with pytest.raises(OutputLimitExceeded):
        watch.drain()
    watch.stop()
    assert found


def test_restart_clock_keeps_deadline_alive(pipes: Pipes):
    # Four restarts half a deadline apart outlast the first deadline twice over.
    watch = watch_on(pipes)
    watch.start(1.0)
    for _ in range(4):
        time.sleep(0.5)
        watch.restart_clock(1.0)
    interrupt = watch.interrupt
    watch.stop()

    assert interrupt is None


def test_restart_clock_after_deadline_raises(pipes: Pipes):
    watch = watch_on(pipes)
    watch.start(0.05)
    expired = wait_until(lambda: watch.interrupt is not None)

    with pytest.raises(DeadlinePassed):
        watch.restart_clock(30)
    watch.stop()
    assert expired


def test_runner_exit_still_ends_request_pipe(pipes: Pipes):
    # The watch may hold no write end of the request pipe, or the evaluator would never see end of file.
    watch = watch_on(pipes)
    watch.start(30)
    reader, read = blocked_read(pipes.request_read)
    for fd in (pipes.request_write, pipes.stdout_write, pipes.stderr_write):
        os.close(fd)
    reader.join(5)
    watch.stop()

    assert not reader.is_alive()
    assert read == [b""]
    assert watch.interrupt is None


def test_closed_output_keeps_clock(pipes: Pipes):
    watch = watch_on(pipes)
    os.close(pipes.stdout_write)
    os.close(pipes.stderr_write)
    reader, read = blocked_read(pipes.request_read)
    watch.start(0.2)
    reader.join(5)
    watch.stop()

    assert read == [b"\0"]
    assert isinstance(watch.interrupt, DeadlinePassed)


def test_stop_writes_nothing(pipes: Pipes):
    watch = watch_on(pipes)
    watch.start(30)
    watch.stop()
    os.close(pipes.request_write)

    assert os.read(pipes.request_read, 10) == b""
    assert watch.interrupt is None


def test_missing_proc_names_fix(monkeypatch: pytest.MonkeyPatch):
    def no_proc(path: str, flags: int, mode: int = 0o777) -> int:
        raise FileNotFoundError(2, "No such file or directory", path)

    run_watch._proc_reopens_pipes.cache_clear()
    monkeypatch.setattr(run_watch.os, "open", no_proc)
    try:
        with pytest.raises(SandboxError, match="procfs mounted at /proc"):
            run_watch.check_wake_available()
    finally:
        monkeypatch.undo()
        run_watch._proc_reopens_pipes.cache_clear()
    run_watch.check_wake_available()


def test_failed_wake_is_retried(
    pipes: Pipes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    real_open = os.open
    failures = []

    def open_after_two_failures(path: str, flags: int, mode: int = 0o777) -> int:
        if path.startswith("/proc/self/fd/") and len(failures) < 2:
            failures.append(path)
            raise OSError(24, "Too many open files", path)
        return real_open(path, flags, mode)

    watch = watch_on(pipes)
    monkeypatch.setattr(run_watch.os, "open", open_after_two_failures)
    os.write(pipes.stdout_write, b"pending output\n")
    reader, read = blocked_read(pipes.request_read)
    watch.start(0.05)
    reader.join(5)
    watch.stop()

    assert read == [b"\0"]
    assert len(failures) == 2
    assert len([r for r in caplog.records if "could not reopen" in r.getMessage()]) == 1
