"""Warm sandboxes: forked runs keep every guarantee of a cold sandbox.

One zygote serves the whole module, as one serves a worker slot, so each test
also checks that the runs before it left nothing behind.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.grading import GradeResult, grade
from grader.sandbox import Limits, SandboxMode
from grader.verdicts import Verdict
from grader.warm_pool import Zygote
from reference.labs import get_lab
from tests.conftest import SANDBOX_MODE

pytestmark = pytest.mark.skipif(
    SANDBOX_MODE is SandboxMode.NONE, reason="warm sandboxes need bwrap's PID namespace"
)

SLOT = 1
"""The test zygote's slot; cold runs of the other tests use slot 0, so their uids differ."""

ORDINARY = """
def solution(func, start_point):
    func(start_point)
    return start_point
"""

NESTEROV = """
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(500):
        optimizer.zero_grad()
        func(x).backward()
        optimizer.step()
    return x.detach()
"""


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    warm = Zygote(SLOT, Limits(), tmp_path_factory.mktemp("warm"))
    warm.ensure_started()
    yield warm
    warm.stop()


def run_warm(zygote: Zygote, code: str, lab_id: str = "lab3", **limits: object) -> GradeResult:
    lab = get_lab(lab_id)
    return grade(
        textwrap.dedent(code),
        lab,
        [lab.public],
        Limits(**limits),  # type: ignore[arg-type]
        SandboxMode.BWRAP,
        slot=SLOT,
        launcher=zygote,
    )


def host_processes_with(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and int(entry) != os.getpid():
            found.append(entry)
    return found


def test_warm_run_scores_like_cold(zygote: Zygote, tmp_path: Path):
    lab = get_lab("lab3")
    cold = grade(
        textwrap.dedent(NESTEROV), lab, [lab.public], Limits(), SandboxMode.BWRAP, work_root=tmp_path
    )
    warm = run_warm(zygote, NESTEROV)

    assert warm.verdict is Verdict.ACCEPTED, warm.detail
    assert warm.scores[0] == cold.scores[0]
    assert warm.records[0].values == cold.records[0].values


def test_warm_run_measures_cpu_time(zygote: Zygote):
    result = run_warm(
        zygote, "def solution(func, start_point):\n    sum(range(3_000_000))\n    return start_point\n"
    )

    assert result.verdict is Verdict.ACCEPTED
    assert result.cpu_seconds > 0.01


def test_module_state_does_not_carry_over(zygote: Zygote):
    first = run_warm(
        zygote,
        """
        import builtins, numpy, torch, sys
        numpy.LEFT_BY_EARLIER_RUN = True
        builtins.LEFT_BY_EARLIER_RUN = True
        torch.manual_seed(1234)
        sys.modules["left_by_earlier_run"] = sys

        def solution(func, start_point):
            return start_point
        """,
    )
    second = run_warm(
        zygote,
        """
        import builtins, numpy, sys

        def solution(func, start_point):
            print(hasattr(numpy, "LEFT_BY_EARLIER_RUN"), hasattr(builtins, "LEFT_BY_EARLIER_RUN"))
            print("left_by_earlier_run" in sys.modules)
            return start_point
        """,
    )

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert second.stdout == "False False\nFalse\n"


def test_files_and_ipc_do_not_carry_over(zygote: Zygote):
    first = run_warm(
        zygote,
        """
        import ctypes, os
        open("/tmp/left_by_earlier_run", "w").write("x")
        open("left_in_cwd", "w").write("x")
        try:
            open("/dev/shm/left_by_earlier_run", "w").write("x")
        except OSError:
            pass  # /dev is read-only in the sandbox; if that changes, the cleanup must cover it.
        libc = ctypes.CDLL(None)
        print(libc.shmget(0x6764, 4096, 0o1666))  # IPC_CREAT | 0666

        def solution(func, start_point):
            return start_point
        """,
    )
    second = run_warm(
        zygote,
        """
        import os

        def solution(func, start_point):
            # Directories that bwrap made for a Python installation under /tmp belong to root.
            mine = [name for name in os.listdir("/tmp") if os.lstat("/tmp/" + name).st_uid == os.getuid()]
            print(sorted(mine), sorted(os.listdir(".")), os.listdir("/dev/shm"))
            print(open("/proc/sysvipc/shm").read().count("\\n"))
            return start_point
        """,
    )

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert int(first.stdout) >= 0
    assert second.stdout == "['run'] ['solution.py'] []\n1\n"


def test_detached_child_is_killed(zygote: Zygote):
    marker = f"gdwarm{uuid.uuid4().hex}"
    result = run_warm(
        zygote,
        f"""
        import os, subprocess, sys

        def solution(func, start_point):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv(sys.executable, [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "{marker}"])
                os._exit(0)
            return start_point
        """,
    )

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert host_processes_with(marker) == []
    assert run_warm(zygote, ORDINARY).verdict is Verdict.ACCEPTED


def test_sleep_past_limit_is_time_limit(zygote: Zygote):
    starts = zygote.starts
    result = run_warm(
        zygote, "import time\ndef solution(func, start_point):\n    time.sleep(60)\n", wall_time=1
    )

    assert result.verdict is Verdict.TIME_LIMIT
    assert run_warm(zygote, ORDINARY).verdict is Verdict.ACCEPTED
    assert zygote.starts == starts


def test_fork_bomb_is_contained(zygote: Zygote):
    result = run_warm(
        zygote,
        """
        import os

        def solution(func, start_point):
            while True:
                os.fork()
        """,
        wall_time=3,
        processes=16,
    )

    assert result.verdict in (Verdict.PROCESS_LIMIT, Verdict.TIME_LIMIT)
    assert run_warm(zygote, ORDINARY).verdict is Verdict.ACCEPTED


def test_memory_bomb_is_memory_limit(zygote: Zygote):
    result = run_warm(zygote, "def solution(func, start_point):\n    return [0] * 10**10\n")

    assert result.verdict is Verdict.MEMORY_LIMIT
    assert run_warm(zygote, ORDINARY).verdict is Verdict.ACCEPTED


def test_cpu_limit_is_time_limit(zygote: Zygote):
    result = run_warm(zygote, "def solution(func, start_point):\n    while True:\n        pass\n", cpu_time=1)

    assert result.verdict is Verdict.TIME_LIMIT


def test_numpy_beside_solution_does_not_shadow(zygote: Zygote):
    result = run_warm(
        zygote,
        """
        open("numpy.py", "w").write("FAKE = True\\n")
        import importlib, sys
        sys.modules.pop("numpy", None)
        import numpy

        def solution(func, start_point):
            print(hasattr(numpy, "FAKE"), hasattr(numpy, "ndarray"))
            return start_point
        """,
    )

    assert result.stdout == "False True\n"


def test_zygote_is_not_traceable(zygote: Zygote):
    result = run_warm(
        zygote,
        """
        def solution(func, start_point):
            for name in ("environ", "mem", "maps"):
                try:
                    open(f"/proc/2/{name}", "rb").read(1)
                    print(name, "readable")
                except OSError:
                    print(name, "denied")
            return start_point
        """,
    )

    assert result.stdout == "environ denied\nmem denied\nmaps denied\n"


def test_killed_zygote_is_internal_error_then_restarts(zygote: Zygote):
    starts = zygote.starts
    # The run dies with the zygote's namespace, so the service cannot tell whose fault it was.
    with pytest.raises(SandboxError):
        run_warm(
            zygote,
            "import os, signal, time\ndef solution(func, start_point):\n    os.kill(2, signal.SIGKILL)\n    time.sleep(5)\n",
        )

    assert run_warm(zygote, ORDINARY).verdict is Verdict.ACCEPTED
    assert zygote.starts == starts + 1


def test_host_files_out_of_sight(zygote: Zygote):
    repository = Path(__file__).resolve().parents[2]
    result = run_warm(
        zygote,
        f"""
        import os

        def solution(func, start_point):
            print(os.path.exists({str(repository / "pyproject.toml")!r}), os.path.exists({str(repository / "server")!r}))
            print(os.getuid())
            return start_point
        """,
    )

    expected_uid = 61000 + SLOT if os.geteuid() == 0 else 65534
    assert result.stdout == f"False False\n{expected_uid}\n"


def zygote_pid(zygote: Zygote) -> int:
    """Return the host pid of the zygote's Python process, a descendant of its bwrap."""
    assert zygote._sandbox is not None
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, zygote._sandbox.popen.pid):
            ancestor = parents.get(ancestor)
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        if (
            ancestor == zygote._sandbox.popen.pid
            and b"zygote.py" in command
            and not command.startswith(b"bwrap")
        ):
            return pid
    raise AssertionError("the zygote's process was not found")


def process_memory_contains(pid: int, needle: bytes) -> bool:
    """Search every readable, writable mapping of ``pid`` for ``needle`` (needs root)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as memory:
        for line in maps:
            fields = line.split()
            low, high = (int(value, 16) for value in fields[0].split("-"))
            if "rw" not in fields[1] or high - low > 2**30:
                continue
            try:
                memory.seek(low)
                if needle in memory.read(high - low):
                    return True
            except OSError:
                continue
    return False


@pytest.mark.skipif(os.geteuid() != 0, reason="reading the zygote's memory from the host needs root")
def test_code_never_enters_zygote_memory(zygote: Zygote):
    marker = f"gdcode{uuid.uuid4().hex}"
    result = run_warm(zygote, f"# {marker}\n" + ORDINARY)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert not process_memory_contains(zygote_pid(zygote), marker.encode())


def test_locked_directory_is_still_cleaned(zygote: Zygote):
    first = run_warm(
        zygote,
        """
        import os
        os.makedirs("/tmp/locked")
        for name in ("a", "b"):  # Two files, because one file may hold at most 8 MiB.
            open(f"/tmp/locked/{name}", "wb").write(b"\\0" * 6 * 2**20)
        os.chmod("/tmp/locked", 0o500)

        def solution(func, start_point):
            return start_point
        """,
    )
    second = run_warm(
        zygote,
        """
        def solution(func, start_point):
            for name in ("a", "b"):
                open(f"/tmp/{name}", "wb").write(b"\\0" * 6 * 2**20)
            return start_point
        """,
    )

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert second.verdict is Verdict.ACCEPTED, second.detail


def test_lowered_zygote_limit_restarts_it(zygote: Zygote):
    starts = zygote.starts
    first = run_warm(
        zygote,
        """
        import resource

        def solution(func, start_point):
            resource.prlimit(2, resource.RLIMIT_DATA, (300 * 2**20, 300 * 2**20))
            return start_point
        """,
    )
    second = run_warm(
        zygote,
        """
        import numpy

        def solution(func, start_point):
            print(numpy.ones(50_000_000).sum())
            return start_point
        """,
    )

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert second.verdict is Verdict.ACCEPTED, second.detail
    assert zygote.starts == starts + 1


CLEANER_ATTACK = """
import os, signal

def solution(func, start_point):
    open("/tmp/left-by-run", "w").write("x")
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, 2, os.getpid()):
            os.kill(int(name), signal.{signal})
    return start_point
"""


def test_killed_cleaner_restarts_zygote(zygote: Zygote):
    starts = zygote.starts
    first = run_warm(zygote, CLEANER_ATTACK.format(signal="SIGKILL"))
    second = run_warm(zygote, ORDINARY)

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert second.verdict is Verdict.ACCEPTED, second.detail
    assert zygote.starts == starts + 1


def test_stopped_cleaner_still_cleans(zygote: Zygote):
    starts = zygote.starts
    first = run_warm(zygote, CLEANER_ATTACK.format(signal="SIGSTOP"))
    second = run_warm(
        zygote,
        """
        import os

        def solution(func, start_point):
            print(os.path.exists("/tmp/left-by-run"))
            return start_point
        """,
    )

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert second.verdict is Verdict.ACCEPTED, second.detail
    assert second.stdout.strip() == "False"
    assert zygote.starts == starts


KEY_SYSCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}
"""add_key, request_key and keyctl, by machine."""

LEAVE_KEYS = """
import ctypes
add_key, _, keyctl = {numbers}
libc = ctypes.CDLL(None, use_errno=True)
persistent = libc.syscall(keyctl, 22, -1, -2)
for keyring in (-3, -4, persistent):  # Session, user, persistent.
    print(libc.syscall(add_key, b"user", b"gd-left", b"from an earlier run", 19, keyring) > 0)

def solution(func, start_point):
    return start_point
"""

FIND_KEYS = """
import ctypes
_, _, keyctl = {numbers}
libc = ctypes.CDLL(None, use_errno=True)
persistent = libc.syscall(keyctl, 22, -1, -2)

def solution(func, start_point):
    for keyring in (-3, -4, persistent):
        print(libc.syscall(keyctl, 10, keyring, b"user", b"gd-left", 0) > 0)  # KEYCTL_SEARCH
    return start_point
"""


@pytest.mark.skipif(
    os.uname().machine not in KEY_SYSCALLS, reason="syscall numbers known for x86_64 and aarch64"
)
def test_kernel_keys_do_not_carry_over(zygote: Zygote):
    numbers = KEY_SYSCALLS[os.uname().machine]
    first = run_warm(zygote, LEAVE_KEYS.format(numbers=numbers))
    second = run_warm(zygote, FIND_KEYS.format(numbers=numbers))

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert first.stdout.split()[:2] == ["True", "True"]  # The session and user keyrings take keys.
    assert second.verdict is Verdict.ACCEPTED, second.detail
    assert second.stdout.split() == ["False", "False", "False"]


STALE_KILL = """
import os, struct

def solution(func, start_point):
    parent = os.getpid()
    if os.fork() == 0:
        while os.getppid() == parent:  # Until the runner has exited.
            pass
        os.write(3, b"Z" + struct.pack("<I", 0))  # The evaluator then ends the run and sends a kill.
        os._exit(0)
    os._exit(0)
"""


def test_late_kill_spares_next_run(zygote: Zygote):
    for _ in range(3):
        first = run_warm(zygote, STALE_KILL)
        second = run_warm(zygote, ORDINARY)

        assert first.verdict in (Verdict.INVALID_RESULT, Verdict.NO_RESULT), first.detail
        assert second.verdict is Verdict.ACCEPTED, second.detail


def test_idle_scheduling_restarts_zygote(zygote: Zygote):
    starts = zygote.starts
    first = run_warm(
        zygote,
        """
        import os

        def solution(func, start_point):
            os.sched_setscheduler(2, os.SCHED_IDLE, os.sched_param(0))
            return start_point
        """,
    )
    second = run_warm(
        zygote,
        """
        import os

        def solution(func, start_point):
            print(os.sched_getscheduler(0) == os.SCHED_OTHER)
            return start_point
        """,
    )

    assert first.verdict is Verdict.ACCEPTED, first.detail
    assert second.verdict is Verdict.ACCEPTED, second.detail
    assert second.stdout.strip() == "True"
    assert zygote.starts == starts + 1


def test_posix_message_queue_refused(zygote: Zygote):
    result = run_warm(
        zygote,
        """
        import ctypes, ctypes.util
        rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
        queue = rt.mq_open(b"/gdleft", 0o100 | 0o2, 0o600, None)  # O_CREAT | O_RDWR

        def solution(func, start_point):
            print(queue)
            return start_point
        """,
    )

    assert result.stdout == "-1\n"


def run_cold(code: str, work_root: Path, lab_id: str = "lab1") -> GradeResult:
    lab = get_lab(lab_id)
    return grade(textwrap.dedent(code), lab, [lab.public], Limits(), SandboxMode.BWRAP, work_root=work_root)


def test_sigint_raises_keyboard_interrupt(zygote: Zygote, tmp_path: Path):
    # A watchdog ends the search with Ctrl-C, as a fresh interpreter handles it.
    code = """
    import os, signal, threading, time

    def solution(func, start_point):
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        best = x = start_point
        try:
            while True:
                x *= 0.999
                time.sleep(0.002)
                if func(x) < func(best):
                    best = x
        except KeyboardInterrupt:
            print("stopped by the watchdog")
        return best
    """
    cold = run_cold(code, tmp_path)
    warm = run_warm(zygote, code, "lab1")

    assert cold.verdict is Verdict.ACCEPTED, cold.detail
    assert warm.verdict is Verdict.ACCEPTED, warm.detail
    assert warm.stdout == "stopped by the watchdog\n"


def test_broken_pipe_raises(zygote: Zygote, tmp_path: Path):
    code = """
    import os

    def solution(func, start_point):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            os.write(write_end, b"x")
        except BrokenPipeError:
            print("BrokenPipeError")
        return start_point
    """
    cold = run_cold(code, tmp_path)
    warm = run_warm(zygote, code, "lab1")

    assert cold.stdout == "BrokenPipeError\n"
    assert warm.verdict is Verdict.ACCEPTED, warm.detail
    assert warm.stdout == "BrokenPipeError\n"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            'import sys\n\ndef solution(func, start_point):\n    sys.exit("giving up early")\n',
            "giving up early",
        ),
        (
            "class Stop(BaseException):\n    pass\n\n"
            'def solution(func, start_point):\n    raise Stop("stopped by a BaseException")\n',
            "Stop: stopped by a BaseException",
        ),
    ],
    ids=["sys_exit_message", "base_exception"],
)
def test_uncaught_exit_is_printed(zygote: Zygote, tmp_path: Path, code: str, expected: str):
    cold = run_cold(code, tmp_path)
    warm = run_warm(zygote, code, "lab1")

    assert cold.verdict is Verdict.NO_RESULT
    assert expected in cold.stderr
    assert warm.verdict is Verdict.NO_RESULT
    assert expected in warm.stderr


@pytest.mark.parametrize(
    "code",
    [
        "import sys\n\nclass Code:\n    def __str__(self):\n        raise ValueError('no text')\n\n"
        "def solution(func, start_point):\n    sys.exit(Code())\n",
        "import sys\n\ndef solution(func, start_point):\n    sys.exit(10**30)\n",
    ],
    ids=["unprintable_exit_code", "huge_exit_code"],
)
def test_odd_exit_matches_cold(zygote: Zygote, tmp_path: Path, code: str):
    cold = run_cold(code, tmp_path)
    warm = run_warm(zygote, code, "lab1")

    assert warm.verdict is cold.verdict
    assert warm.detail == cold.detail
    assert "zygote.py" not in warm.stderr


def test_keyboard_interrupt_with_sigint_blocked(zygote: Zygote):
    # The interpreter exits with 130 when it cannot end by SIGINT. A cold run through bwrap cannot
    # tell that status from death by SIGINT, so this checks the warm run alone.
    code = """
    import signal, sys

    class Stream:
        def write(self, text):
            return len(text)

        def flush(self):
            raise KeyboardInterrupt("raised by flush")

    def solution(func, start_point):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        sys.stdout = Stream()
        return start_point
    """
    result = run_warm(zygote, code, "lab1")

    assert result.verdict is Verdict.NO_RESULT
    assert result.detail == "the runner exited with status 130 before solution returned"
    assert "KeyboardInterrupt: raised by flush" in result.stderr
