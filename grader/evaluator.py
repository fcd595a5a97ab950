"""The trusted side of a run: compute the runner's evaluations and record them.

One ``Evaluator`` drives one runner process through its cases. It owns the
objective of each case, counts evaluations, enforces the budget, keeps the
trajectory and watches the limits the kernel cannot enforce (wall-clock time
and output size). Everything read from the runner is parsed here as plain
numbers or size-capped JSON, and nothing in it decides a count, a value or a
verdict by itself.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import struct
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from grader import run_watch, sandbox
from grader.errors import SandboxError
from grader.run_watch import DeadlinePassed, OutputLimitExceeded, RunInterrupted, RunWatch
from grader.sandbox import Limits, SandboxMode
from grader.verdicts import DESCRIPTIONS, Verdict
from reference.labs import Instance

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 2**10
READ_SIZE = 65536
"""Bytes requested by one read of the request pipe, a pipe's default capacity. A larger size makes
``os.read`` allocate past malloc's mmap threshold, which costs an mmap and a munmap per evaluation."""
HEADER = struct.Struct("<cI")
"""A message's kind byte and payload length in bytes; ``runner.py`` documents the protocol."""
SEQUENCE = struct.Struct("<Q")
"""The number that starts an evaluation request and the reply to it."""
MAX_POINT_DEPTH = 16
"""Lists nested deeper than this in a returned point are rejected; the runner sends at most 9."""
EXIT_GRACE_SECONDS = 1.0


@dataclass
class CaseRecord:
    """The evaluator's own record of one case.

    Attributes
    ----------
    points : list of tuple of float
        Every evaluated point, in order; the budget caps its length.
    values : list of float
        ``f`` at each of ``points``.
    returned_point : tuple of float or None
        The point ``solution`` returned, parsed and shape-checked here.
    budget_spent : bool
        Whether ``func`` was called past the budget.
    error_kind : str or None
        The runner's report of why the case failed (untrusted, used only
        to pick the verdict of the student's own failure).
    """

    points: list[tuple[float, ...]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    returned_point: tuple[float, ...] | None = None
    budget_spent: bool = False
    error_kind: str | None = None


@dataclass
class RunRecord:
    """The result of one runner process over all its cases.

    Attributes
    ----------
    failure : Verdict or None
        The submission's failure, or None when every case returned a point.
    detail : str
        Why it failed, for the student: a traceback of their own frames, or a limit.
    cases : list of CaseRecord
        One record per case started, in order.
    stdout, stderr : bytes
        The runner's output up to the output limit, from before the first hidden
        case only, so that a hidden start point printed there stays hidden.
    cpu_seconds : float
        User plus system CPU time of the runner's process tree.
    wall_seconds : float
        From the runner's start to its end.
    student_cpu_seconds : float
        CPU time spent inside ``solution`` over all cases, as the runner
        reports it: untrusted, so it feeds statistics and never a score.
    """

    failure: Verdict | None = None
    detail: str = ""
    cases: list[CaseRecord] = field(default_factory=list)
    stdout: bytes = b""
    stderr: bytes = b""
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    student_cpu_seconds: float = 0.0


class RunnerLike(Protocol):
    """A started runner, cold (``sandbox.RunnerProcess``) or warm (``warm_pool.WarmRun``)."""

    exit_code: int | None
    cpu_seconds: float
    max_rss_bytes: int

    @property
    def stdout_fd(self) -> int: ...

    @property
    def stderr_fd(self) -> int: ...

    @property
    def signal(self) -> int | None: ...

    def wait(self, timeout: float) -> bool: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    """Starts a runner on ``code`` with the given pipe ends, as a warm sandbox does."""

    def launch(self, code: str, request_fd: int, reply_fd: int, limits: Limits) -> RunnerLike: ...


class _RunEnded(Exception):
    """Raised inside the event loop to stop the run with a verdict."""

    def __init__(self, verdict: Verdict | None, detail: str) -> None:
        super().__init__(detail)
        self.verdict = verdict
        self.detail = detail


def parse_point(value: Any, dimension: int) -> tuple[float, ...]:
    """Turn a returned point from the runner's JSON into ``dimension`` finite floats.

    Raises
    ------
    ValueError
        With a message for the student that names the problem.
    """
    items: list[Any] = []
    _flatten_point(value, items)
    for item in items:
        # A marker names what the runner found, which tells the student more than a count would.
        if isinstance(item, dict):
            described = _text(item.get("invalid"), 200) or "something"
            raise ValueError(f"solution returned {described}, not a real number")
    if len(items) != dimension:
        raise ValueError(
            f"solution returned {len(items)} number(s), expected a point with {dimension} "
            f"coordinate(s) (a float{' or a sequence of 2 floats' if dimension == 2 else ''})"
        )
    point = []
    for item in items:
        if isinstance(item, dict):
            described = _text(item.get("invalid"), 200) or "something"
            raise ValueError(f"solution returned {described}, not a real number")
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ValueError(f"solution returned {type(item).__name__}, not a real number")
        try:
            number = float(item)
        except OverflowError:
            raise ValueError("solution returned an integer too large for a float") from None
        if not math.isfinite(number):
            raise ValueError(f"solution returned {number!r}; the point must be finite")
        point.append(number)
    return tuple(point)


def _flatten_point(value: Any, items: list[Any], depth: int = 0) -> None:
    # The depth cap keeps a hostile report from ending the evaluator with RecursionError
    # where json.loads nests deeper than Python frames may (Python 3.12 and later).
    if isinstance(value, list):
        if depth >= MAX_POINT_DEPTH:
            raise ValueError(f"solution returned a point nested more than {MAX_POINT_DEPTH} levels deep")
        for item in value:
            _flatten_point(item, items, depth + 1)
    else:
        items.append(value)


class Evaluator:
    """Run one submission's file through a list of cases in one runner process.

    ``visible_cases`` is how many leading cases may show their output to the
    student; output from later (hidden) cases is counted but not kept.
    """

    def __init__(
        self,
        code: str,
        cases: list[Instance],
        budget: int,
        limits: Limits,
        mode: SandboxMode,
        slot: int = 0,
        visible_cases: int = 1,
        work_root: Path | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        self.code = code
        self.launcher = launcher
        self.cases = cases
        self.budget = budget
        self.limits = limits
        self.mode = mode
        self.slot = slot
        self.visible_cases = visible_cases
        # bwrap resolves bind sources from the run directory, so relative paths must not reach it.
        self.work_root = work_root.resolve() if work_root is not None else None
        self.record = RunRecord()
        self._buffer = b""
        self._case: CaseRecord | None = None
        self._instance: Instance | None = None
        # The current case's evaluation request and reply, each packed and unpacked whole.
        self._request_struct = self._reply_struct = HEADER

    def run(self) -> RunRecord:
        """Run every case and return the record; raises ``SandboxError`` on the service's failure."""
        if self.launcher is not None:
            self._run_in(None)
            return self.record
        with tempfile.TemporaryDirectory(prefix="run-", dir=self.work_root) as run_dir:
            os.chmod(run_dir, 0o755)
            sandbox.prepare_run_dir(Path(run_dir), self.code)
            self._run_in(Path(run_dir))
        return self.record

    def _run_in(self, run_dir: Path | None) -> None:
        """Start the runner, cold in ``run_dir`` or warm through the launcher, and drive it."""
        run_watch.check_wake_available()
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        started = time.monotonic()
        process: RunnerLike
        try:
            if self.launcher is not None:
                process = self.launcher.launch(self.code, request_write, reply_read, self.limits)
            else:
                assert run_dir is not None
                process = sandbox.start(self.mode, run_dir, self.limits, self.slot, request_write, reply_read)
        except SandboxError:
            for fd in (request_read, request_write, reply_read, reply_write):
                os.close(fd)
            raise
        os.close(request_write)
        os.close(reply_read)
        os.set_blocking(reply_write, False)

        self._reply_fd = reply_write
        self._process = process
        self._watch = RunWatch(request_read, process.stdout_fd, process.stderr_fd, self.limits.output)
        try:
            self._drive(request_read)
        except _RunEnded as ended:
            if ended.verdict is not None and self.record.failure is None:
                self._record_failure(ended.verdict, ended.detail)
        finally:
            os.close(request_read)
            os.close(reply_write)
            self._finish(process, started)

    def _drive(self, request_fd: int) -> None:
        self._phase = "startup"
        self._next_case = 0
        try:
            self._watch.start(self.limits.wall_time)
            self._serve(request_fd)
        except RunInterrupted as interrupt:
            raise self._ended_by(interrupt) from None
        finally:
            self._watch.stop()

    def _serve(self, request_fd: int) -> None:
        # The loop runs once per evaluation, so it blocks on the request pipe alone, because the
        # watch reads the output and keeps the clock. It replies to a lone in-budget evaluation
        # request itself, from locals that it refreshes when a case starts. Every other message
        # takes the general path (_take_requests).
        read, write = os.read, os.write
        watch, reply_fd = self._watch, self._reply_fd
        case: CaseRecord | None = None
        size, header, reply_length, budget = 0, (b"", 0), 0, self.budget
        unpack, pack = HEADER.unpack, HEADER.pack
        value_and_gradient: Callable[[Sequence[float]], tuple[float, list[float]]] | None = None
        points: list[tuple[float, ...]] = []
        values: list[float] = []
        while True:
            chunk = read(request_fd, READ_SIZE)
            if watch.interrupt is not None:
                raise watch.interrupt  # Before parsing: the watch's wake-up byte may be in chunk.
            if self._case is not case:
                case, instance = self._case, self._instance
                if case is not None and instance is not None:
                    size = self._request_struct.size
                    header = (b"E", size - HEADER.size)
                    reply_length = self._reply_struct.size - HEADER.size
                    unpack, pack = self._request_struct.unpack, self._reply_struct.pack
                    value_and_gradient = instance.objective.value_and_gradient
                    points, values = case.points, case.values
            if (
                case is not None
                and value_and_gradient is not None
                and len(chunk) == size
                and not self._buffer
            ):
                message = unpack(chunk)
                if message[:2] == header and len(values) < budget:
                    point = message[3:]
                    value, gradient = value_and_gradient(point)
                    points.append(point)
                    values.append(value)
                    try:
                        write(reply_fd, pack(b"V", reply_length, message[2], value, *gradient))
                    except OSError as error:
                        self._reply_failed(error)
                    continue
            if not chunk:
                self._runner_exited(self._process)
            self._take_requests(chunk)

    def _ended_by(self, interrupt: RunInterrupted) -> _RunEnded | SandboxError:
        """Turn the watch's interrupt into the run's verdict, or into the service's own failure."""
        if isinstance(interrupt, DeadlinePassed):
            if self._phase == "startup":
                return SandboxError(f"the runner did not start within {self.limits.wall_time:g} s")
            return _RunEnded(Verdict.TIME_LIMIT, self._time_limit_message())
        if isinstance(interrupt, OutputLimitExceeded):
            return _RunEnded(Verdict.OUTPUT_LIMIT, self._output_limit_message())
        return SandboxError(str(interrupt))

    def _take_requests(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buffer)
            if kind not in (b"E", b"R"):
                raise _RunEnded(Verdict.INVALID_RESULT, f"the runner sent a malformed message ({kind!r})")
            if length > MAX_MESSAGE_BYTES:
                raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent a message over the size cap")
            end = HEADER.size + length
            if len(self._buffer) < end:
                return
            payload = self._buffer[HEADER.size : end]
            self._buffer = self._buffer[end:]
            self._handle_message(kind, payload)

    def _handle_message(self, kind: bytes, payload: bytes) -> None:
        if kind == b"E":
            self._evaluate(payload)
        else:
            self._on_report(payload)

    def _evaluate(self, payload: bytes) -> None:
        if len(payload) < SEQUENCE.size or len(payload) % 8:
            raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent a malformed evaluation request")
        sequence, coordinates = payload[: SEQUENCE.size], payload[SEQUENCE.size :]
        case, instance = self._case, self._instance
        if case is None or instance is None:
            self._send(b"X", sequence + b"no case is running")  # A thread left over from a finished case.
            return
        if len(coordinates) != 8 * instance.objective.dimension:
            raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent a point of the wrong dimension")
        if len(case.values) >= self.budget:
            case.budget_spent = True
            self._send(b"B", sequence + str(self.budget).encode("ascii"))
            return
        point = struct.unpack(f"<{len(coordinates) // 8}d", coordinates)
        value, gradient = instance.objective.value_and_gradient(point)
        case.points.append(point)
        case.values.append(value)
        (number,) = SEQUENCE.unpack(sequence)
        self._write(
            self._reply_struct.pack(b"V", self._reply_struct.size - HEADER.size, number, value, *gradient)
        )

    def _send(self, kind: bytes, payload: bytes) -> None:
        self._write(HEADER.pack(kind, len(payload)) + payload)

    def _write(self, message: bytes) -> None:
        try:
            os.write(self._reply_fd, message)
        except OSError as error:
            self._reply_failed(error)

    @staticmethod
    def _reply_failed(error: OSError) -> None:
        """Turn a failed write to the runner into a verdict, or ignore it if the runner is gone."""
        if isinstance(error, BlockingIOError):
            # Only a runner that sends requests without reading the replies fills the pipe.
            raise _RunEnded(
                Verdict.INVALID_RESULT, "the runner stopped reading the evaluator's replies"
            ) from None
        if not isinstance(error, BrokenPipeError):
            raise error
        # A broken pipe means the runner is gone; its exit is handled when the request pipe closes.

    def _on_report(self, payload: bytes) -> None:
        try:
            report = json.loads(payload)
        except (ValueError, RecursionError):
            raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent a malformed report") from None
        if not isinstance(report, dict):
            raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent a malformed report")
        status = report.get("status")
        if self._phase == "startup":
            if status != "started":
                raise SandboxError(f"the runner's first report was {status!r}, expected 'started'")
            self._watch.restart_clock(self.limits.wall_time)  # First: a startup timeout is the service's.
            self._phase = "import"
            return
        if self._phase == "import":
            if status == "ready":
                self._start_next_case()
                return
            if status == "error":
                raise _RunEnded(_import_failure(report.get("kind")), _text(report.get("message")))
            raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent an unexpected report")
        if self._case is None:
            return  # A second report for a finished case, for example from a forked child.

        case, instance = self._case, self._instance
        assert instance is not None
        self.record.student_cpu_seconds += _reported_seconds(report.get("cpu_seconds"))
        if status == "returned":
            try:
                case.returned_point = parse_point(report.get("point"), instance.objective.dimension)
            except ValueError as error:
                raise _RunEnded(Verdict.INVALID_RESULT, str(error)) from None
        elif status == "error":
            case.error_kind = _text(report.get("kind"))
            if not (case.budget_spent and case.points):
                raise _RunEnded(_runtime_failure(case.error_kind), _text(report.get("message")))
            last = case.points[-1]
            if not all(math.isfinite(v) for v in last):
                # The case would be scored on this point, and f there is not a number to rank.
                coordinates = ", ".join(repr(v) for v in last)
                raise _RunEnded(
                    Verdict.INVALID_RESULT,
                    f"the evaluation budget was spent and the last point evaluated, ({coordinates}), is not "
                    "finite, so there is no point to score; return the best finite point found instead",
                )
        else:
            raise _RunEnded(Verdict.INVALID_RESULT, "the runner sent an unexpected report")
        self._start_next_case()

    def _start_next_case(self) -> None:
        # First, before any state changes: a deadline or an output limit that the watch has already
        # acted on belongs to the case that just ended.
        self._watch.restart_clock(self.limits.wall_time)
        starts_hidden_case = len(self.cases) > self._next_case >= self.visible_cases
        self._watch.drain(hide_later_output=starts_hidden_case)
        if self._next_case >= len(self.cases):
            self._case = self._instance = None
            self._send(b"Q", b"")
            raise _RunEnded(None, "")
        self._instance = self.cases[self._next_case]
        dimension = self._instance.objective.dimension
        self._request_struct = struct.Struct(f"<cIQ{dimension}d")
        self._reply_struct = struct.Struct(f"<cIQ{dimension + 1}d")
        self._case = CaseRecord()
        self.record.cases.append(self._case)
        self._next_case += 1
        self._phase = "case"
        start = self._instance.start_point
        self._send(b"C", struct.pack(f"<{len(start)}d", *start))

    def _runner_exited(self, process: RunnerLike) -> None:
        """Turn the runner's end before its last report into a verdict."""
        if self._phase == "startup":
            process.wait(EXIT_GRACE_SECONDS)
            self._watch.drain()
            message = self._watch.stderr.decode("utf-8", "replace")[-2000:]
            raise SandboxError(
                f"the sandbox failed before the runner started (exit {process.exit_code}): {message}"
            )
        if not process.wait(EXIT_GRACE_SECONDS):
            raise _RunEnded(Verdict.NO_RESULT, "the runner closed the pipe to the evaluator")
        ended_by = process.signal
        if ended_by == signal.SIGXCPU or (
            ended_by == signal.SIGKILL and process.cpu_seconds >= self.limits.cpu_time - 1
        ):
            raise _RunEnded(
                Verdict.TIME_LIMIT, f"the run used more than {self.limits.cpu_time} s of CPU time"
            )
        if ended_by is not None:
            try:
                name = signal.Signals(ended_by).name
            except ValueError:
                name = f"signal {ended_by}"  # A real-time signal, which has no name in the enum.
            raise _RunEnded(Verdict.RUNTIME_ERROR, f"the runner was killed by {name}")
        where = "the file was imported" if self._phase == "import" else "solution returned"
        raise _RunEnded(
            Verdict.NO_RESULT, f"the runner exited with status {process.exit_code} before {where}"
        )

    def _record_failure(self, verdict: Verdict, detail: str) -> None:
        """Store the run's failure, without its detail when it happened in a hidden case.

        A detail can carry text of the runner's choosing (a traceback, an
        exception message, a type name), and with it a hidden start point.
        """
        self.record.failure = verdict
        if self._watch.keeps_output:
            self.record.detail = detail
        else:
            self.record.detail = f"{DESCRIPTIONS[verdict]}, on hidden case {self._next_case}; details of hidden cases are not shown"

    def _output_limit_message(self) -> str:
        return f"the run printed more than {self.limits.output} bytes; print less, or only at the end"

    def _time_limit_message(self) -> str:
        if self._phase == "import":
            return f"importing the file took longer than {self.limits.wall_time:g} s"
        return f"solution ran longer than {self.limits.wall_time:g} s on case {self._next_case}"

    def _finish(self, process: RunnerLike, started: float) -> None:
        if self.record.failure is None:
            process.wait(EXIT_GRACE_SECONDS)  # After "Q" the runner exits by itself.
            try:
                self._watch.drain()
            except OutputLimitExceeded:
                self._record_failure(Verdict.OUTPUT_LIMIT, self._output_limit_message())
        process.kill()
        self.record.stdout, self.record.stderr = self._watch.stdout, self._watch.stderr
        self.record.wall_seconds = time.monotonic() - started
        self.record.cpu_seconds = process.cpu_seconds


def _text(value: Any, limit: int = 8000) -> str:
    return value[:limit] if isinstance(value, str) else ""


_FAILURE_KINDS = {
    "syntax_error": Verdict.SYNTAX_ERROR,
    "import_error": Verdict.IMPORT_ERROR,
    "missing_solution": Verdict.MISSING_SOLUTION,
    "memory": Verdict.MEMORY_LIMIT,
    "process": Verdict.PROCESS_LIMIT,
}


def _import_failure(kind: Any) -> Verdict:
    return _FAILURE_KINDS.get(kind, Verdict.IMPORT_ERROR) if isinstance(kind, str) else Verdict.IMPORT_ERROR


def _runtime_failure(kind: str) -> Verdict:
    verdict = _FAILURE_KINDS.get(kind, Verdict.RUNTIME_ERROR)
    return verdict if verdict in (Verdict.MEMORY_LIMIT, Verdict.PROCESS_LIMIT) else Verdict.RUNTIME_ERROR


def _reported_seconds(value: Any) -> float:
    """Accept a runner-reported duration only as a finite, non-negative number of at most an hour."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if 0.0 <= value <= 3600.0 else 0.0
