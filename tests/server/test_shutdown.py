"""SIGTERM to ``python -m server``: the local pool takes no new work, then finishes or requeues its runs."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from tests.conftest import TA_TOKEN, LiveServer, add_student, start_server, stop_server


def slow(seconds: float) -> str:
    """Return code that sleeps ``seconds`` in its first case only."""
    return (
        "import time\n"
        "slept = False\n\n"
        "def solution(func, start_point):\n"
        "    global slept\n"
        "    if not slept:\n"
        "        slept = True\n"
        f"        time.sleep({seconds})\n"
        "    func(start_point)\n"
        "    return start_point\n"
    )


def submit_and_wait_running(server: LiveServer, code: str) -> int:
    token = add_student(server, f"shutdown-{time.monotonic_ns()}")
    with server.client(token) as client:
        response = client.post("/api/labs/lab1/submissions", json={"code": code})
    assert response.status_code == 202, response.text
    submission_id = int(response.json()["id"])
    deadline = time.monotonic() + 60
    with server.client(TA_TOKEN) as client:
        while client.get(f"/api/submissions/{submission_id}").json()["status"] != "running":
            assert time.monotonic() < deadline, f"submission {submission_id} did not start within 60 s"
            time.sleep(0.05)
    time.sleep(1.0)  # Into the run's sleep, past the sandbox's start.
    return submission_id


def terminate(server: LiveServer) -> None:
    """SIGTERM the server and wait for it; uvicorn re-raises the signal after its shutdown, so no exit code is checked."""
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(60)


def stored(data_dir: Path, submission_id: int) -> tuple[str, str | None, int, str | None, int]:
    """Return status, verdict, attempts, lease token and the number of case rows."""
    with closing(sqlite3.connect(data_dir / "gradedescent.db")) as connection:
        status, verdict, attempts, lease_token = connection.execute(
            "SELECT status, verdict, attempts, lease_token FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        (cases,) = connection.execute(
            "SELECT COUNT(*) FROM case_results WHERE submission_id = ?", (submission_id,)
        ).fetchone()
    return status, verdict, attempts, lease_token, cases


def events(server: LiveServer, submission_id: int) -> list[str]:
    found = []
    for line in server.log().splitlines():
        if line.startswith("{") and json.loads(line).get("submission_id") == submission_id:
            found.append(json.loads(line)["event"])
    return found


def test_sigterm_finishes_run(tmp_path: Path):
    data_dir = tmp_path / "data"
    server = start_server(
        data_dir, {"GRADEDESCENT_SHUTDOWN_GRACE_SECONDS": "60", "GRADEDESCENT_LOG_FORMAT": "json"}
    )
    try:
        submission_id = submit_and_wait_running(server, slow(3))
        terminate(server)
    finally:
        stop_server(server)

    status, verdict, attempts, lease_token, cases = stored(data_dir, submission_id)
    assert "Application shutdown complete." in server.log()
    assert status == "done"
    assert verdict == "accepted"
    assert attempts == 1
    assert lease_token is None
    assert cases > 0
    assert events(server, submission_id) == ["queued", "running", "done"]
    assert "worker pool stopped" in server.log()


def test_sigterm_requeues_run(tmp_path: Path):
    data_dir = tmp_path / "data"
    server = start_server(
        data_dir, {"GRADEDESCENT_SHUTDOWN_GRACE_SECONDS": "0.5", "GRADEDESCENT_LOG_FORMAT": "json"}
    )
    try:
        submission_id = submit_and_wait_running(server, slow(8))
        terminate(server)
    finally:
        stop_server(server)

    status, verdict, attempts, lease_token, cases = stored(data_dir, submission_id)
    assert "Application shutdown complete." in server.log()
    assert status == "queued"
    assert verdict is None
    assert attempts == 0
    assert lease_token is None
    assert cases == 0
    assert events(server, submission_id) == ["queued", "running", "requeued"]
