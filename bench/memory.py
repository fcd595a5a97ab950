"""Print the memory of a running server's process and of each worker: grading process and warm sandbox.

Proportional set size (PSS) from ``/proc/PID/smaps_rollup``: pages shared
between processes, such as a zygote's and its forks', count once in all.

    .venv/bin/python bench/memory.py [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service import Service, start, wait_warm  # noqa: E402


def pss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def descendants(pid: int) -> list[int]:
    """Return every process below ``pid``, found through /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def pool_memory(service: Service) -> str:
    """Describe in MiB the server's PSS, each worker's (grading process and warm sandbox), and their sum."""
    server = pss_bytes(service.process.pid)
    workers = []
    for pid in descendants(service.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"grader.slot_process" in command:
            sandbox = sum(pss_bytes(p) for p in descendants(pid))
            workers.append((pss_bytes(pid), sandbox))
    mib = 2**20
    per_worker = ", ".join(f"{grading / mib:.0f} + {sandbox / mib:.0f}" for grading, sandbox in workers)
    total = server + sum(grading + sandbox for grading, sandbox in workers)
    return (
        f"server {server / mib:.0f} MiB, workers (grading process + warm sandbox) [{per_worker}] MiB, "
        f"pool {total / mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        service = start(Path(data_dir), workers=str(arguments.workers), warm_pool="true")
        try:
            wait_warm(service, arguments.workers)
            print(pool_memory(service))
        finally:
            service.stop()


if __name__ == "__main__":
    main()
