"""Print the latency from POST to a finished result, warm pool against cold sandboxes.

For each sandbox start (warm, cold) a fresh server grades the same
submissions one at a time, each on the full case set (public plus hidden).
Latency is the server's own ``finished_at - created_at``. The student's run
time is the CPU time inside ``solution`` that the runner reports; the
grading overhead is the rest. Target: the warm overhead's median at most a
tenth of the cold one's.

    .venv/bin/python bench/latency.py [--count 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service import Service, add_students, percentile, start, submission_detail, wait_warm  # noqa: E402

SOLUTIONS = {
    "nesterov": """
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(500):
        optimizer.zero_grad()
        func(x).backward()
        optimizer.step()
    return x.detach()
""",
    "returns at once": """
def solution(func, start_point):
    return start_point
""",
}


def measure(service: Service, code: str, count: int) -> tuple[list[float], list[float]]:
    """Submit ``code`` ``count`` times, one after another; return latencies and student CPU times."""
    (token,) = add_students(service, 1, prefix=f"latency{time.monotonic_ns()}")
    latencies, student = [], []
    with service.client(token) as as_student, service.client() as as_ta:
        for _ in range(count):
            submission_id = as_student.post("/api/labs/lab3/submissions", json={"code": code}).json()["id"]
            while (detail := submission_detail(as_ta, submission_id))["status"] != "done":
                time.sleep(0.05)  # Server timestamps time the run; slower polling only lightens the load.
            if detail["verdict"] != "accepted":
                raise RuntimeError(
                    f"submission {submission_id} ended {detail['verdict']}: {detail['detail']}"
                )
            created = dt.datetime.fromisoformat(str(detail["created_at"]))
            finished = dt.datetime.fromisoformat(str(detail["finished_at"]))
            latencies.append((finished - created).total_seconds())
            student.append(float(detail["student_cpu_seconds"] or 0.0))
    return latencies, student


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10, help="submissions per solution and sandbox start")
    arguments = parser.parse_args()

    overheads: dict[tuple[str, str], float] = {}
    print(
        f"{'solution':<16} {'start':<5} {'latency p50':>12} {'p95':>8} {'student p50':>12} {'overhead p50':>13} {'p95':>8}"
    )
    for start_kind, warm in (("warm", "true"), ("cold", "false")):
        with tempfile.TemporaryDirectory() as data_dir:
            service = start(Path(data_dir), warm_pool=warm, workers="2")
            try:
                if warm == "true":
                    wait_warm(service, 2)
                for name, code in SOLUTIONS.items():
                    latencies, student = measure(service, code, arguments.count)
                    overhead = [latency - own for latency, own in zip(latencies, student, strict=True)]
                    overheads[(name, start_kind)] = statistics.median(overhead)
                    print(
                        f"{name:<16} {start_kind:<5} {statistics.median(latencies):11.3f}s "
                        f"{percentile(latencies, 0.95):7.3f}s {statistics.median(student):11.3f}s "
                        f"{statistics.median(overhead):12.3f}s {percentile(overhead, 0.95):7.3f}s"
                    )
            finally:
                service.stop()
    for name in SOLUTIONS:
        ratio = overheads[(name, "warm")] / overheads[(name, "cold")]
        print(f"{name}: warm overhead p50 / cold overhead p50 = {ratio:.3f} (target <= 0.1)")


if __name__ == "__main__":
    main()
