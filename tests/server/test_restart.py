"""Durability of the queue across server restarts and dead workers.

Each test runs servers of its own on one data directory and reads the SQLite
file directly, with the server stopped, to count what was stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from tests.conftest import TA_TOKEN, LiveServer, add_student, start_server, stop_server, wait_for_result

ORDINARY = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"


@contextmanager
def database(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open the server's SQLite file, commit on success and close it."""
    with closing(sqlite3.connect(data_dir / "gradedescent.db")) as connection, connection:
        yield connection


def submit_all(server: LiveServer, token: str, lab_ids: list[str]) -> list[int]:
    ids = []
    with server.client(token) as client:
        for lab_id in lab_ids:
            response = client.post(f"/api/labs/{lab_id}/submissions", json={"code": ORDINARY})
            assert response.status_code == 202, response.text
            ids.append(int(response.json()["id"]))
    return ids


def wait_all(server: LiveServer, ids: list[int]) -> dict[int, dict[str, object]]:
    with server.client(TA_TOKEN) as client:
        return {id_: wait_for_result(client, f"/api/submissions/{id_}") for id_ in ids}


def case_indices(connection: sqlite3.Connection, submission_id: int) -> list[int]:
    rows = connection.execute(
        "SELECT case_index FROM case_results WHERE submission_id = ? ORDER BY case_index", (submission_id,)
    )
    return [index for (index,) in rows]


def queued_without_workers(data_dir: Path, lab_ids: list[str]) -> list[int]:
    """Submit with a server that has no workers, stop it, and return the submission ids."""
    server = start_server(data_dir, {"GRADEDESCENT_WORKERS": "0"})
    try:
        token = add_student(server, "restart-student")
        ids = submit_all(server, token, lab_ids)
        with server.client(TA_TOKEN) as client:
            statuses = [client.get(f"/api/submissions/{id_}").json()["status"] for id_ in ids]
    finally:
        stop_server(server)
    assert statuses == ["queued"] * len(ids)
    return ids


def test_queued_graded_after_restart(tmp_path: Path):
    data_dir = tmp_path / "data"
    ids = queued_without_workers(data_dir, ["lab1", "lab2", "lab3"])
    with database(data_dir) as connection:
        stored = connection.execute("SELECT id, status, attempts FROM submissions ORDER BY id").fetchall()
        cases_before = connection.execute("SELECT COUNT(*) FROM case_results").fetchone()[0]
    assert stored == [(id_, "queued", 0) for id_ in ids]
    assert cases_before == 0

    server = start_server(data_dir)
    try:
        results = wait_all(server, ids)
    finally:
        stop_server(server)

    assert [results[id_]["verdict"] for id_ in ids] == ["accepted"] * 3
    with database(data_dir) as connection:
        attempts = connection.execute("SELECT id, status, attempts FROM submissions ORDER BY id").fetchall()
        indices = {id_: case_indices(connection, id_) for id_ in ids}
        public_rows = connection.execute(
            "SELECT submission_id FROM case_results WHERE case_index = 0 AND hidden = 0 ORDER BY submission_id"
        ).fetchall()
    assert attempts == [(id_, "done", 1) for id_ in ids]
    for id_ in ids:
        assert indices[id_][0] == 0, f"submission {id_}"
        assert indices[id_] == list(range(len(indices[id_]))), f"submission {id_}"
    assert public_rows == [(id_,) for id_ in ids]


def test_expired_lease_requeued(tmp_path: Path):
    data_dir = tmp_path / "data"
    (submission_id,) = queued_without_workers(data_dir, ["lab3"])
    # A worker claimed it and died: running, with a lease that expired when the submission was created.
    with database(data_dir) as connection:
        connection.execute(
            "UPDATE submissions SET status = 'running', lease_token = 'dead-worker', "
            "lease_expires_at = created_at, started_at = created_at, attempts = 1 WHERE id = ?",
            (submission_id,),
        )

    server = start_server(data_dir, {"GRADEDESCENT_LEASE_SECONDS": "1.5"})
    try:
        result = wait_all(server, [submission_id])[submission_id]
    finally:
        stop_server(server)

    assert result["verdict"] == "accepted"
    with database(data_dir) as connection:
        status, attempts, lease_token = connection.execute(
            "SELECT status, attempts, lease_token FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        indices = case_indices(connection, submission_id)
    assert status == "done"
    assert attempts == 2
    assert lease_token is None
    assert indices == list(range(len(indices)))
    assert indices[0] == 0
    assert f"submission {submission_id} requeued: its worker's lease expired" in server.log()
