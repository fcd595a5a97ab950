"""One test per verdict, each graded in the sandbox.

After every failing run, the same fixture grades an ordinary submission under
the same limits and must accept it. So a failure must leave nothing behind that
breaks the next run, such as a process still counted against the process limit.
"""

from __future__ import annotations

import pytest

from grader.grading import GradeResult
from grader.verdicts import Verdict
from tests.conftest import Grader

ORDINARY = """
def solution(func, start_point):
    func(start_point)
    return start_point
"""


def grade_then_ordinary(grade_code: Grader, lab_id: str, code: str, **limits: object) -> GradeResult:
    """Grade ``code``, then check that an ordinary submission under the same limits is accepted."""
    result = grade_code(lab_id, code, **limits)
    ordinary = grade_code(lab_id, ORDINARY, **limits)
    assert ordinary.verdict is Verdict.ACCEPTED, f"ordinary submission after the case: {ordinary.detail}"
    return result


def test_accepted(grade_code: Grader):
    result = grade_code("lab3", ORDINARY)

    assert result.verdict is Verdict.ACCEPTED
    assert result.detail == ""
    assert len(result.scores) == 1
    assert result.scores[0].final_point == (0.0, 1.948)
    assert result.scores[0].evaluations == 1


def test_syntax_error(grade_code: Grader):
    code = """
    def solution(func, start_point)
        return start_point
    """
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.SYNTAX_ERROR
    assert 'File "/sandbox/solution.py", line 2' in result.detail
    assert "SyntaxError" in result.detail
    assert result.scores == []


def test_import_error(grade_code: Grader):
    code = """
    import gradedescent_no_such_module

    def solution(func, start_point):
        return start_point
    """
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.IMPORT_ERROR
    assert "No module named 'gradedescent_no_such_module'" in result.detail
    assert 'File "/sandbox/solution.py", line 2, in <module>' in result.detail


@pytest.mark.parametrize(
    "code",
    ["def solve(func, start_point):\n    return start_point\n", "solution = 42\n"],
    ids=["absent", "not_callable"],
)
def test_missing_solution(grade_code: Grader, code: str):
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.MISSING_SOLUTION
    assert "solution(func, start_point)" in result.detail


def test_runtime_error(grade_code: Grader):
    code = """
    def reciprocal(value):
        return 1 / value

    def solution(func, start_point):
        func(start_point)
        return reciprocal(0)
    """
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.RUNTIME_ERROR
    assert 'File "/sandbox/solution.py", line 7, in solution' in result.detail
    assert 'File "/sandbox/solution.py", line 3, in reciprocal' in result.detail
    assert "ZeroDivisionError: division by zero" in result.detail
    assert "runner.py" not in result.detail
    assert result.scores == []


def test_runtime_error_inside_func(grade_code: Grader):
    # The traceback passes through the runner's func, whose frames must stay hidden.
    code = """
    def solution(func, start_point):
        return func("start")
    """
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.RUNTIME_ERROR
    assert 'File "/sandbox/solution.py", line 3, in solution' in result.detail
    assert "TypeError: func expects real numbers, got str" in result.detail
    assert "runner.py" not in result.detail


def test_long_wrong_point_keeps_explanation(grade_code: Grader):
    # The message shortens the argument, so the error's cap does not cut the explanation away.
    code = """
    import numpy as np

    def solution(func, start_point):
        func(np.linspace(-1.0, 1.0, 2000))
        return start_point
    """
    result = grade_code("lab3", code)

    assert result.verdict is Verdict.RUNTIME_ERROR
    assert "func expects a point with 2 coordinate(s), got 2000: [-1.0, " in result.detail
    assert 'File "/sandbox/solution.py"' in result.detail
    assert len(result.detail) < 1000


def test_runtime_error_by_signal(grade_code: Grader):
    code = """
    import os
    import signal

    def solution(func, start_point):
        os.kill(os.getpid(), signal.SIGSEGV)
    """
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.RUNTIME_ERROR
    assert "SIGSEGV" in result.detail


@pytest.mark.parametrize(
    ("code", "limits", "message"),
    [
        (
            "def solution(func, start_point):\n    while True:\n        pass\n",
            {"wall_time": 2},
            "solution ran longer than 2 s on case 1",
        ),
        (
            "import time\ntime.sleep(60)\n\ndef solution(func, start_point):\n    return start_point\n",
            {"wall_time": 1},
            "importing the file took longer than 1 s",
        ),
        (
            "def solution(func, start_point):\n    while True:\n        pass\n",
            {"wall_time": 20, "cpu_time": 1},
            "the run used more than 1 s of CPU time",
        ),
        (
            "import os, time\n\ndef solution(func, start_point):\n"
            "    os.close(1)\n    os.close(2)\n    time.sleep(60)\n",
            {"wall_time": 2},
            "solution ran longer than 2 s on case 1",
        ),
    ],
    ids=["wall_clock", "wall_clock_import", "cpu", "closed_output"],
)
def test_time_limit(grade_code: Grader, code: str, limits: dict[str, float], message: str):
    result = grade_then_ordinary(grade_code, "lab1", code, **limits)

    assert result.verdict is Verdict.TIME_LIMIT
    assert result.detail == message


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np\n\ndef solution(func, start_point):\n    data = np.ones(10**10)\n    return start_point\n",
        "def solution(func, start_point):\n    data = [0.0] * 10**10\n    return start_point\n",
        "data = [0.0] * 10**10\n\ndef solution(func, start_point):\n    return start_point\n",
    ],
    ids=["numpy", "list", "import"],
)
def test_memory_limit(grade_code: Grader, code: str):
    result = grade_then_ordinary(grade_code, "lab1", code, memory=512 * 2**20)

    assert result.verdict is Verdict.MEMORY_LIMIT
    assert "MemoryError" in result.detail or "Unable to allocate" in result.detail


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_limit(grade_code: Grader, stream: str):
    code = f"""
    import sys

    def solution(func, start_point):
        while True:
            sys.{stream}.write("x" * 1000 + "\\n")
    """
    result = grade_then_ordinary(grade_code, "lab1", code, output=16 * 2**10)

    assert result.verdict is Verdict.OUTPUT_LIMIT
    assert "more than 16384 bytes" in result.detail
    assert len(result.stdout) + len(result.stderr) <= 16 * 2**10


def test_output_past_pipe_capacity(grade_code: Grader):
    # More than a pipe holds, printed between evaluations: the evaluator must read it while it waits.
    code = """
    def solution(func, start_point):
        for _ in range(3):
            print("x" * 100_000)
            func(start_point)
        return start_point
    """
    result = grade_code("lab1", code, output=2**20)

    assert result.verdict is Verdict.ACCEPTED
    assert result.stdout == ("x" * 100_000 + "\n") * 3
    assert result.scores[0].evaluations == 3


@pytest.mark.parametrize(
    "code",
    [
        """
        import threading
        import time

        def solution(func, start_point):
            for _ in range(100):
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            return start_point
        """,
        """
        import os
        import time

        def solution(func, start_point):
            for _ in range(100):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
            return start_point
        """,
    ],
    ids=["threads", "fork"],
)
def test_process_limit(grade_code: Grader, code: str):
    # The sleeping threads and children would still count against the limit if the kill missed them.
    result = grade_then_ordinary(grade_code, "lab1", code, processes=8)

    assert result.verdict is Verdict.PROCESS_LIMIT
    assert 'File "/sandbox/solution.py"' in result.detail


@pytest.mark.parametrize(
    ("lab_id", "returned", "message"),
    [
        ("lab1", "float('nan')", "solution returned nan; the point must be finite"),
        ("lab1", "float('inf')", "solution returned inf; the point must be finite"),
        ("lab3", "[0.0, float('-inf')]", "solution returned -inf; the point must be finite"),
        ("lab1", "[1.0, 2.0]", "solution returned 2 number(s), expected a point with 1 coordinate(s)"),
        ("lab3", "(1.0, 2.0, 3.0)", "solution returned 3 number(s), expected a point with 2 coordinate(s)"),
        ("lab1", "'1.0'", "solution returned an object of type str, not a real number"),
        ("lab1", "1 + 2j", "solution returned a complex number, not a real number"),
        ("lab1", "10**400", "solution returned an integer too large for a float"),
        ("lab1", "10**5000", "solution returned an integer too large for a float"),
        ("lab1", "True", "solution returned a bool (True), not a real number"),
        ("lab1", "None", "solution returned an object of type NoneType, not a real number"),
    ],
    ids=[
        "nan",
        "inf",
        "inf_2d",
        "shape_1d",
        "shape_2d",
        "string",
        "complex",
        "huge_int",
        "huge_int_digits",
        "bool",
        "none",
    ],
)
def test_invalid_result(grade_code: Grader, lab_id: str, returned: str, message: str):
    code = f"""
    def solution(func, start_point):
        return {returned}
    """
    result = grade_then_ordinary(grade_code, lab_id, code)

    assert result.verdict is Verdict.INVALID_RESULT
    assert message in result.detail
    assert result.scores == []


@pytest.mark.parametrize(
    ("lab_id", "argument", "shown"),
    [
        ("lab1", "float('nan')", "(nan)"),
        ("lab3", "[0.0, float('inf')]", "(0.0, inf)"),
    ],
    ids=["nan", "inf_2d"],
)
def test_budget_spent_off_finite(grade_code: Grader, lab_id: str, argument: str, shown: str):
    # With the budget spent and nothing returned, the case is scored on the last point evaluated.
    code = f"""
    def solution(func, start_point):
        while True:
            func({argument})
    """
    result = grade_then_ordinary(grade_code, lab_id, code)

    assert result.verdict is Verdict.INVALID_RESULT
    assert f"the last point evaluated, {shown}, is not finite" in result.detail
    assert result.scores == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "import os\n\ndef solution(func, start_point):\n    func(start_point)\n    os._exit(0)\n",
            "the runner exited with status 0 before solution returned",
        ),
        (
            "def solution(func, start_point):\n    func(start_point)\n    raise SystemExit(0)\n",
            "the runner exited with status 0 before solution returned",
        ),
        (
            "import sys\nsys.exit(0)\n",
            "the runner exited with status 0 before the file was imported",
        ),
        (
            "import sys\n\ndef solution(func, start_point):\n    sys.exit(-1)\n",
            "the runner exited with status 255 before solution returned",
        ),
    ],
    ids=["os_exit", "system_exit", "exit_on_import", "exit_status_255"],
)
def test_no_result(grade_code: Grader, code: str, message: str):
    result = grade_then_ordinary(grade_code, "lab1", code)

    assert result.verdict is Verdict.NO_RESULT
    assert result.detail == message
    assert result.scores == []
