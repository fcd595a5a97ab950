"""Print the sandbox's cost per submission as a ratio to the same runner without it.

Grades two solutions through ``grader.grading.grade`` in both sandbox modes.
BWRAP and NONE alternate run by run, so that drifts in machine load hit both
modes alike. The script prints the median wall-clock seconds per mode, their
difference in milliseconds and their ratio (BWRAP / NONE):

* ``instant``: plain Python that returns the start point without evaluating,
  so the figure is almost all process start-up and sandbox set-up;
* ``torch``: Nesterov momentum with ``torch.optim.SGD`` on lab 3, 300
  evaluations, so the figure includes importing torch.

The mode NONE still runs the runner under prlimit, so the ratio measures
bwrap and setpriv, and the kill of the run's PID namespace.

    .venv/bin/python bench/sandbox_overhead.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from grader import sandbox  # noqa: E402
from grader.grading import grade  # noqa: E402
from grader.sandbox import Limits, SandboxMode  # noqa: E402
from grader.verdicts import Verdict  # noqa: E402
from reference.labs import get_lab  # noqa: E402

INSTANT = """
def solution(func, start_point):
    return start_point
"""

TORCH_NESTEROV = """
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(300):
        optimizer.zero_grad()
        func(x).backward()
        optimizer.step()
    return x.detach()
"""

SOLUTIONS = {"instant": ("lab1", INSTANT), "torch": ("lab3", TORCH_NESTEROV)}
MODES = (SandboxMode.BWRAP, SandboxMode.NONE)


def time_grade(lab_id: str, code: str, mode: SandboxMode) -> float:
    """Grade ``code`` once and return the wall-clock seconds ``grade`` took."""
    lab = get_lab(lab_id)
    started = time.perf_counter()
    result = grade(code, lab, [lab.public], Limits(), mode)
    elapsed = time.perf_counter() - started
    if result.verdict is not Verdict.ACCEPTED:
        raise SystemExit(f"the {lab_id} solution was not accepted in mode {mode.value}: {result.detail}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per solution and mode (default 5)")
    arguments = parser.parse_args()
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    sandbox.check_available(SandboxMode.BWRAP)

    print(
        f"{'solution':<10} {'bwrap s':>9} {'none s':>9} {'extra ms':>9} {'ratio':>7}   (medians of {arguments.repeat})"
    )
    for name, (lab_id, code) in SOLUTIONS.items():
        time_grade(lab_id, code, SandboxMode.BWRAP)  # Warm the page cache; not counted.
        samples: dict[SandboxMode, list[float]] = {mode: [] for mode in MODES}
        for index in range(arguments.repeat):
            # Swap the order every run, so neither mode always runs right after the other.
            order = MODES if index % 2 == 0 else MODES[::-1]
            for mode in order:
                samples[mode].append(time_grade(lab_id, code, mode))
        sandboxed = statistics.median(samples[SandboxMode.BWRAP])
        bare = statistics.median(samples[SandboxMode.NONE])
        extra_ms = (sandboxed - bare) * 1000
        print(f"{name:<10} {sandboxed:>9.3f} {bare:>9.3f} {extra_ms:>9.1f} {sandboxed / bare:>7.2f}")


if __name__ == "__main__":
    main()
