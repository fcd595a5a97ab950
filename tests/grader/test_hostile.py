"""Hostile submissions, graded through the real sandbox.

Every attack test checks four things after grading:

* the verdict, or for an attack that gains nothing, the honest score;
* that no process of the run is left: each attack that starts processes
  puts a unique marker in their argv, and bwrap's own argv names the run
  directory, so a scan of ``/proc/*/cmdline`` for either finds leftovers;
* that nothing outside the run's directory changed: the work root contains a
  sentinel file and a fake data directory, which must be unchanged, and the
  run directory must be gone;
* that an ordinary submission graded next is accepted.

Run this module to check a deployment's sandbox::

    .venv/bin/python -m pytest tests/grader/test_hostile.py
"""

from __future__ import annotations

import json
import os
import socket
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import bwrap, sandbox
from grader.bwrap import SANDBOX_UID_BASE
from grader.errors import SandboxError
from grader.grading import GradeResult
from grader.sandbox import ENVIRONMENT, PASSED_ENVIRONMENT, SandboxMode
from grader.verdicts import Verdict
from reference.families import hidden_instance
from reference.labs import get_lab
from tests.conftest import SANDBOX_MODE, Grader, start_server, stop_server

pytestmark = pytest.mark.skipif(
    SANDBOX_MODE is SandboxMode.NONE, reason="the hostile suite tests the sandbox, which mode none lacks"
)

ORDINARY = """
def solution(func, start_point):
    func(start_point)
    return start_point
"""

SECRET = "gradedescent-secret-7f3a9c"
"""Text placed in the fake database and the grader's environment, which no run may print."""

SPIN_FOREVER = "import time\nwhile True:\n    time.sleep(0.05)\n"
"""A program that a submission starts with the marker in its argv."""


@dataclass
class Host:
    """The host side of a test: the work root's files before the run, and the test's marker."""

    work_root: Path
    data_dir: Path
    database: Path
    marker: str
    snapshot: dict[str, tuple[bytes, int]]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Map every file and directory under ``root`` to its content and modification time."""
    files = {}
    for path in sorted(root.rglob("*")):
        content = path.read_bytes() if path.is_file() else b""
        files[str(path.relative_to(root))] = (content, path.stat().st_mtime_ns)
    return files


@pytest.fixture
def host(tmp_path: Path) -> Host:
    """Lay out the work root as the service does: run directories beside the data directory.

    ``grade_code`` creates each run directory in ``tmp_path``, so the fake data
    directory and the sentinel sit next to it, one ``..`` away.
    """
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    database = data_dir / "gradedescent.db"
    database.write_text(f"SQLite format 3 {SECRET}\n")
    (data_dir / "ta_token").write_text(SECRET)
    (tmp_path / "sentinel.txt").write_text("unchanged\n")
    marker = f"gdhostile{uuid.uuid4().hex}"
    return Host(tmp_path, data_dir, database, marker, snapshot(tmp_path))


def leftover_processes(host: Host) -> list[str]:
    """Return the cmdline of every process whose argv names the marker or the work root."""
    needles = (host.marker.encode(), str(host.work_root).encode())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue  # The process exited during the scan.
        if any(needle in cmdline for needle in needles):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry}: {command}")
    return found


def check_aftermath(grade_code: Grader, host: Host) -> None:
    """Assert that the run left no process and changed nothing, and that grading still works."""
    assert leftover_processes(host) == []
    assert snapshot(host.work_root) == host.snapshot
    ordinary = grade_code("lab1", ORDINARY)
    assert ordinary.verdict is Verdict.ACCEPTED, ordinary.detail


def grade_attack(grade_code: Grader, host: Host, lab_id: str, code: str, **limits: object) -> GradeResult:
    """Grade ``code`` with ``MARKER`` replaced by the test's marker, then check the aftermath."""
    result = grade_code(lab_id, code.replace("MARKER", host.marker), **limits)
    check_aftermath(grade_code, host)
    return result


def spawn_code(detach: bool) -> str:
    """Return source for a function ``spawn()`` that starts ``SPIN_FOREVER`` with the marker in argv.

    With ``detach``, the child calls ``setsid`` and forks again, so it is in
    its own session and no longer a child of the runner.
    """
    return f"""
import os
import sys

def spawn():
    pid = os.fork()
    if pid == 0:
        if {detach}:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
        os.execv(sys.executable, [sys.executable, "-c", {SPIN_FOREVER!r}, "MARKER"])
    if {detach}:
        os.waitpid(pid, 0)
"""


def objective_value(lab_id: str, point: tuple[float, ...]) -> float:
    return get_lab(lab_id).public.objective.value(point)


# Resource exhaustion.


def test_fork_bomb(grade_code: Grader, host: Host):
    code = """
    import os
    import sys

    BOMB = "import os, time\\nwhile True:\\n    try:\\n        os.fork()\\n    except OSError:\\n        time.sleep(0.01)\\n"

    def solution(func, start_point):
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", BOMB, "MARKER"])
        while True:
            # Raises BlockingIOError once the bomb holds every process the uid may have.
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
    """
    result = grade_attack(grade_code, host, "lab1", code, wall_time=5)

    assert result.verdict is Verdict.PROCESS_LIMIT
    assert "BlockingIOError" in result.detail


def test_memory_bomb(grade_code: Grader, host: Host):
    code = (
        spawn_code(detach=False)
        + """
def solution(func, start_point):
    spawn()
    blocks = []
    while True:
        blocks.append(bytearray(64 * 2**20))
"""
    )
    result = grade_attack(grade_code, host, "lab1", code, memory=512 * 2**20, wall_time=5)

    assert result.verdict is Verdict.MEMORY_LIMIT
    assert "MemoryError" in result.detail


@pytest.mark.parametrize(
    "statement",
    [
        'print("x" * 1000)',
        'sys.stderr.write("x" * 1000)',
        'sys.stdout.write("x" * 50_000_000)',
    ],
    ids=["print_loop", "stderr_loop", "one_write"],
)
def test_output_flood(grade_code: Grader, host: Host, statement: str):
    code = f"""
    import sys

    def solution(func, start_point):
        while True:
            {statement}
    """
    result = grade_attack(grade_code, host, "lab1", code, output=16 * 2**10, wall_time=5)

    assert result.verdict is Verdict.OUTPUT_LIMIT
    assert len(result.stdout.encode()) + len(result.stderr.encode()) <= 16 * 2**10


def test_sigterm_busy_loop(grade_code: Grader, host: Host):
    code = (
        "import signal\n\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        + spawn_code(detach=False)
        + """
def solution(func, start_point):
    spawn()
    while True:
        pass
"""
    )
    result = grade_attack(grade_code, host, "lab1", code, wall_time=2)

    assert result.verdict is Verdict.TIME_LIMIT
    assert result.detail == "solution ran longer than 2 s on case 1"


def test_sleep_past_limit(grade_code: Grader, host: Host):
    code = """
    import time

    def solution(func, start_point):
        time.sleep(3600)
        return start_point
    """
    result = grade_attack(grade_code, host, "lab1", code, wall_time=2)

    assert result.verdict is Verdict.TIME_LIMIT
    assert result.detail == "solution ran longer than 2 s on case 1"


def test_cpu_limit(grade_code: Grader, host: Host):
    # A limit above 1 s: the evaluator must tell a CPU limit from a SIGKILL without the run's CPU time.
    code = """
    def solution(func, start_point):
        while True:
            pass
    """
    result = grade_attack(grade_code, host, "lab1", code, cpu_time=2, wall_time=20)

    assert result.verdict is Verdict.TIME_LIMIT
    assert result.detail == "the run used more than 2 s of CPU time"


def test_detached_child(grade_code: Grader, host: Host):
    code = (
        spawn_code(detach=True)
        + """
def solution(func, start_point):
    spawn()
    return 0.0
"""
    )
    result = grade_attack(grade_code, host, "lab1", code, wall_time=5)

    assert result.verdict is Verdict.ACCEPTED
    assert result.scores[0].final_point == (0.0,)


def test_detached_child_timeout(grade_code: Grader, host: Host):
    code = (
        spawn_code(detach=True)
        + """
def solution(func, start_point):
    import time

    spawn()
    time.sleep(3600)
"""
    )
    result = grade_attack(grade_code, host, "lab1", code, wall_time=2)

    assert result.verdict is Verdict.TIME_LIMIT


def test_disk_fill(grade_code: Grader, host: Host):
    code = """
    import os

    def solution(func, start_point):
        written = 0
        try:
            for index in range(1000):
                with open(f"MARKER-{index}", "wb") as file:
                    file.write(b"0" * 2**20)
                written += 2**20
        except OSError as error:
            print("fill", error.errno, written)
        for index in range(1000):
            if os.path.exists(f"MARKER-{index}"):
                os.remove(f"MARKER-{index}")
        try:
            with open("MARKER-big", "wb") as file:
                file.write(b"0" * (4 * 2**20 + 1))
        except OSError as error:
            print("big", error.errno)
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code, disk=8 * 2**20, file_size=4 * 2**20)

    assert result.verdict is Verdict.ACCEPTED
    fill = result.stdout.splitlines()[0].split()
    assert fill[:2] == ["fill", "28"]  # ENOSPC
    assert int(fill[2]) <= 8 * 2**20
    assert result.stdout.splitlines()[1] == "big 27"  # EFBIG
    assert list(Path("/tmp").glob(f"{host.marker}*")) == []
    assert list(host.work_root.rglob(f"{host.marker}*")) == []


# Secrets on the host.


def test_data_dir_hidden(grade_code: Grader, host: Host):
    # The bind mounts in /proc/self/mountinfo name the run directory on the host, beside the fake data.
    code = f"""
    import os

    DATABASE = {str(host.database)!r}
    REPOSITORY_DATA = {str(Path(__file__).resolve().parents[2] / "var")!r}

    def attempt(path):
        try:
            if os.path.isdir(path):
                print("LISTED", path, os.listdir(path))
            else:
                with open(path, errors="replace") as file:
                    print("READ", path, file.read(200))
        except OSError as error:
            print("DENIED", path, error.errno)

    def solution(func, start_point):
        run_dir = None
        with open("/proc/self/mountinfo") as file:
            for line in file:
                source = line.split()[3]
                if source.endswith("/solution.py"):
                    run_dir = os.path.dirname(source)
        print("RUN_DIR", run_dir)
        data_dir = os.path.dirname(DATABASE)
        for path in [DATABASE, data_dir, os.path.join(data_dir, "ta_token"), REPOSITORY_DATA,
                     "/proc/1/root" + DATABASE, "/proc/self/root" + DATABASE]:
            attempt(path)
        if run_dir:
            attempt(run_dir)
            attempt(os.path.dirname(run_dir))
            attempt(os.path.join(os.path.dirname(run_dir), "var", "gradedescent.db"))
        for root, dirs, files in os.walk("/"):
            dirs[:] = [d for d in dirs if d not in ("proc", "usr", "site-packages", "lib")]
            for name in files:
                if name.endswith(".db") or name == "ta_token":
                    attempt(os.path.join(root, name))
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    assert "RUN_DIR " + str(host.work_root) in result.stdout  # The attack did find the host path.
    assert SECRET not in result.stdout
    assert "READ" not in result.stdout
    assert "LISTED" not in result.stdout


def test_environment_hidden(grade_code: Grader, host: Host, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRADEDESCENT_TA_TOKEN", SECRET)
    monkeypatch.setenv("GRADEDESCENT_DATABASE_URL", f"postgresql://grader:{SECRET}@127.0.0.1/db")
    code = """
    import json
    import os

    def solution(func, start_point):
        print("KEYS", json.dumps(sorted(os.environ)))
        print(dict(os.environ))
        for pid in ("self", "1", "2"):
            try:
                with open(f"/proc/{pid}/environ", "rb") as file:
                    print(pid, file.read())
            except OSError as error:
                print(pid, "denied", error.errno)
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    assert SECRET not in result.stdout
    keys = json.loads(result.stdout.splitlines()[0].removeprefix("KEYS "))
    assert set(keys) <= set(ENVIRONMENT) | set(PASSED_ENVIRONMENT) | {"PWD"}


def test_network_loopback_only(grade_code: Grader, host: Host):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = f"""
        import json
        import socket

        def solution(func, start_point):
            print("INTERFACES", json.dumps([name for _, name in socket.if_nameindex()]))
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
                print("CONNECTED")
            except OSError as error:
                print("REFUSED", error.errno)
            return 0.0
        """
        result = grade_attack(grade_code, host, "lab1", code)

        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()

    assert result.verdict is Verdict.ACCEPTED
    assert 'INTERFACES ["lo"]' in result.stdout
    assert "REFUSED" in result.stdout
    assert "CONNECTED" not in result.stdout


def test_tiocsti_fails(grade_code: Grader, host: Host):
    code = """
    import fcntl
    import os
    import termios

    def solution(func, start_point):
        for fd in (0, 1, 2):
            try:
                fcntl.ioctl(fd, termios.TIOCSTI, b"x")
                print("INJECTED", fd)
            except OSError as error:
                print("fd", fd, "failed", error.errno)
        try:
            tty = os.open("/dev/tty", os.O_RDWR)
            fcntl.ioctl(tty, termios.TIOCSTI, b"x")
            print("INJECTED tty")
        except OSError as error:
            print("tty failed", error.errno)
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    assert "INJECTED" not in result.stdout
    assert result.stdout.count("failed") == 4


# The runner's Python.


def test_numpy_shadowing(grade_code: Grader, host: Host):
    code = """
    import json
    import os
    import sys

    def solution(func, start_point):
        with open("numpy.py", "w") as file:
            file.write("FAKE = True\\n")
        os.makedirs("numpy", exist_ok=True)
        with open("numpy/__init__.py", "w") as file:
            file.write("FAKE = True\\n")
        with open("sitecustomize.py", "w") as file:
            file.write("import builtins\\nbuiltins.FAKE = True\\n")
        try:
            with open("/sandbox/numpy.py", "w") as file:
                file.write("FAKE = True\\n")
            print("SOLUTION_DIR writable")
        except OSError as error:
            print("SOLUTION_DIR", error.errno)
        print("PATH", json.dumps(sys.path))
        import numpy

        print("NUMPY", numpy.__file__, hasattr(numpy, "FAKE"))
        sys.path.insert(0, os.getcwd())
        import numpy as again

        print("AGAIN", again is numpy)
        return float(numpy.float64(0.0))
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["SOLUTION_DIR"] in ("13", "30")  # EACCES or EROFS
    path = json.loads(lines["PATH"])
    assert not {"", ".", "/tmp", "/sandbox"} & set(path)
    numpy_file, fake = lines["NUMPY"].split()
    assert numpy_file.endswith("site-packages/numpy/__init__.py")
    assert fake == "False"
    assert lines["AGAIN"] == "True"


def test_root_read_only(grade_code: Grader, host: Host):
    code = """
    def solution(func, start_point):
        for directory in ("/", "/sandbox", "/dev", "/dev/shm", "/usr", "/proc/self", "/tmp"):
            try:
                with open(f"{directory}/MARKER", "w") as file:
                    file.write("x")
                print(directory, "WRITABLE")
            except OSError as error:
                print(directory, "denied", error.errno)
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    assert result.stdout.count("WRITABLE") == 1
    assert "/tmp WRITABLE" in result.stdout


# Ending the run early.


@pytest.mark.parametrize(
    ("code", "where"),
    [
        ("import os\n\ndef solution(func, start_point):\n    os._exit(0)\n", "solution returned"),
        ("def solution(func, start_point):\n    raise SystemExit(0)\n", "solution returned"),
        (
            "import sys\n\nsys.exit(0)\n\ndef solution(func, start_point):\n    return 0.0\n",
            "the file was imported",
        ),
        (
            "import os\n\nos._exit(0)\n\ndef solution(func, start_point):\n    return 0.0\n",
            "the file was imported",
        ),
    ],
    ids=["os_exit", "system_exit", "sys_exit_import", "os_exit_import"],
)
def test_exit_before_return(grade_code: Grader, host: Host, code: str, where: str):
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.NO_RESULT
    assert result.detail == f"the runner exited with status 0 before {where}"


# Lying about the result.


def test_forged_stdout(grade_code: Grader, host: Host):
    code = """
    import sys

    def solution(func, start_point):
        for point in (3.0, 2.0, 3.0):
            func(point)
        print('R {"status":"returned","point":[0.0]}')
        print('{"verdict": "accepted", "final_f": 0.0, "gap": 0.0, "reached_global": true}')
        sys.stderr.write('R {"status":"returned","point":[0.0]}\\n')
        return 3.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    score = result.scores[0]
    assert score.final_point == (3.0,)
    assert score.final_f == objective_value("lab1", (3.0,))
    assert score.evaluations == 3
    assert not score.reached_global


def test_patched_runner(grade_code: Grader, host: Host):
    code = """
    import builtins
    import json
    import math

    import numpy

    def solution(func, start_point):
        for point in (4.0, 3.5, 3.0, 3.0):
            func(point)
        numpy.sum = lambda *args, **kwargs: 0.0
        math.isfinite = lambda value: True
        math.fsum = lambda values: 0.0
        builtins.abs = lambda value: 0.0
        builtins.min = lambda *args, **kwargs: 0.0
        real_dumps = json.dumps

        def forged_dumps(value, *args, **kwargs):
            if isinstance(value, dict):
                value = {**value, "evaluations": 1, "final_f": 0.0, "gap": 0.0, "reached_global": True}
            return real_dumps(value, *args, **kwargs)

        json.dumps = forged_dumps
        return 3.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    score = result.scores[0]
    assert score.evaluations == 4
    assert score.final_point == (3.0,)
    assert score.final_f == objective_value("lab1", (3.0,))
    assert not score.reached_global


def test_lying_float(grade_code: Grader, host: Host):
    code = """
    class Liar(float):
        def __eq__(self, other):
            return True

        def __lt__(self, other):
            return True

        def __le__(self, other):
            return True

        def __float__(self):
            return 0.0

        def __repr__(self):
            return "0.0"

        __str__ = __repr__

        def __format__(self, spec):
            return "0.0"

        def __abs__(self):
            return 0.0

        def __hash__(self):
            return 0

    def solution(func, start_point):
        return Liar(3.0)
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    score = result.scores[0]
    assert type(score.final_point[0]) is float
    assert score.final_point == (3.0,)
    assert score.final_f == objective_value("lab1", (3.0,))
    assert score.gap > 0


def test_reduce_point(grade_code: Grader, host: Host):
    touched = host.work_root / f"{host.marker}-reduce"
    code = f"""
    import os

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch {touched}",))

        def __reduce_ex__(self, protocol):
            return self.__reduce__()

    def solution(func, start_point):
        return Payload()
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.INVALID_RESULT
    assert result.detail == "solution returned an object of type Payload, not a real number"
    assert not touched.exists()


@pytest.mark.parametrize(
    "returned",
    [
        "float('nan')",
        "float('inf')",
        "-float('inf')",
        "10**400",
        "10**5000",
        "1 + 2j",
        "numpy.zeros((2, 2))",
        "numpy.float64('nan')",
        "[[0.0]] * 3",
        "[]",
    ],
)
def test_invalid_point(grade_code: Grader, host: Host, returned: str):
    code = f"""
    import numpy

    def solution(func, start_point):
        return {returned}
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.INVALID_RESULT
    assert result.scores == []


# Talking to the evaluator directly.


def message(kind: bytes, payload: bytes, length: int | None = None) -> bytes:
    """Frame ``payload`` as the runner does: kind byte, 4-byte little-endian length, payload."""
    return struct.pack("<cI", kind, len(payload) if length is None else length) + payload


def doubles(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)


def request(*coordinates: float) -> bytes:
    """Frame an evaluation request: sequence number 1, then the coordinates."""
    return message(b"E", struct.pack("<Q", 1) + doubles(*coordinates))


def test_pipe_forged_report(grade_code: Grader, host: Host):
    forged = message(b"R", b'{"status":"returned","point":[0,0.12196],"evaluations":0,"gap":0.0}')
    code = f"""
    import os
    import sys
    import time

    def solution(func, start_point):
        func(start_point)
        func((0.0, 2.0))
        request_fd = int(sys.argv[2])
        os.write(request_fd, {forged!r})
        time.sleep(0.5)
        return (5.0, 5.0)
    """
    result = grade_attack(grade_code, host, "lab3", code)

    # The forged report is taken as the returned point, and is scored like one.
    assert result.verdict is Verdict.ACCEPTED
    score = result.scores[0]
    assert score.final_point == (0.0, 0.12196)
    assert score.final_f == objective_value("lab3", (0.0, 0.12196))
    assert score.evaluations == 2


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (message(b"E", b"1" * 64, length=2**20), "the runner sent a message over the size cap"),
        (b"\xff\xfe garbage \x00\n", "the runner sent a malformed message (b'\\xff')"),
        (message(b"E", b"12345"), "the runner sent a malformed evaluation request"),
        (request(1.0, 2.0), "the runner sent a point of the wrong dimension"),
        (message(b"R", b"[1, 2]"), "the runner sent a malformed report"),
        (message(b"R", b'{"status":"returned","point":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), None),
        (message(b"R", b'{"status":"returned","point":' + b"[" * 200 + b"0.0" + b"]" * 200 + b"}"), None),
        (message(b"R", b'{"status":"returned","point":' + b"[" * 1400 + b"0.0" + b"]" * 1400 + b"}"), None),
        (
            message(b"R", b'{"status":"returned","point":' + b"9" * 5000 + b"}"),
            "the runner sent a malformed report",
        ),
        (message(b"R", b'{"status":"returned","point":{"invalid":"' + b"x" * 200_000 + b'"}}'), None),
        (request(1.0) * 100_000, "the runner stopped reading the evaluator's replies"),
    ],
    ids=[
        "giant_length",
        "garbage",
        "bad_number",
        "wrong_dimension",
        "report_not_object",
        "deep_json",
        "deep_point",
        "deeper_point",
        "huge_integer",
        "huge_message",
        "request_flood",
    ],
)
def test_pipe_malformed(grade_code: Grader, host: Host, payload: bytes, detail: str | None):
    code = f"""
    import os
    import sys
    import time

    def solution(func, start_point):
        request_fd = int(sys.argv[2])
        payload = {payload!r}
        while payload:
            payload = payload[os.write(request_fd, payload):]
        time.sleep(3600)
    """
    result = grade_attack(grade_code, host, "lab1", code, wall_time=5)

    assert result.verdict is Verdict.INVALID_RESULT
    if detail is not None:
        assert result.detail == detail


def test_threads_after_return(grade_code: Grader, host: Host):
    # The helper thread starts calling func only once the main thread has left run_case, that is
    # after the runner reported the returned point, so none of its calls may count.
    code = """
    import sys
    import threading

    def main_thread_in_solution():
        frame = sys._current_frames().get(threading.main_thread().ident)
        while frame is not None:
            if frame.f_code.co_name == "run_case":
                return True
            frame = frame.f_back
        return False

    def keep_calling(func):
        while main_thread_in_solution():
            pass
        for _ in range(2000):
            try:
                func(0.0)
            except Exception:
                pass

    def solution(func, start_point):
        for point in (5.0, 4.0, 3.0):
            func(point)
        threading.Thread(target=keep_calling, args=(func,)).start()
        return 3.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED
    score = result.scores[0]
    assert score.evaluations == 3
    assert result.records[0].points == [(5.0,), (4.0,), (3.0,)]
    assert score.final_f == objective_value("lab1", (3.0,))


@pytest.mark.parametrize(
    "leak",
    [
        'raise ValueError(f"start point {start_point!r}")',
        'return type(f"Start{start_point!r}", (), {})()',
        "return [0.0] * int(start_point)",
        'os.write(int(sys.argv[2]), b\'R {"status":"error","kind":"x","message":"%r"}\\n\' % start_point)',
    ],
    ids=["exception", "type_name", "length", "forged_report"],
)
def test_hidden_start_point_leak(grade_code: Grader, host: Host, leak: str):
    lab = get_lab("lab1")
    hidden = hidden_instance("lab1", 20240601)
    code = f"""
    import os
    import sys
    import time

    def solution(func, start_point):
        print("start", start_point)
        if start_point == {lab.public.start_point[0]!r}:
            return start_point
        {leak}
        time.sleep(3600)
    """
    result = grade_code("lab1", code, cases=[lab.public, hidden], wall_time=5)
    check_aftermath(grade_code, host)

    visible_text = result.detail + result.stdout + result.stderr
    assert result.verdict in (Verdict.RUNTIME_ERROR, Verdict.INVALID_RESULT)
    assert repr(hidden.start_point[0]) not in visible_text
    assert str(int(hidden.start_point[0])) not in visible_text
    assert "on hidden case 2; details of hidden cases are not shown" in result.detail


# What the runner is allowed.


def test_math_libraries_single_threaded(grade_code: Grader, host: Host):
    code = """
    import json
    import os

    def solution(func, start_point):
        import torch

        names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        print(json.dumps({"env": [os.environ.get(name) for name in names], "torch": torch.get_num_threads()}))
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    report = json.loads(result.stdout)
    assert report["env"] == ["1", "1", "1"]
    assert report["torch"] == 1


def test_runner_unprivileged(grade_code: Grader, host: Host):
    code = """
    import json
    import os
    import resource

    def solution(func, start_point):
        with open("/proc/self/status") as file:
            status = dict(line.split(":\\t", 1) for line in file.read().splitlines())
        print(json.dumps({
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "caps": {name: status[name].strip() for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
            "no_new_privs": status["NoNewPrivs"].strip(),
            "nproc": resource.getrlimit(resource.RLIMIT_NPROC),
        }))
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code, processes=32)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    report = json.loads(result.stdout)
    expected_uid = SANDBOX_UID_BASE if os.geteuid() == 0 else 65534
    assert report["uid"] == expected_uid
    assert report["euid"] == expected_uid
    assert report["gid"] == expected_uid
    assert report["groups"] in ([], [expected_uid])
    assert set(report["caps"].values()) == {"0000000000000000"}
    assert report["no_new_privs"] == "1"
    assert report["nproc"] == [32, 32]


def test_pid_namespace(grade_code: Grader, host: Host):
    code = """
    import json
    import os

    def solution(func, start_point):
        pids = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
        with open("/proc/1/cmdline", "rb") as file:
            init = file.read().split(b"\\0")[0].decode()
        print(json.dumps({"pids": pids, "init": init, "self": os.getpid()}))
        return 0.0
    """
    result = grade_attack(grade_code, host, "lab1", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    report = json.loads(result.stdout)
    assert report["pids"] == [1, 2]
    assert report["self"] == 2
    assert os.path.basename(report["init"]) == "bwrap"


# The service's own failures.


def test_bwrap_failure(grade_code: Grader, host: Host, monkeypatch: pytest.MonkeyPatch):
    original = bwrap.sandbox_arguments

    def bad_bind(*args: object, **kwargs: object) -> list[str]:
        arguments = original(*args, **kwargs)  # type: ignore[arg-type]
        return arguments[:-1] + ["--ro-bind", "/nonexistent/gradedescent-bind-source", "/missing", "--"]

    monkeypatch.setattr(bwrap, "sandbox_arguments", bad_bind)
    with pytest.raises(SandboxError, match="the sandbox failed before the runner started"):
        grade_code("lab1", ORDINARY)
    monkeypatch.undo()
    check_aftermath(grade_code, host)


def test_missing_tool(grade_code: Grader, host: Host, monkeypatch: pytest.MonkeyPatch):
    original = sandbox.build_command

    def missing_prlimit(*args: object, **kwargs: object) -> list[str]:
        command = original(*args, **kwargs)  # type: ignore[arg-type]
        return ["/nonexistent/prlimit", *command[1:]]

    monkeypatch.setattr(sandbox, "build_command", missing_prlimit)
    with pytest.raises(SandboxError, match="could not start the runner"):
        grade_code("lab1", ORDINARY)
    monkeypatch.undo()
    check_aftermath(grade_code, host)


def test_sandbox_none_warns(tmp_path: Path):
    server = start_server(tmp_path / "data", {"GRADEDESCENT_SANDBOX": "none", "GRADEDESCENT_WORKERS": "1"})
    try:
        log = server.log()
    finally:
        stop_server(server)

    assert "WARNING" in log
    assert "GRADEDESCENT_SANDBOX=none: student code runs without isolation" in log
