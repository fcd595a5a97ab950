"""Print how a burst of submissions drains: time, throughput, lost or duplicated, memory.

``--clients`` threads submit ``--submissions`` Lab 3 Nesterov solutions in all
(each graded on the full case set) to a fresh server as fast as it accepts
them. Afterwards the script counts the submissions graded exactly once.
Target: drain time at most 1.25 times the sum of the runs' own CPU time
divided by the number of workers, so that the cores stay busy with student
code. A run's own CPU time is its sandboxed process's, as the kernel counts
it (``cpu_seconds``); the script also prints the ratio to the part spent
inside ``solution``, as the runner reports it (``student_cpu_seconds``).

    .venv/bin/python bench/burst.py [--submissions 300] [--clients 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import SOLUTIONS  # noqa: E402
from bench.memory import pool_memory  # noqa: E402
from bench.service import Service, add_students, start, submission_detail, wait_warm  # noqa: E402


def submit_all(service: Service, tokens: list[str], total: int, clients: int) -> list[int]:
    """Submit ``total`` solutions from ``clients`` threads, each a student of its own; return the ids.

    The clients share this machine's CPUs with the service, and the drain
    time counts whatever CPU time they take. So each client opens its
    connection before the first POST and sends with ``http.client``, which
    costs a fraction of a millisecond of CPU per request where httpx costs
    several.
    """
    body = json.dumps({"code": SOLUTIONS["nesterov"]})
    address = urllib.parse.urlsplit(service.url)
    connections = [
        http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=60)
        for _ in range(clients)
    ]
    for connection in connections:
        connection.connect()

    def submit(index: int) -> list[int]:
        """Send client ``index``'s share of the submissions, one after another."""
        headers = {
            "Authorization": f"Bearer {tokens[index % len(tokens)]}",
            "Content-Type": "application/json",
        }
        ids = []
        for _ in range(total // clients + (1 if index < total % clients else 0)):
            connections[index].request("POST", "/api/labs/lab3/submissions", body, headers)
            response = connections[index].getresponse()
            answer = response.read()
            if response.status != 202:
                raise RuntimeError(f"POST returned {response.status}: {answer[:300]!r}")
            ids.append(int(json.loads(answer)["id"]))
        return ids

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return [submission_id for ids in pool.map(submit, range(clients)) for submission_id in ids]
    finally:
        for connection in connections:
            connection.close()


def wait_drained(service: Service, total: int, timeout: float) -> None:
    """Wait until ``total`` submissions are done.

    The drain time comes from the server's timestamps, so polling every 2 s
    does not lengthen it, and it spends less CPU time than polling often.
    """
    deadline = time.monotonic() + timeout
    with service.client() as client:
        while time.monotonic() < deadline:
            page = client.get("/api/ta/submissions", params={"status": "done", "limit": 1}).json()
            if page["total"] >= total:
                return
            time.sleep(2.0)
    raise RuntimeError(f"the queue did not drain within {timeout:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        service = start(Path(data_dir), workers=str(arguments.workers), warm_pool="true")
        try:
            wait_warm(service, arguments.workers)
            idle = pool_memory(service)
            tokens = add_students(service, arguments.clients)
            ids = submit_all(service, tokens, arguments.submissions, arguments.clients)
            wait_drained(service, arguments.submissions, timeout=3600)
            with service.client() as client:
                details = [submission_detail(client, submission_id) for submission_id in ids]
                total = client.get("/api/ta/submissions", params={"limit": 1}).json()["total"]
            busy = pool_memory(service)
        finally:
            service.stop()

    created = [dt.datetime.fromisoformat(str(d["created_at"])) for d in details]
    finished = [dt.datetime.fromisoformat(str(d["finished_at"])) for d in details]
    drain = (max(finished) - min(created)).total_seconds()
    own = sum(float(d["cpu_seconds"] or 0.0) for d in details)  # type: ignore[arg-type]
    inside = sum(float(d["student_cpu_seconds"] or 0.0) for d in details)  # type: ignore[arg-type]
    workers = arguments.workers
    verdicts = {str(d["verdict"]) for d in details}
    once = sum(1 for d in details if d["attempts"] == 1 and len(d["cases"]) == 9)  # type: ignore[arg-type]

    print(
        f"submissions:            {arguments.submissions} from {arguments.clients} clients, {workers} workers"
    )
    print(f"stored / distinct ids:  {total} / {len(set(ids))}")
    print(f"graded once, 9 cases:   {once}   (lost or duplicated: {arguments.submissions - once})")
    print(f"verdicts:               {sorted(verdicts)}")
    print(f"drain time:             {drain:.1f} s   ({arguments.submissions / drain:.2f} graded per second)")
    print(f"runs' own CPU time:     {own:.1f} s in all, {inside:.1f} s of it inside solution")
    print(
        f"drain / (own / workers): {drain / (own / workers):.3f}   "
        f"(target <= 1.25; bound {1.25 * own / workers:.1f} s)"
    )
    print(f"drain / (inside solution / workers): {drain / (inside / workers):.3f}")
    print(f"memory idle:            {idle}")
    print(f"memory after burst:     {busy}")


if __name__ == "__main__":
    main()
