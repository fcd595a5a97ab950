"""A live gradedescent server for the benchmarks, started as ``make run`` starts it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPOSITORY = Path(__file__).resolve().parent.parent
TA_TOKEN = "bench-ta-token-0123456789abcdef"


@dataclass
class Service:
    """A ``python -m server`` process on a loopback port."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def client(self, token: str = TA_TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(data_dir: Path, **settings: str) -> Service:
    """Start the server with ``GRADEDESCENT_<NAME>`` settings and wait until /healthz responds."""
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "GRADEDESCENT_DATA_DIR": str(data_dir),
        "GRADEDESCENT_TA_TOKEN": TA_TOKEN,
        **{f"GRADEDESCENT_{name.upper()}": value for name, value in settings.items()},
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - the server writes to it until it stops.
    process = subprocess.Popen(
        [sys.executable, "-m", "server"], cwd=REPOSITORY, env=env, stdout=log, stderr=log
    )
    service = Service(f"http://127.0.0.1:{port}", data_dir, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited; see {data_dir / 'server.log'}")
        try:
            if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                return service
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError("the server did not respond on /healthz within 120 s")


def add_students(service: Service, count: int, prefix: str = "bench") -> list[str]:
    """Add ``count`` students and return their tokens."""
    tokens = []
    with service.client() as client:
        for index in range(count):
            body = {"student_id": f"{prefix}{index}", "name": f"Bench {index}", "section": "A"}
            response = client.post("/api/ta/students", json=body)
            response.raise_for_status()
            tokens.append(response.json()["token"])
    return tokens


def wait_warm(service: Service, workers: int, timeout: float = 120) -> None:
    """Wait until every worker's warm sandbox has started, so a first submission does not pay for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = (service.data_dir / "server.log").read_text(errors="replace")
        if len(set(re.findall(r"warm sandbox (\d+) ready", log))) >= workers:
            return
        time.sleep(0.1)


def submission_detail(client: httpx.Client, submission_id: int) -> dict[str, object]:
    response = client.get(f"/api/ta/submissions/{submission_id}")
    response.raise_for_status()
    return dict(response.json())


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]
