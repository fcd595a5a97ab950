"""Run one student's solution file: the untrusted side of the grader.

This file runs inside the sandbox with nothing of the grader beside it, so it
imports only the standard library (and NumPy or torch when the student's code
brings them). Nothing it sends is trusted: the evaluator on the other end of
the pipes counts evaluations, computes every value and re-evaluates the
returned point itself.

Usage::

    python -I runner.py SOLUTION_FILE REQUEST_FD REPLY_FD [--clear-keyrings]

``--clear-keyrings`` runs ``clear_keyrings`` first. Only a sandbox passes
it: without one, the keyrings are those of the service's own uid.

Protocol: each message is a kind byte, the payload's length as a 4-byte
little-endian unsigned integer, and the payload. Points and values are
little-endian IEEE doubles, so they cross the pipe exactly and without
formatting, which matters once per evaluation. An evaluation request starts
with a sequence number (8-byte little-endian unsigned) that its reply
echoes. A signal handler that raises while ``func`` waits can leave a reply
unread, and the number marks that stale reply so the next read skips it.

evaluator to runner (REPLY_FD):
    ``C`` start point (doubles)                   start a case at this point
    ``V`` sequence, f, then the gradient           value and gradient for request ``sequence``
    ``B`` sequence, budget (ASCII digits)          the budget is spent, no value
    ``X`` sequence, reason (ASCII)                 the request was not evaluated
    ``Q`` (empty)                                  no more cases: exit
runner to evaluator (REQUEST_FD):
    ``E`` sequence, point (doubles)                evaluate ``func`` here
    ``R`` report (JSON)                            ``started``, ``ready``, ``returned`` or ``error``
"""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import json
import math
import os
import reprlib
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

MAX_ERROR_CHARS = 8000
MAX_POINT_ITEMS = 4096
HEADER = struct.Struct("<cI")
"""A message's kind byte and payload length in bytes."""
SEQUENCE = struct.Struct("<Q")
REPLIES = (b"V", b"B", b"X")
"""The kinds of message sent in reply to an evaluation request."""
READ_SIZE = 65536


KEYCTL_SYSCALL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_CLEAR = 7
KEYCTL_GET_PERSISTENT = 22
KEY_SPEC_PROCESS_KEYRING = -2
KEY_SPEC_USER_KEYRING = -4
KEY_SPEC_USER_SESSION_KEYRING = -5


class BudgetExhausted(RuntimeError):
    """Raised by ``func`` once the lab's evaluation budget is spent."""


class Channel:
    """The runner's end of the pipes to the evaluator."""

    def __init__(self, request_fd: int, reply_fd: int) -> None:
        self._request_fd = request_fd
        self._reply_fd = reply_fd
        self._pending = b""
        """Bytes read from the reply pipe past the last whole message."""
        # Student threads may call func concurrently; one request is in flight at a time.
        self._lock = threading.Lock()
        self.budget_spent = False
        self.case = 0
        """The number of the running case. A func of an earlier case sends nothing more."""
        self._sequence = itertools.count(1)

    def send(self, kind: bytes, payload: bytes) -> None:
        data = HEADER.pack(kind, len(payload)) + payload
        while data:
            written = os.write(self._request_fd, data)
            data = data[written:]

    def receive(self) -> tuple[bytes, bytes]:
        """Return the next message's kind and payload, skipping replies that no func waits for."""
        with self._lock:
            while True:
                kind, payload = self._receive()
                if kind not in REPLIES:
                    return kind, payload

    def _receive(self) -> tuple[bytes, bytes]:
        self._fill(HEADER.size)
        kind, length = HEADER.unpack_from(self._pending)
        end = HEADER.size + length
        self._fill(end)
        payload = self._pending[HEADER.size : end]
        self._pending = self._pending[end:]
        return kind, payload

    def _fill(self, size: int) -> None:
        while len(self._pending) < size:
            chunk = os.read(self._reply_fd, READ_SIZE)
            if not chunk:
                raise SystemExit(0)  # The evaluator closed the pipe: grading is over.
            self._pending += chunk

    def report(self, **fields: Any) -> None:
        self.send(b"R", json.dumps(fields, separators=(",", ":")).encode("ascii"))

    def end_case(self, **fields: Any) -> None:
        """Report how the case ended, once no evaluation of it is in flight.

        It holds the lock, so every evaluation request of the case reaches
        the pipe before the report and each reply is read before the next
        case's start message.
        """
        with self._lock:
            self.case += 1
            self.report(**fields)

    def evaluation(self, dimension: int) -> Callable[[Sequence[float]], tuple[float, ...]]:
        """Build the call that evaluates a point of ``dimension`` floats: it returns f, then the gradient."""
        request = struct.Struct(f"<cIQ{dimension}d")
        reply = struct.Struct(f"<cIQ{dimension + 1}d")
        request_length, reply_length = request.size - HEADER.size, reply.size - HEADER.size
        case = self.case
        request_fd, reply_fd, lock, read, write = (
            self._request_fd,
            self._reply_fd,
            self._lock,
            os.read,
            os.write,
        )
        sequence_numbers = self._sequence

        def evaluate(point: Sequence[float]) -> tuple[float, ...]:
            sequence = next(sequence_numbers)
            message = request.pack(b"E", request_length, sequence, *point)
            with lock:
                if self.case != case:
                    raise RuntimeError(
                        "func was called after solution returned; stop every thread that calls it first"
                    )
                write(request_fd, message)  # A pipe write this short is atomic and whole.
                if not self._pending:
                    # The evaluator writes each reply whole, so one read returns exactly it.
                    data = read(reply_fd, READ_SIZE)
                    if len(data) == reply.size:
                        unpacked = reply.unpack(data)
                        if unpacked[0] == b"V" and unpacked[1] == reply_length and unpacked[2] == sequence:
                            return unpacked[3:]
                    if not data:
                        raise SystemExit(0)
                    self._pending = data
                kind, payload = self._reply_to(sequence)
            if kind == b"V" and len(payload) == reply_length - SEQUENCE.size:
                return struct.unpack(f"<{dimension + 1}d", payload)
            text = payload.decode("ascii", "replace")
            if kind == b"B":
                self.budget_spent = True
                raise BudgetExhausted(
                    f"the evaluation budget of {text} calls of func is spent; "
                    "return your best point instead of calling func again"
                )
            raise RuntimeError(f"func failed: {text}")

        return evaluate

    def _reply_to(self, sequence: int) -> tuple[bytes, bytes]:
        """Read up to the reply to request ``sequence`` and return its kind and the payload after the number."""
        while True:
            kind, payload = self._receive()
            if kind not in REPLIES or len(payload) < SEQUENCE.size:
                return kind, payload  # Not a reply: func reports it as a failure.
            (echoed,) = SEQUENCE.unpack_from(payload)
            if echoed == sequence:
                return kind, payload[SEQUENCE.size :]
            # A reply to a request whose func a signal handler's exception ended before it read this.


def _point_from_argument(p: Any, dimension: int) -> list[float]:
    """Turn what the student passed to ``func`` into ``dimension`` floats."""
    if hasattr(p, "tolist") and not isinstance(p, (list, tuple)):
        p = p.tolist()  # NumPy arrays and scalars
    items = list(_flatten(p)) if isinstance(p, (list, tuple)) else [p]
    if len(items) != dimension:
        raise ValueError(
            f"func expects a point with {dimension} coordinate(s), got {len(items)}: {reprlib.repr(p)}"
        )
    point = []
    for item in items:
        if isinstance(item, (bool, complex)) or not isinstance(item, (int, float)):
            raise TypeError(f"func expects real numbers, got {type(item).__name__}: {reprlib.repr(item)}")
        point.append(float(item))
    return point


def _flatten(value: Any) -> Any:
    for item in value:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _make_torch_function(evaluate: Callable[[Sequence[float]], tuple[float, ...]]) -> Any:
    import torch

    class Evaluate(torch.autograd.Function):
        """``func`` as an autograd node whose gradient comes from the evaluator."""

        @staticmethod
        def forward(ctx: Any, p: Any) -> Any:
            dtype = p.dtype if p.is_floating_point() else torch.float64
            value, *gradient = evaluate(p.detach().reshape(-1).double().tolist())
            ctx.save_for_backward(torch.tensor(gradient, dtype=dtype).reshape(p.shape))
            return torch.tensor(value, dtype=dtype)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (gradient,) = ctx.saved_tensors
            return grad_output * gradient

    return Evaluate


def make_func(channel: Channel, dimension: int) -> Any:
    """Build the ``func`` handed to ``solution``: one call is one evaluation."""
    evaluate = channel.evaluation(dimension)
    torch_function = None

    def func(p: Any) -> Any:
        nonlocal torch_function
        # Exact floats first, checked without a generator, because func runs once per evaluation.
        kind = type(p)
        if kind is float and dimension == 1:
            return evaluate((p,))[0]
        if (kind is list or kind is tuple) and len(p) == dimension:
            for item in p:
                if type(item) is not float:
                    break
            else:
                return evaluate(p)[0]

        torch = sys.modules.get("torch")
        if torch is not None and isinstance(p, torch.Tensor):
            if p.numel() != dimension:
                raise ValueError(
                    f"func expects a tensor with {dimension} element(s), got shape {tuple(p.shape)}"
                )
            if torch_function is None:
                torch_function = _make_torch_function(evaluate)
            return torch_function.apply(p)
        return evaluate(_point_from_argument(p, dimension))[0]

    return func


def plain_point(value: Any, depth: int = 0) -> Any:
    """Copy a returned point into JSON-safe numbers without trusting its methods.

    Floats go through ``float.__repr__``, so a subclass cannot lie about its
    value. Anything that is not a real number becomes an ``{"invalid": ...}``
    marker, which the evaluator turns into a verdict.
    """
    if depth > 8:
        return {"invalid": "a point nested more than 8 levels deep"}
    module = type(value).__module__.split(".")[0]
    if module in ("numpy", "torch") and hasattr(value, "tolist"):
        if module == "torch":
            value = value.detach().cpu()
        value = value.tolist()
    if isinstance(value, bool):
        return {"invalid": f"a bool ({value!r})"}
    if isinstance(value, int):
        number = int.__index__(value)
        try:
            float(number)
        except OverflowError:
            # Marked here because json.dumps raises on an int past 4300 digits (Python 3.11's
            # default int_max_str_digits), which would end the runner before it reports.
            return {"invalid": "an integer too large for a float"}
        return number
    if isinstance(value, float):
        return float(float.__repr__(value))
    if isinstance(value, complex):
        return {"invalid": "a complex number"}
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_POINT_ITEMS:
            return {"invalid": f"a sequence of {len(value)} items"}
        return [plain_point(item, depth + 1) for item in value]
    return {"invalid": f"an object of type {type(value).__name__}"}


def _student_traceback(error: BaseException, solution_path: str) -> str:
    """Format ``error`` keeping only the frames of the student's file."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == solution_path]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(error), error)
    text = "".join(lines)
    return text if len(text) <= MAX_ERROR_CHARS else text[-MAX_ERROR_CHARS:]


def _flush_output() -> None:
    """Flush the student's prints before a report, so they are read before the next case."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()  # type: ignore[union-attr]
        except Exception:
            pass  # The student replaced or closed the stream; their output is theirs to lose.


def _error_kind(error: BaseException) -> str:
    if isinstance(error, MemoryError) or "can't allocate memory" in str(error):
        return "memory"
    if isinstance(error, BlockingIOError) or "can't start new thread" in str(error):
        return "process"  # fork() and thread creation fail with EAGAIN at RLIMIT_NPROC.
    return "runtime_error"


def load_solution(channel: Channel, path: str) -> Any:
    """Import the student's file and return its ``solution``, or report why not."""
    try:
        spec = importlib.util.spec_from_file_location("submission", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except SyntaxError as error:
        channel.report(status="error", kind="syntax_error", message=_student_traceback(error, path))
        return None
    except (Exception, KeyboardInterrupt) as error:
        kind = _error_kind(error)
        kind = "import_error" if kind == "runtime_error" else kind
        channel.report(status="error", kind=kind, message=_student_traceback(error, path))
        return None

    solution = getattr(module, "solution", None)
    if not callable(solution):
        channel.report(
            status="error",
            kind="missing_solution",
            message="the file defines no function solution(func, start_point)",
        )
        return None
    return solution


def run_case(channel: Channel, solution: Any, path: str, start: list[float]) -> None:
    """Call ``solution`` once and report the point it returns or the error it raises."""
    channel.budget_spent = False
    func = make_func(channel, len(start))
    start_point: Any = start[0] if len(start) == 1 else tuple(start)
    started = time.process_time()
    try:
        point = solution(func, start_point)
        cpu_seconds = time.process_time() - started
        result = plain_point(point)
    except (Exception, KeyboardInterrupt) as error:
        cpu_seconds = time.process_time() - started
        _flush_output()
        channel.end_case(
            status="error",
            kind=_error_kind(error),
            budget_spent=channel.budget_spent,
            message=_student_traceback(error, path),
            cpu_seconds=cpu_seconds,
        )
        return
    _flush_output()
    channel.end_case(status="returned", point=result, cpu_seconds=cpu_seconds)


def clear_keyrings() -> None:
    """Join a new session keyring and empty the keyrings that belong to this uid.

    Runs of one worker slot share a uid, and its user, user-session and
    persistent keyrings outlive every process, so a key one run added would
    reach the next. Runs forked by one zygote also share its session keyring.
    This runs before the student's file is imported, and a keyring the kernel
    does not offer is skipped.
    """
    number = KEYCTL_SYSCALL.get(os.uname().machine)
    if number is None:
        return  # NOTE: on other architectures keys can pass between runs of a slot.
    libc = ctypes.CDLL(None, use_errno=True)

    def keyctl(*arguments: int) -> int:
        return int(libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in arguments)))

    keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0)
    for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        keyctl(KEYCTL_CLEAR, keyring)
    persistent = keyctl(KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS_KEYRING)
    if persistent > 0:
        keyctl(KEYCTL_CLEAR, persistent)


def main(argv: list[str]) -> None:
    path, request_fd, reply_fd = argv[1], int(argv[2]), int(argv[3])
    if "--clear-keyrings" in argv[4:]:
        clear_keyrings()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    channel = Channel(request_fd, reply_fd)
    channel.report(status="started")  # Tells the sandbox's own failures apart from the student's.

    solution = load_solution(channel, path)
    if solution is None:
        return
    _flush_output()
    channel.report(status="ready")

    while True:
        kind, payload = channel.receive()
        if kind != b"C" or not payload or len(payload) % 8:
            return
        start = list(struct.unpack(f"<{len(payload) // 8}d", payload))
        if not all(math.isfinite(v) for v in start):
            return
        run_case(channel, solution, path, start)


if __name__ == "__main__":
    main(sys.argv)
