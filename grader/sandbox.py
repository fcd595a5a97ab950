"""Launch the runner in a sandbox.

Theory of operation
-------------------
Every run starts one process tree::

    prlimit (rlimits) -> bwrap (namespaces, mounts) -> setpriv (uid, caps) -> python runner.py

``prlimit`` sets the resource limits, which survive every later exec. The
CPU limit's hard value is one second above its soft value, so a runner over
the limit first gets SIGXCPU, which the evaluator can tell apart from other
deaths. ``bwrap`` (bubblewrap) unshares the PID, network, IPC, UTS and cgroup
namespaces, so the run sees only its own processes and a loopback interface,
and builds a new root file system from read-only binds of ``/usr``, the
Python installation and its site-packages, plus a fresh size-capped tmpfs as
working directory. The data directory, the repository, other runs and
everything else on the host are not mounted at all. The root and ``/dev``
are remounted read-only, so the tmpfs is the only place the run can write.
``--new-session`` takes the controlling terminal away (so TIOCSTI fails) and
``--die-with-parent`` ties the sandbox's life to the grader's.

When the grader runs as root, bwrap itself runs privileged and ``setpriv``
drops the runner to a per-worker-slot uid with no capabilities and
``no_new_privs``, so RLIMIT_NPROC counts only that run's processes. When the
grader is not root, bwrap builds a user namespace and maps the grader's uid
to ``nobody`` inside.

With ``--unshare-pid``, bwrap forks an init that is PID 1 of the run's
namespace; when PID 1 of a namespace dies, the kernel kills every other
process in it, including children that called ``setsid``. bwrap reports the
init's pid through ``--info-fd``, and ``start`` opens a pidfd on it. To end
a run, ``RunnerProcess.kill`` sends SIGKILL to the init through the pidfd,
waits until the pidfd reports its exit, which the kernel signals only after
every other process of the namespace is gone, and then kills and reaps
bwrap. Killing bwrap alone would not do: the init then dies through
``--die-with-parent``, but the run's processes outlive bwrap's exit by tens
of milliseconds, so they could still count against RLIMIT_NPROC when the
next run of the same worker slot starts.

The student's file and the runner are bound read-only at ``/sandbox``; the
two pipes to the evaluator are inherited as file descriptors.

``SandboxMode.NONE`` runs the same command without bwrap and setpriv. It is
for local experiments only: the runner then has access to the whole file system and
the network, and a child that calls ``setsid`` escapes the kill.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from grader import bwrap
from grader.errors import SandboxError

logger = logging.getLogger(__name__)

RUNNER_SOURCE = Path(__file__).with_name("runner.py")
ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": bwrap.WORK_DIR,
    "TMPDIR": bwrap.WORK_DIR,
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""The runner's whole environment: nothing of the grader's is passed on."""

PASSED_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""Variables copied from the grader when set: some CPUs need them for OpenBLAS to work."""


class SandboxMode(enum.StrEnum):
    BWRAP = "bwrap"
    NONE = "none"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run.

    Attributes
    ----------
    wall_time : float
        Seconds of wall-clock time for importing the file and again for each case.
    cpu_time : int
        Seconds of CPU time of each process of the run (RLIMIT_CPU soft limit,
        which sends SIGXCPU; the hard limit one second later sends SIGKILL).
    memory : int
        Bytes of address space (RLIMIT_AS). Importing torch maps about 640 MB.
    processes : int
        Processes and threads of the run's uid (RLIMIT_NPROC).
    file_size : int
        Bytes in any one file the run writes (RLIMIT_FSIZE).
    open_files : int
        Open file descriptors (RLIMIT_NOFILE).
    output : int
        Bytes of stdout plus stderr before the run is stopped.
    disk : int
        Bytes of the tmpfs working directory.
    """

    wall_time: float = 10.0
    cpu_time: int = 30
    memory: int = 1536 * 2**20
    processes: int = 64
    file_size: int = 8 * 2**20
    open_files: int = 64
    output: int = 64 * 2**10
    disk: int = 16 * 2**20


def check_available(mode: SandboxMode) -> None:
    """Raise ``SandboxError`` unless ``mode`` can start runners on this machine."""
    if mode is SandboxMode.NONE:
        return
    for tool, package in (("bwrap", "bubblewrap"), ("prlimit", "util-linux"), ("setpriv", "util-linux")):
        if shutil.which(tool) is None:
            raise SandboxError(
                f"{tool} is not installed: install the Debian package {package} "
                f"(apt-get install {package}), or set GRADEDESCENT_SANDBOX=none for local experiments only"
            )


def build_command(
    mode: SandboxMode,
    run_dir: Path,
    limits: Limits,
    slot: int,
    request_fd: int,
    reply_fd: int,
    info_fd: int | None = None,
) -> list[str]:
    """Return the argv that starts the runner on ``run_dir/solution.py``.

    ``info_fd`` is passed to bwrap's ``--info-fd``, where bwrap writes the pid
    of the sandbox's init as JSON and closes it; the mode NONE ignores it.
    """
    prlimit = [
        "prlimit",
        f"--cpu={limits.cpu_time}:{limits.cpu_time + 1}",
        f"--as={limits.memory}",
        f"--fsize={limits.file_size}",
        f"--nofile={limits.open_files}",
        f"--nproc={limits.processes}",
        "--core=0",
        "--",
    ]
    python = [sys.executable, "-I", "-B"]
    if mode is SandboxMode.NONE:
        runner = [str(run_dir / "runner.py"), str(run_dir / "solution.py")]
        return prlimit + python + runner + [str(request_fd), str(reply_fd)]

    runner = [f"{bwrap.SANDBOX_DIR}/runner.py", f"{bwrap.SANDBOX_DIR}/solution.py"]
    files = [run_dir / "runner.py", run_dir / "solution.py"]
    return (
        prlimit
        + bwrap.sandbox_arguments(files, limits.disk, info_fd)
        + bwrap.privilege_drop(slot)
        + python
        + runner
        + [str(request_fd), str(reply_fd), "--clear-keyrings"]
    )


INFO_TIMEOUT_SECONDS = 10.0
"""How long ``start`` waits for bwrap to report the pid of the sandbox's init."""

KILL_TIMEOUT_SECONDS = 10.0
"""How long ``RunnerProcess.kill`` waits for the sandbox's processes to be gone after SIGKILL."""


def prepare_run_dir(run_dir: Path, code: str) -> None:
    """Write the student's file and a copy of the runner, readable by the sandbox uid."""
    run_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    (run_dir / "solution.py").write_text(code, encoding="utf-8")
    shutil.copyfile(RUNNER_SOURCE, run_dir / "runner.py")
    for name in ("solution.py", "runner.py"):
        os.chmod(run_dir / name, 0o644)


class RunnerProcess:
    """A started runner: its pipes, and its exit status and resource usage once reaped.

    Reaping goes through ``os.wait4`` rather than ``Popen.wait`` so that the
    run's own CPU time is known even while other runs are going on.

    ``init_pidfd`` is a pidfd of the sandbox's init (PID 1 of the run's PID
    namespace), or None in the mode NONE or when bwrap ended before it could
    be opened.
    """

    def __init__(self, popen: subprocess.Popen[bytes], mode: SandboxMode) -> None:
        self.popen = popen
        self.mode = mode
        self.init_pidfd: int | None = None
        self.exit_code: int | None = None
        # NOTE: in the mode BWRAP this is bwrap's own CPU time only: bwrap exits without
        # reaping its init, so the runner's time never reaches this rusage.
        self.cpu_seconds = 0.0
        self.max_rss_bytes = 0

    @property
    def stdout_fd(self) -> int:
        assert self.popen.stdout is not None
        return self.popen.stdout.fileno()

    @property
    def stderr_fd(self) -> int:
        assert self.popen.stderr is not None
        return self.popen.stderr.fileno()

    @property
    def signal(self) -> int | None:
        """The signal that ended the runner, or None if it exited or still runs."""
        code = self.exit_code
        if code is None:
            return None
        if code < 0:
            return -code
        if self.mode is SandboxMode.BWRAP and 128 < code <= 128 + signal.SIGRTMAX:
            # bwrap exits with 128 + N when its child dies by signal N. NOTE: a runner that calls
            # sys.exit(128 + N) itself looks the same from here.
            return code - 128
        return None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the runner to end; return whether it has."""
        deadline = time.monotonic() + timeout
        while self.exit_code is None:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid:
                self._reaped(status, usage)
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def kill(self) -> None:
        """SIGKILL every process of the run, wait until they are gone, and reap bwrap.

        In the mode NONE, only the runner's process group is killed and the runner reaped.
        """
        if self.init_pidfd is not None:
            _kill_init(self.init_pidfd, self.popen.pid)
            os.close(self.init_pidfd)
            self.init_pidfd = None
        if self.exit_code is None:
            try:
                os.killpg(self.popen.pid, 9)
            except ProcessLookupError:
                pass
            _, status, usage = os.wait4(self.popen.pid, 0)
            self._reaped(status, usage)
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()

    def _reaped(self, status: int, usage: resource.struct_rusage) -> None:
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.exit_code  # Keeps Popen from waiting again.
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.max_rss_bytes = usage.ru_maxrss * 1024


def _kill_init(pidfd: int, bwrap_pid: int) -> None:
    """SIGKILL the sandbox's init and wait until every process of its PID namespace is gone."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        return  # The init was already reaped, so its namespace is empty.
    # A pidfd turns readable when its process exits, and the kernel lets the init of a
    # PID namespace exit only after it has killed and reaped every other process in it.
    with selectors.DefaultSelector() as selector:
        selector.register(pidfd, selectors.EVENT_READ)
        if not selector.select(KILL_TIMEOUT_SECONDS):
            logger.error(
                "the processes of the sandbox under bwrap pid %d were still running %g s after SIGKILL; "
                "they may count against the next run's process limit",
                bwrap_pid,
                KILL_TIMEOUT_SECONDS,
            )


def _read_until_eof(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise SandboxError(f"bwrap did not report the sandbox's pid within {timeout:g} s")
            chunk = os.read(fd, 4096)
            if not chunk:
                return data
            data += chunk


def _parent_pid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def _open_init(info_fd: int, bwrap_pid: int) -> int | None:
    """Open a pidfd of the sandbox's init from bwrap's ``--info-fd`` report.

    Returns None when bwrap ended before reporting (it failed to build the
    sandbox, so no runner started) or before the pidfd was open.

    Raises
    ------
    SandboxError
        If bwrap neither reports nor closes the pipe within ``INFO_TIMEOUT_SECONDS``,
        or reports something that is not its documented JSON.
    """
    report = _read_until_eof(info_fd, INFO_TIMEOUT_SECONDS)
    if not report:
        return None
    try:
        init_pid = int(json.loads(report)["child-pid"])
    except (ValueError, KeyError, TypeError) as error:
        raise SandboxError(f"bwrap's --info-fd report is not valid: {report[:200]!r}") from error
    try:
        pidfd = os.pidfd_open(init_pid)
    except ProcessLookupError:
        return None  # The init was already reaped, so nothing of the sandbox is left.
    # The pid names the init only while the init is bwrap's child. Once bwrap is gone, the
    # init is reparented, and after it exits its pid may belong to any new process.
    if _parent_pid(init_pid) != bwrap_pid:
        os.close(pidfd)
        return None
    return pidfd


def runner_environment() -> dict[str, str]:
    """Return the runner's whole environment: ``ENVIRONMENT`` plus the set ``PASSED_ENVIRONMENT``."""
    environment = dict(ENVIRONMENT)
    for name in PASSED_ENVIRONMENT:
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment


def _spawn(
    command: list[str], cwd: Path, pass_fds: tuple[int, ...], output: int | IO[bytes] = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=pass_fds,
            env=runner_environment(),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as error:
        raise SandboxError(f"could not start the runner with {command[0]!r}: {error}") from error


def start(
    mode: SandboxMode, run_dir: Path, limits: Limits, slot: int, request_fd: int, reply_fd: int
) -> RunnerProcess:
    """Start the runner; its stdout and stderr are pipes the caller must drain.

    Raises
    ------
    SandboxError
        If the sandbox cannot be started.
    """
    if mode is SandboxMode.NONE:
        plain = build_command(mode, run_dir, limits, slot, request_fd, reply_fd)
        return RunnerProcess(_spawn(plain, run_dir, (request_fd, reply_fd)), mode)

    def sandboxed(info_fd: int) -> list[str]:
        return build_command(mode, run_dir, limits, slot, request_fd, reply_fd, info_fd)

    return _start_bwrap(sandboxed, run_dir, (request_fd, reply_fd), subprocess.PIPE)


ZYGOTE_OPEN_FILES = 256
"""RLIMIT_NOFILE of a zygote: room to move a run's descriptors above 100 before it lowers the limit."""


ZYGOTE_PROCESSES = 2
"""The zygote and its cleaner, which share the run's uid and so count against its RLIMIT_NPROC."""


def zygote_command(files_dir: Path, limits: Limits, slot: int, control_fd: int, info_fd: int) -> list[str]:
    """Return the argv of a warm sandbox running ``zygote.py`` (see ``grader.warm_pool``).

    The limits here bound the zygote; each forked run lowers its own to ``limits``.
    """
    prlimit = [
        "prlimit",
        f"--as={limits.memory}",
        f"--fsize={limits.file_size}",
        f"--nofile={ZYGOTE_OPEN_FILES}",
        f"--nproc={limits.processes + ZYGOTE_PROCESSES}",
        "--core=0",
        "--",
    ]
    files = [files_dir / "runner.py", files_dir / "zygote.py"]
    zygote = [sys.executable, "-I", "-B", f"{bwrap.SANDBOX_DIR}/zygote.py", str(control_fd)]
    return (
        prlimit + bwrap.sandbox_arguments(files, limits.disk, info_fd) + bwrap.privilege_drop(slot) + zygote
    )


def start_zygote(
    files_dir: Path, limits: Limits, slot: int, control_fd: int, log: IO[bytes]
) -> RunnerProcess:
    """Start a warm sandbox whose output goes to ``log``; kill it with ``RunnerProcess.kill``."""

    def command(info_fd: int) -> list[str]:
        return zygote_command(files_dir, limits, slot, control_fd, info_fd)

    return _start_bwrap(command, files_dir, (control_fd,), log)


def _start_bwrap(
    command: Callable[[int], list[str]], cwd: Path, pass_fds: tuple[int, ...], output: int | IO[bytes]
) -> RunnerProcess:
    """Spawn ``command(info_fd)`` and open a pidfd on the sandbox's init from bwrap's report."""
    info_read, info_write = os.pipe()
    try:
        process = RunnerProcess(
            _spawn(command(info_write), cwd, (*pass_fds, info_write), output), SandboxMode.BWRAP
        )
    except SandboxError:
        os.close(info_read)
        raise
    finally:
        os.close(info_write)  # bwrap has its own copy, so EOF on info_read means bwrap is done with it.

    try:
        process.init_pidfd = _open_init(info_read, process.popen.pid)
    except SandboxError:
        process.kill()
        raise
    finally:
        os.close(info_read)
    return process
