"""Fixtures shared by the whole suite: sandboxed grading and a live server.

Grading always goes through the real sandbox (bubblewrap), unless
GRADEDESCENT_TEST_SANDBOX=none is set for a quick local run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from grader.grading import GradeResult, grade
from grader.sandbox import Limits, SandboxMode
from reference.labs import Instance, get_lab

REPOSITORY = Path(__file__).resolve().parent.parent
TA_TOKEN = "test-ta-token-0123456789abcdef"
SANDBOX_MODE = SandboxMode(os.environ.get("GRADEDESCENT_TEST_SANDBOX", SandboxMode.BWRAP.value))

Grader = Callable[..., GradeResult]


@pytest.fixture
def grade_code(tmp_path: Path) -> Grader:
    """Return ``run(lab_id, code, cases=None, **limits)``, which grades in the sandbox.

    ``code`` is dedented, so tests can write it as an indented block.
    """

    def run(lab_id: str, code: str, cases: list[Instance] | None = None, **limits: object) -> GradeResult:
        lab = get_lab(lab_id)
        return grade(
            textwrap.dedent(code),
            lab,
            cases if cases is not None else [lab.public],
            Limits(**limits),  # type: ignore[arg-type]
            SANDBOX_MODE,
            work_root=tmp_path,
        )

    return run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """A ``python -m server`` process on a loopback port, with its data directory."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Start the service as ``make run`` does, and wait until /healthz responds."""
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "GRADEDESCENT_DATA_DIR": str(data_dir),
        "GRADEDESCENT_TA_TOKEN": TA_TOKEN,
        "GRADEDESCENT_SANDBOX": SANDBOX_MODE.value,
        "GRADEDESCENT_WORKERS": "2",
        **(extra_env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server"], cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"the server did not answer /healthz within 60 s:\n{server.log()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the session; tests add their own students, so they do not collide."""
    server = start_server(tmp_path_factory.mktemp("server"))
    yield server
    stop_server(server)


def add_student(server: LiveServer, student_id: str, name: str = "Test Student", section: str = "A") -> str:
    """Add a student through the TA API and return their token."""
    with server.client(TA_TOKEN) as client:
        response = client.post(
            "/api/ta/students", json={"student_id": student_id, "name": name, "section": section}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def wait_for_result(client: httpx.Client, url: str, timeout: float = 120) -> dict[str, object]:
    """Poll a submission until it is done and return its body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] == "done":
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"{url} was not graded within {timeout} s")
