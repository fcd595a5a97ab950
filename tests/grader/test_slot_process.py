"""Worker slots in child processes: they grade as in-process slots do, and die with their owner."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.sandbox import Limits, SandboxMode
from grader.slot_process import SlotProcess, SlotSettings
from grader.verdicts import Verdict
from reference.labs import get_lab
from tests.conftest import SANDBOX_MODE
from tests.grader.test_warm_pool import NESTEROV, ORDINARY

SLOT = 2
"""Unused by the other test modules, so the sandbox uid is this module's alone."""

SLEEPS = """
import time

def solution(func, start_point):
    time.sleep(60)
    return start_point
"""


@pytest.fixture
def slot(tmp_path: Path) -> Iterator[SlotProcess]:
    process = SlotProcess(SlotSettings(SLOT, Limits(), SANDBOX_MODE, tmp_path / "runs"))
    process.start()
    yield process
    process.stop()


def grade(slot: SlotProcess, code: str, first_attempt: bool = True):  # type: ignore[no-untyped-def]
    lab = get_lab("lab3")
    return slot.grade(textwrap.dedent(code), "lab3", [lab.public], [None], first_attempt)


def alive(pid: int) -> bool:
    """Return whether ``pid`` runs, counting a zombie whose threads are still exiting."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False
    return state != "Z" or threads > 1


def wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def sandbox_processes(runs_dir: Path) -> list[int]:
    """Return the host pids whose command line names a file under ``runs_dir``, the warm sandbox's."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(runs_dir).encode() in command:
            found.append(int(entry))
    return found


def test_child_grades_nesterov(slot: SlotProcess):
    result = grade(slot, NESTEROV)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert result.scores[0].final_point[1] == pytest.approx(0.12196, abs=1e-4)
    assert result.student_cpu_seconds > 0


@pytest.mark.skipif(SANDBOX_MODE is SandboxMode.NONE, reason="warm sandboxes need bwrap")
def test_sandbox_starts_counted(slot: SlotProcess):
    assert slot.take_sandbox_starts() == 1  # The warm sandbox, at start.

    grade(slot, ORDINARY)
    assert slot.take_sandbox_starts() == 0

    grade(slot, ORDINARY, first_attempt=False)  # A retry runs cold.
    assert slot.take_sandbox_starts() == 1


def test_killed_idle_child_restarts(slot: SlotProcess):
    first = slot.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert wait_gone(first)

    result = grade(slot, ORDINARY)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert slot.pid not in (None, first)


@pytest.mark.skipif(SANDBOX_MODE is SandboxMode.NONE, reason="warm sandboxes need bwrap")
def test_killed_busy_child_is_internal_error(slot: SlotProcess, tmp_path: Path):
    child = slot.pid
    assert child is not None
    assert sandbox_processes(tmp_path / "runs")
    threading.Timer(1.0, os.kill, (child, signal.SIGKILL)).start()

    with pytest.raises(SandboxError, match="exited"):
        grade(slot, SLEEPS)

    deadline = time.monotonic() + 10
    while sandbox_processes(tmp_path / "runs") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes(tmp_path / "runs") == []


def test_interrupt_signals_ignored(slot: SlotProcess):
    child = slot.pid
    assert child is not None
    os.kill(child, signal.SIGINT)
    os.kill(child, signal.SIGTERM)

    result = grade(slot, ORDINARY)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert slot.pid == child


def test_child_dies_with_starting_thread(tmp_path: Path):
    process = SlotProcess(SlotSettings(SLOT, Limits(), SANDBOX_MODE, tmp_path / "runs", warm=False))
    starter = threading.Thread(target=process.start)
    starter.start()
    starter.join()
    child = process.pid
    assert child is not None

    assert wait_gone(child)
