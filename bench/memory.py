"""Print the memory of a running server's process and of each warm sandbox.

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
    """Describe the server's PSS, each warm sandbox's PSS, and their sum, in MiB."""
    server = pss_bytes(service.process.pid)
    sandboxes = []
    for pid in descendants(service.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"zygote.py" in command and not command.startswith(b"bwrap"):
            sandboxes.append(sum(pss_bytes(p) for p in [pid, *descendants(pid)]))
    mib = 2**20
    per_sandbox = ", ".join(f"{size / mib:.0f}" for size in sandboxes)
    total = server + sum(sandboxes)
    return f"server {server / mib:.0f} MiB, warm sandboxes [{per_sandbox}] MiB, pool {total / mib:.0f} MiB"


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
