"""A fork server inside the sandbox: import NumPy and torch once, fork one process per run.

This file runs inside a bubblewrap sandbox started by ``grader.warm_pool``,
beside ``runner.py`` and with nothing else of the grader, so it imports only
the standard library, the runner, NumPy and torch.

Usage::

    python -I -B zygote.py CONTROL_FD

Theory of operation
-------------------
The zygote pays the cost of ``import torch`` (about 2 s and 220 MB) once and
then waits on CONTROL_FD, a Unix SEQPACKET socket to the trusted side. For
each run the trusted side sends a JSON request with the run's limits, and
five file descriptors (SCM_RIGHTS): the runner's request and reply pipes,
its stdout and stderr, and a memfd with the student's code. The zygote forks.
The child leaves the zygote's session, reads the code from the memfd, lowers
its resource limits, moves to an empty working directory and takes the pipes
as its own. It then reseeds the random generators and calls ``runner.main``.
The zygote itself never reads a student's code or anything a run wrote, so
every child starts as a copy of memory that contains nothing of earlier runs.

When the child exits, or the trusted side sends a kill request, the zygote
kills and reaps every other process in the sandbox's PID namespace but one:
all of them belong to the run, because the zygote is PID 2, under bwrap's
init. The one spared is the cleaner, a helper the zygote forked before its
imports. The cleaner then empties the working directory, taking back
directories a run locked, removes System V IPC objects and checks that
nothing is left. Runs cannot create POSIX message queues (RLIMIT_MSGQUEUE is
0), which no cleanup could list. Only then does the zygote report the exit
status and resource usage.

The cleaner lives in its own process so that the names a run chose never
enter the zygote's memory, and it lives across runs because a fork of the
zygote costs milliseconds that every submission would pay. A run has the
cleaner's uid, so it can kill, stop or slow the cleaner, but not read or
change its memory. A killed or failing cleaner replies "dirty" or not at all,
and a changed one fails the state check below; either way the zygote then
requests a restart.

The zygote freezes its objects out of reach of the garbage collector before
each fork, so that a collection in a run does not write to, and copy, every
page of the zygote's heap. It also has its heap moved to huge pages once,
which makes each fork and each run's exit cheaper (``_collapse_heap``).

The zygote is not dumpable, so a run, though it has the same uid, can neither
ptrace it nor read its memory. A run can still signal it, or change its
rlimits, priority, scheduling policy or CPU affinity, and the cleaner's. So
after each run the zygote compares those of both with their values at
start. If they changed, or the cleaner found
anything left, the exit report asks for a restart and the zygote exits: the
next run gets a fresh sandbox. If the zygote dies or stops responding during
a run, the trusted side kills the whole sandbox, counts an internal error and
grades the submission again in a cold sandbox.

Messages, zygote to trusted side: ``{"event": "ready"}`` once imports are
done, ``{"event": "started", "pid": N}`` and ``{"event": "exited", "status":
S, "cpu_seconds": T, "max_rss_bytes": M, "restart": R}`` for each run, ``{"event":
"error", "message": "..."}`` if a request cannot be served. A kill request
that arrives after its run has ended gets no reply.
"""

from __future__ import annotations

import array
import ctypes
import fcntl
import gc
import json
import os
import random
import resource
import selectors
import shutil
import signal
import socket
import sys
import time
from typing import Any

WORK_DIR = "/tmp"
RUN_DIR = "/tmp/run"
MAX_REQUEST_BYTES = 256 * 1024
RUN_FDS = 5
PR_SET_DUMPABLE = 4
IPC_RMID = 0
MADV_COLLAPSE = 25
HUGE_PAGE_BYTES = 2 * 2**20
CLEANER_TIMEOUT_SECONDS = 10.0
FRESH_SIGNAL_HANDLERS: dict[signal.Signals, Any] = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGPIPE: signal.SIG_IGN,
    signal.SIGXFSZ: signal.SIG_IGN,
    signal.SIGTERM: signal.SIG_DFL,
    signal.SIGCHLD: signal.SIG_DFL,
}
"""The handlers a fresh CPython starts with: KeyboardInterrupt on SIGINT, SIGPIPE and SIGXFSZ
ignored, and the system defaults for SIGTERM and SIGCHLD."""


def _preimport() -> None:
    """Import what runs need and take optimiser steps, which load torch's lazy modules.

    Without the steps, a run's first ``torch.optim`` optimiser costs about
    0.9 s of CPU (torch 2.13, importing ``torch._dynamo``), which every
    forked run would repeat.
    """
    import numpy  # noqa: F401
    import runner  # noqa: F401
    import torch
    import torch.optim

    for dtype in (torch.float32, torch.float64):
        point = torch.tensor([0.5, 1.0], dtype=dtype, requires_grad=True)
        optimizers = (
            torch.optim.SGD([point], lr=0.1, momentum=0.9, nesterov=True),
            torch.optim.Adam([point], lr=0.1),
        )
        for optimizer in optimizers:
            optimizer.zero_grad()
            (point * point).sum().backward()
            optimizer.step()


def _collapse_heap() -> None:
    """Ask the kernel to back the zygote's private heap with 2 MiB pages, where it can.

    A fork copies one page-table entry per 4 KiB page of written memory, and a
    run's exit frees them again. With torch imported, that is about 215 MB,
    and huge pages make the fork about four times and the exit about twice
    as fast (measured: 5.3 to 1.3 ms and 9.0 to 3.0 ms on this project's
    2-CPU VM). A run that writes to a huge page gets a 4 KiB copy, as before.
    MADV_COLLAPSE needs Linux 6.1; elsewhere, or for a mapping it does not
    apply to, madvise fails and the pages stay as they are.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    with open("/proc/self/maps", encoding="ascii") as maps:
        for line in maps:
            fields = line.split()
            anonymous = len(fields) < 6 or fields[5] == "[heap]"
            if not (anonymous and fields[1].startswith("rw")):
                continue
            start, end = (int(address, 16) for address in fields[0].split("-"))
            first = -(-start // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
            last = end // HUGE_PAGE_BYTES * HUGE_PAGE_BYTES
            if last > first:
                libc.madvise(first, last - first, MADV_COLLAPSE)


def _receive(control: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """Read one request with its descriptors, or None at end of file."""
    fds = array.array("i")
    data, ancillary, _, _ = control.recvmsg(MAX_REQUEST_BYTES, socket.CMSG_SPACE(RUN_FDS * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        return None, list(fds)
    return json.loads(data), list(fds)


def _send(control: socket.socket, **message: Any) -> None:
    control.send(json.dumps(message).encode())


def _set_limits(limits: dict[str, list[int]]) -> None:
    """Lower the run's rlimits to ``{"RLIMIT_...": [soft, hard]}``."""
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _become_run(request: dict[str, Any], fds: list[int], control: socket.socket) -> None:
    """Turn the forked child into the run's runner. It never returns."""
    try:
        control.close()
        # What a fresh interpreter starts with, as in a cold run: Ctrl-C raises KeyboardInterrupt,
        # and a write to a closed pipe or past RLIMIT_FSIZE raises OSError instead of killing.
        for number, handler in FRESH_SIGNAL_HANDLERS.items():
            signal.signal(number, handler)
        os.setsid()
        # The code arrives in a memfd that only this child reads, so the student's text never
        # enters the zygote's memory, which every later run starts as a copy of.
        source_code = _read_all(fds[4])
        # Copy the descriptors above the targets first, so that no dup2 overwrites a source.
        null = os.open("/dev/null", os.O_RDONLY)
        request_fd, reply_fd, stdout_fd, stderr_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds[:4])
        sources = (fcntl.fcntl(null, fcntl.F_DUPFD, 100), stdout_fd, stderr_fd, request_fd, reply_fd)
        for target, source in enumerate(sources):
            os.dup2(source, target)
        os.closerange(5, resource.getrlimit(resource.RLIMIT_NOFILE)[0])

        os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
        solution = os.path.join(RUN_DIR, "solution.py")
        with open(solution, "wb") as file:
            file.write(source_code)
        os.chdir(RUN_DIR)
        os.environ.clear()
        os.environ.update(request["environment"])
        _set_limits(request["limits"])
        if request.get("cpu") is not None:
            os.sched_setaffinity(0, {int(request["cpu"])})
        _reseed()

        import runner

        runner.main(["runner.py", solution, "3", "4", "--clear-keyrings"])
        code = 0
    except SystemExit as exit_request:
        code = _exit_code(exit_request)
    except KeyboardInterrupt:
        # The interpreter prints the traceback and ends by SIGINT, or exits with 130 when SIGINT
        # is blocked, and the evaluator reports either.
        _print_uncaught()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    except BaseException:
        _print_uncaught()
        code = 1
    _exit_as_interpreter(code)


def _exit_code(exit_request: SystemExit) -> int:
    """Return the status the interpreter exits with for ``exit_request``, printing a code that is not an int."""
    code = exit_request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code if -(2**31) <= code < 2**31 else 255  # CPython exits with -1 when the int overflows.
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass  # The student's __str__ failed; the interpreter then prints nothing either.
    return 1


def _print_uncaught() -> None:
    """Print the exception being handled through ``sys.excepthook``, as the interpreter does."""
    try:
        sys.excepthook(*sys.exc_info())
    except BaseException:
        pass  # The student replaced the hook or stderr with something that fails.


def _exit_as_interpreter(code: int) -> None:
    """Flush the student's streams, ignoring what their replacements raise, and end the process."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _reseed() -> None:
    """Give each run fresh random state, as a separately started interpreter would have."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(int.from_bytes(os.urandom(4), "little"))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()


def _kill_everything_else(spare: int) -> None:
    """SIGKILL every process of the namespace but bwrap's init, the zygote and ``spare``, until none is left."""
    keep = {1, os.getpid(), spare}
    for _ in range(1000):
        others = [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in keep]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap_all()
        time.sleep(0.001)


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _remove_ipc_objects() -> None:
    """Remove System V shared memory, semaphores and message queues a run created."""
    libc = ctypes.CDLL(None, use_errno=True)
    for table, remove in (("shm", libc.shmctl), ("sem", libc.semctl), ("msg", libc.msgctl)):
        try:
            with open(f"/proc/sysvipc/{table}", encoding="ascii") as listing:
                rows = listing.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            identifier = int(fields[1])
            if table == "sem":
                remove(identifier, 0, IPC_RMID)
            else:
                remove(identifier, IPC_RMID, None)


def _clean_writable_directories() -> None:
    """Delete what runs wrote to the working directory, sparing the sandbox's own mounts.

    A Python installation under /tmp is bound inside the working directory, so
    entries that hold a mount point are left alone. The run cannot write there.
    """
    spared = _entries_holding_mounts(WORK_DIR)
    try:
        entries = os.listdir(WORK_DIR)
    except OSError:
        return
    for name in entries:
        path = os.path.join(WORK_DIR, name)
        if path in spared:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            _make_removable(path)
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _make_removable(directory: str) -> None:
    """Give back owner access to every directory below ``directory``, which a run may have taken away."""
    try:
        os.chmod(directory, 0o700)
        entries = os.listdir(directory)
    except OSError:
        return
    for name in entries:
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _make_removable(path)


def _entries_holding_mounts(directory: str) -> set[str]:
    """Return the entries of ``directory`` that are, or contain, a mount point."""
    spared = set()
    prefix = directory.rstrip("/") + "/"
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        for line in mounts:
            mount_point = line.split()[4]
            if mount_point.startswith(prefix):
                spared.add(prefix + mount_point[len(prefix) :].split("/")[0])
    return spared


def _serve_run(control: socket.socket, cleaner: Cleaner, request: dict[str, Any], fds: list[int]) -> None:
    gc.freeze()  # Again, for objects made since the last run, so that the run's collections skip them.
    pid = os.fork()
    if pid == 0:
        cleaner.close()
        _become_run(request, fds, control)
    for fd in fds:
        os.close(fd)
    _send(control, event="started", pid=pid)

    status, usage = _wait_or_kill(control, pid)
    _kill_everything_else(spare=cleaner.pid)
    clean = cleaner.clean()
    untouched = _untouched(cleaner)
    _send(
        control,
        event="exited",
        status=status,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_bytes=usage.ru_maxrss * 1024,
        restart=not (clean and untouched),
    )
    if not (clean and untouched):
        # Something of the run stayed behind, or it changed this process's limits or priority
        # (a run has the zygote's uid). A fresh sandbox is the only state known to be clean.
        raise SystemExit(0)


class Cleaner:
    """The zygote's handle on the cleaner process (see the theory of operation above)."""

    def __init__(self, control: socket.socket) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            ours.close()
            control.close()  # Else the trusted side would not see the zygote's end of file.
            _serve_cleaning(theirs)
        theirs.close()
        ours.settimeout(CLEANER_TIMEOUT_SECONDS)
        self._socket = ours

    def clean(self) -> bool:
        """Ask the cleaner to remove what the last run left, and return whether nothing is left."""
        try:
            # A run may have stopped the cleaner, and every process of the run is gone by now.
            os.kill(self.pid, signal.SIGCONT)
            self._socket.send(b"clean")
            return self._socket.recv(16) == b"clean"
        except OSError:
            return False  # Killed, stopped or slowed by the run: the zygote restarts.

    def close(self) -> None:
        self._socket.close()


def _serve_cleaning(requests: socket.socket) -> None:
    """Clean after each request on ``requests`` until it closes. It never returns."""
    code = 0
    try:
        while requests.recv(16):
            try:
                _remove_ipc_objects()
                _clean_writable_directories()
                reply = b"clean" if _nothing_left() else b"dirty"
            except Exception:
                reply = b"dirty"
            requests.send(reply)
    except BaseException:
        code = 1
    os._exit(code)


def _nothing_left() -> bool:
    spared = _entries_holding_mounts(WORK_DIR)
    if any(os.path.join(WORK_DIR, name) not in spared for name in os.listdir(WORK_DIR)):
        return False
    for table in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{table}", encoding="ascii") as listing:
                if len(listing.read().splitlines()) > 1:
                    return False
        except OSError:
            continue
    return True


def _process_state(pid: int) -> tuple[object, ...]:
    """Return what a run with the uid of process ``pid`` (0 for this one) could change about it.

    That is its rlimits, nice value, scheduling policy and CPUs; a ``ProcessLookupError``
    means the process is gone. The I/O priority is left out: runs write only to a
    tmpfs, which the I/O scheduler does not see.
    """
    limits = tuple(
        resource.prlimit(pid, getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")
    )
    scheduling = os.sched_getscheduler(pid), os.sched_getparam(pid).sched_priority
    return limits, os.getpriority(os.PRIO_PROCESS, pid), scheduling, tuple(sorted(os.sched_getaffinity(pid)))


def _untouched(cleaner: Cleaner) -> bool:
    """Return whether this process and the cleaner are as they were when the zygote became ready."""
    try:
        return _process_state(0) == _STARTING_STATE and _process_state(cleaner.pid) == _CLEANER_STATE
    except OSError:
        return False  # The cleaner is gone.


_STARTING_STATE: tuple[object, ...] = ()
_CLEANER_STATE: tuple[object, ...] = ()


def _wait_or_kill(control: socket.socket, pid: int) -> tuple[int, resource.struct_rusage]:
    """Wait for the run's main process, and kill it when the trusted side sends a kill request."""
    pidfd = os.pidfd_open(pid)
    selector = selectors.DefaultSelector()
    selector.register(pidfd, selectors.EVENT_READ, "exit")
    selector.register(control, selectors.EVENT_READ, "control")
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "exit":
                    _, status, usage = os.wait4(pid, 0)
                    return status, usage
                request, extra = _receive(control)
                for fd in extra:
                    os.close(fd)
                if request is None:
                    os.kill(pid, signal.SIGKILL)
                    raise SystemExit(0)  # The trusted side is gone.
                if request.get("op") == "kill":
                    os.kill(pid, signal.SIGKILL)
    finally:
        selector.close()
        os.close(pidfd)


def main(argv: list[str]) -> None:
    if os.getpid() > 2:
        # Killing "every other process" is only safe in the sandbox's own PID namespace.
        sys.exit("zygote.py must run as PID 2 of its own PID namespace (bwrap --unshare-pid)")
    control = socket.socket(fileno=int(argv[1]))
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    cleaner = Cleaner(control)  # Before the imports, so the cleaner stays small.
    _preimport()
    gc.collect()
    _collapse_heap()
    global _STARTING_STATE, _CLEANER_STATE
    _STARTING_STATE = _process_state(0)
    _CLEANER_STATE = _process_state(cleaner.pid)
    _send(control, event="ready")

    while True:
        request, fds = _receive(control)
        if request is None:
            return
        if request.get("op") == "kill":
            # The run ended before the trusted side's kill request arrived, which is not an error.
            for fd in fds:
                os.close(fd)
            continue
        if request.get("op") != "run" or len(fds) != RUN_FDS:
            for fd in fds:
                os.close(fd)
            _send(control, event="error", message=f"expected a run request with {RUN_FDS} descriptors")
            continue
        _serve_run(control, cleaner, request, fds)


if __name__ == "__main__":
    main(sys.argv)
