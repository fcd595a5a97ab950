"""A signal handler that raises while func waits for its reply.

Students bound a run's time with ``signal.setitimer`` and a handler that
raises. When the signal lands while func is blocked reading the reply, the
exception leaves func with the reply still in the pipe. The evaluator has
counted that evaluation, so neither the next func call nor the next case
may take that stale reply for its own.
"""

from __future__ import annotations

from grader.verdicts import Verdict
from reference.families import hidden_instance
from reference.labs import get_lab
from tests.conftest import Grader

TIMED_OUT_SOLUTION = """
import signal

class Timeout(Exception):
    pass

def on_alarm(signum, frame):
    # Only inside func, so that the exception always lands in the try below.
    if frame.f_code.co_name in ("func", "evaluate") and frame.f_code.co_filename.endswith("runner.py"):
        raise Timeout()

def solution(func, start_point):
    # A timer every 200 us interrupts many calls of func, some of them inside the reply's read.
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    interrupted = wrong = 0
    x = start_point
    for _ in range(600):
        try:
            value = func(x)
            if abs(value - 0.0001 * x * x) > 1e-12 * (1.0 + abs(value)):
                wrong += 1
            x *= 0.99
        except Timeout:
            interrupted += 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    print(f"interrupted {interrupted} wrong {wrong}", flush=True)
    return x
"""


def test_interrupted_func_stays_in_step(grade_code: Grader):
    lab = get_lab("lab1")
    cases = [lab.public] + [hidden_instance("lab1", seed) for seed in (1, 2, 3)]
    result = grade_code("lab1", TIMED_OUT_SOLUTION, cases, wall_time=10)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert "interrupted 0 " not in result.stdout  # The timer must have interrupted func at least once.
    assert " wrong 0\n" in result.stdout
    assert len(result.records) == len(cases)
