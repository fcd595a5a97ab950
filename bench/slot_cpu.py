"""Print where one worker slot's CPU time goes while it grades submissions back to back.

One grading process (``grader.slot_process``) with its warm sandbox, pinned
to CPU 0 as the local pool pins slot 0, grades ``--count`` Lab 3 Nesterov
solutions on the full case set, without the API. Per submission the script
prints the wall time and the run's CPU time, as the kernel counts it and as
the runner reports it inside ``solution``. It also prints the CPU time of
the grading process (the evaluator) and of the zygote and its cleaner, read
from ``/proc``.

    .venv/bin/python bench/slot_cpu.py [--count 20]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import SOLUTIONS  # noqa: E402
from bench.memory import descendants  # noqa: E402
from grader.sandbox import Limits, SandboxMode  # noqa: E402
from grader.slot_process import SlotProcess, SlotSettings  # noqa: E402
from reference.families import hidden_instances  # noqa: E402
from reference.labs import get_lab  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
HIDDEN_SEEDS = [11, 22, 33, 44, 55, 66, 77, 88]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """Return the user and system CPU time of ``pid`` itself, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def sandbox_pids(grading_pid: int) -> list[int]:
    """Return the zygote and its cleaner: the sandboxed Python processes below the grading process."""
    found = []
    for pid in descendants(grading_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if re.search(rb"zygote\.py", command) and not command.startswith(b"bwrap"):
            found.append(pid)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20)
    arguments = parser.parse_args()

    lab = get_lab("lab3")
    cases = [lab.public, *hidden_instances("lab3", HIDDEN_SEEDS)]
    seeds: list[int | None] = [None, *HIDDEN_SEEDS]
    with tempfile.TemporaryDirectory() as runs_dir:
        slot = SlotProcess(SlotSettings(0, Limits(), SandboxMode.BWRAP, Path(runs_dir), cpu=0))
        slot.start()
        try:
            grading = slot.pid
            assert grading is not None
            sandbox = sandbox_pids(grading)
            # A first, uncounted grade warms the caches.
            slot.grade(SOLUTIONS["nesterov"], "lab3", cases, seeds, True)
            grading_before = cpu_seconds(grading)
            sandbox_before = sum(sum(cpu_seconds(pid)) for pid in sandbox)
            started = time.monotonic()
            run_cpu = inside = 0.0
            for _ in range(arguments.count):
                result = slot.grade(SOLUTIONS["nesterov"], "lab3", cases, seeds, True)
                run_cpu += result.cpu_seconds
                inside += result.student_cpu_seconds
            wall = time.monotonic() - started
            grading_after = cpu_seconds(grading)
            sandbox_after = sum(sum(cpu_seconds(pid)) for pid in sandbox)
        finally:
            slot.stop()

    per = 1000 / arguments.count
    print(f"per submission, {arguments.count} Lab 3 Nesterov submissions of 9 cases on one slot:")
    print(f"wall time:                        {wall * per:6.1f} ms")
    print(f"run's CPU time (kernel):          {run_cpu * per:6.1f} ms")
    print(f"  of it inside solution (runner): {inside * per:6.1f} ms")
    print(f"evaluator, Python (user):         {(grading_after[0] - grading_before[0]) * per:6.1f} ms")
    print(f"evaluator, kernel (system):       {(grading_after[1] - grading_before[1]) * per:6.1f} ms")
    print(f"zygote and cleaner:               {(sandbox_after - sandbox_before) * per:6.1f} ms")
    print(f"wall / run's CPU time:            {wall / run_cpu:6.3f}")


if __name__ == "__main__":
    main()
