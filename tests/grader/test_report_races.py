"""A limit that the run watch acts on while the evaluator handles a report, and func across cases.

The evaluator checks the watch after each read, so a deadline or an output
limit can land while it handles a report that it read in time. These tests
widen that window with a slow report handler, so the timing is not left to
chance.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from grader import evaluator
from grader.verdicts import Verdict
from reference.families import hidden_instance
from reference.labs import get_lab
from tests.conftest import Grader

HANDLING_SECONDS = 1.5


@pytest.fixture
def slow_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the evaluator take ``HANDLING_SECONDS`` over each report of a case."""
    handle = evaluator.Evaluator._on_report

    def slowly(self: evaluator.Evaluator, payload: bytes) -> Any:
        if self._phase == "case":
            time.sleep(HANDLING_SECONDS)
        return handle(self, payload)

    monkeypatch.setattr(evaluator.Evaluator, "_on_report", slowly)


@pytest.mark.usefixtures("slow_reports")
def test_deadline_during_report_blames_case(grade_code: Grader):
    # The public case returns a second before its deadline, which passes while its report is handled.
    code = """
    import time

    def solution(func, start_point):
        time.sleep(2.0)
        return start_point
    """
    lab = get_lab("lab3")
    result = grade_code("lab3", code, [lab.public, hidden_instance("lab3", 1)], wall_time=3)

    assert result.verdict is Verdict.TIME_LIMIT
    assert result.detail == "solution ran longer than 3 s on case 1"
    assert len(result.records) == 1


@pytest.mark.usefixtures("slow_reports")
def test_output_limit_during_last_report(grade_code: Grader):
    # A thread prints past the limit while the last report is handled; another keeps the runner alive.
    code = """
    import os
    import threading
    import time

    def print_late():
        time.sleep(0.5)
        os.write(2, b"!" * 1000)

    def solution(func, start_point):
        threading.Thread(target=time.sleep, args=(4,)).start()
        os.write(1, b"z" * 65536)
        threading.Thread(target=print_late).start()
        return start_point
    """
    result = grade_code("lab3", code, wall_time=10)

    assert result.verdict is Verdict.OUTPUT_LIMIT
    assert "more than 65536 bytes" in result.detail


def test_func_thread_across_cases(grade_code: Grader):
    # A thread still calls func when solution returns. Its late calls must fail in the thread and
    # leave the next case's start message to the main thread.
    code = """
    import threading
    import time

    def solution(func, start_point):
        stop = time.monotonic() + 0.05

        def keep_calling():
            while time.monotonic() < stop:
                try:
                    func(start_point)
                except Exception:
                    return

        threading.Thread(target=keep_calling, daemon=True).start()
        func(start_point)
        return start_point
    """
    lab = get_lab("lab3")
    cases = [lab.public, hidden_instance("lab3", 1), hidden_instance("lab3", 2)]
    for attempt in range(5):
        result = grade_code("lab3", code, cases)

        assert result.verdict is Verdict.ACCEPTED, f"attempt {attempt}: {result.detail}"
        assert len(result.records) == 3
