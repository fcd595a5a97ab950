"""Print the evaluator's cost per evaluation as a ratio to a bare pipe round trip.

Both figures are taken from inside a child process in the same run. One is
the time per call of ``func`` in a real graded run: runner stub, pipe,
trusted evaluator with its bookkeeping, pipe back. The other is the time per
round trip of messages of the same size and format bounced off a parent
that does nothing else.
Target: at most 1.5.

``--placement`` puts the two sides of both round trips on CPUs:

- ``same``: both on CPU 0, as a worker slot runs a warm run and its evaluator;
- ``split``: the evaluator and the bare parent on CPU 0, the warm run and the
  bare child on CPU 1, so every message wakes the other CPU;
- ``free``: a cold run, every process scheduled by the kernel. Where it puts
  the bare pair decides that figure, so it moves the most between runs.

    .venv/bin/python bench/evaluator_cost.py [--calls 1000] [--repeat 5] [--placement same|split|free]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from grader.grading import grade  # noqa: E402
from grader.sandbox import Limits, SandboxMode  # noqa: E402
from grader.warm_pool import Zygote  # noqa: E402
from reference.labs import get_lab  # noqa: E402

TIMED_SOLUTION = """
import time

def solution(func, start_point):
    point = list(start_point)
    started = time.perf_counter()
    for _ in range({calls}):
        func(point)
    print("per_call", (time.perf_counter() - started) / {calls})
    return point
"""

REQUEST = struct.pack("<cIQ2d", b"E", 24, 1, 0.0, 1.948)
REPLY = struct.pack("<cIQ3d", b"V", 32, 1, 2.41, 0.0, -0.00118)

BARE_CHILD = f"""
import os, sys, time
request_fd, reply_fd, calls = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
replies = os.fdopen(reply_fd, "rb", buffering=65536)
started = time.perf_counter()
for _ in range(calls):
    os.write(request_fd, {REQUEST!r})
    replies.read({len(REPLY)})
print((time.perf_counter() - started) / calls)
"""


def bare_round_trip(calls: int, cpu: int | None = None) -> float:
    """Bounce ``calls`` protocol-sized messages off this process and return seconds per round trip.

    With ``cpu``, the child runs on that CPU only.
    """
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    pin = ["taskset", "--cpu-list", str(cpu)] if cpu is not None else []
    child = subprocess.Popen(
        [*pin, sys.executable, "-c", BARE_CHILD, str(request_write), str(reply_read), str(calls)],
        pass_fds=(request_write, reply_read),
        stdout=subprocess.PIPE,
    )
    os.close(request_write)
    os.close(reply_read)
    requests = os.fdopen(request_read, "rb", buffering=65536)
    for _ in range(calls):
        requests.read(len(REQUEST))
        os.write(reply_write, REPLY)
    output, _ = child.communicate()
    os.close(reply_write)
    requests.close()
    return float(output)


def evaluator_round_trip(calls: int, mode: SandboxMode, zygote: Zygote | None = None) -> float:
    """Return seconds per call of ``func`` in a graded run, cold or forked from ``zygote``."""
    lab = get_lab("lab3")
    with tempfile.TemporaryDirectory() as work_root:
        result = grade(
            textwrap.dedent(TIMED_SOLUTION.format(calls=calls)),
            lab,
            [lab.public],
            Limits(),
            mode,
            work_root=Path(work_root),
            launcher=zygote,
        )
    match = re.search(r"per_call (\S+)", result.stdout)
    if match is None:
        raise RuntimeError(f"the timed run failed: {result.verdict.value} {result.detail}")
    return float(match.group(1))


PLACEMENTS = {
    # name: (this process's CPU, the run's and the bare child's CPU), or None to let the kernel choose
    "same": (0, 0),
    "split": (0, 1),
    "free": None,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=1000, help="evaluations per sample (at most the budget, 1000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="samples of each kind, interleaved")
    parser.add_argument("--sandbox", choices=[m.value for m in SandboxMode], default="bwrap")
    parser.add_argument(
        "--placement",
        choices=list(PLACEMENTS),
        default="same",
        help="where the two sides run: same CPU (a worker slot), two CPUs, or wherever the kernel puts them",
    )
    arguments = parser.parse_args()
    mode = SandboxMode(arguments.sandbox)
    placement = PLACEMENTS[arguments.placement]
    if placement is not None and max(placement) not in os.sched_getaffinity(0):
        parser.error(
            f"--placement {arguments.placement} needs CPUs 0 to {max(placement)}, which this process may not use"
        )

    zygote = None
    run_cpu = None
    if placement is not None:
        own_cpu, run_cpu = placement
        os.sched_setaffinity(0, {own_cpu})
        zygote = Zygote(0, Limits(), Path(tempfile.mkdtemp(prefix="warm-")), cpu=run_cpu)
        zygote.ensure_started()
    bare, real = [], []
    try:
        for _ in range(arguments.repeat):
            bare.append(bare_round_trip(arguments.calls, run_cpu))
            real.append(evaluator_round_trip(arguments.calls, mode, zygote))
    finally:
        if zygote is not None:
            zygote.stop()
            shutil.rmtree(zygote.files_dir, ignore_errors=True)
    bare_median = statistics.median(bare)
    real_median = statistics.median(real)
    where = {
        "same": "both on CPU 0",
        "split": "CPU 0 and CPU 1",
        "free": "scheduled freely, cold run",
    }[arguments.placement]
    print(f"bare pipe round trip:       {bare_median * 1e6:8.1f} us (median of {arguments.repeat}, {where})")
    print(f"evaluated call of func:     {real_median * 1e6:8.1f} us (median of {arguments.repeat}, {where})")
    print(f"ratio evaluator / bare:     {real_median / bare_median:8.2f}   (target <= 1.5)")


if __name__ == "__main__":
    main()
