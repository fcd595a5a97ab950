"""Idempotency-Key on submissions, with requests sent together from threads to a live server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import httpx
import pytest

from server import idempotency
from tests.conftest import LiveServer, add_student
from tests.server.course_server import ORDINARY, course_server

THREADS = 8


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def submit_together(
    url: str, token: str, keys: list[str | None], lab_id: str = "lab1"
) -> list[httpx.Response]:
    """Send one submission per key from its own thread and client, released at the same moment."""
    barrier = Barrier(len(keys))

    def send(key: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers[idempotency.HEADER] = key
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            barrier.wait()
            return client.post(f"/api/labs/{lab_id}/submissions", json={"code": ORDINARY})

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(send, keys))


@pytest.fixture
def student(live_server: LiveServer) -> Iterator[tuple[str, httpx.Client]]:
    token = add_student(live_server, unique_id("idem"))
    with live_server.client(token) as client:
        yield token, client


def test_concurrent_same_key_one_submission(live_server: LiveServer, student):
    token, client = student
    key = f'"{uuid.uuid4()}"'

    responses = submit_together(live_server.url, token, [key] * THREADS)

    assert [r.status_code for r in responses] == [202] * THREADS
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r.headers.get(idempotency.REPLAYED_HEADER) for r in responses]
    assert replayed.count(None) == 1
    assert replayed.count("true") == THREADS - 1
    assert len(client.get("/api/me/submissions").json()) == 1
    assert client.get("/api/labs/lab1/quota").json()["quota"]["used"] == 1


def test_concurrent_distinct_keys_distinct_submissions(live_server: LiveServer, student):
    token, client = student

    responses = submit_together(live_server.url, token, [str(uuid.uuid4()) for _ in range(4)])

    assert [r.status_code for r in responses] == [202] * 4
    assert len({r.json()["id"] for r in responses}) == 4
    assert client.get("/api/labs/lab1/quota").json()["quota"]["used"] == 4


def test_replay_returns_same_submission(student):
    _, client = student
    headers = {idempotency.HEADER: "double-click-1"}

    first = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}, headers=headers)
    second = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}, headers=headers)

    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers[idempotency.REPLAYED_HEADER] == "true"
    assert idempotency.REPLAYED_HEADER not in first.headers


def test_quoted_and_bare_key_same(student):
    _, client = student

    bare = client.post(
        "/api/labs/lab1/submissions", json={"code": ORDINARY}, headers={idempotency.HEADER: "k-1"}
    )
    quoted = client.post(
        "/api/labs/lab1/submissions", json={"code": ORDINARY}, headers={idempotency.HEADER: '"k-1"'}
    )

    assert quoted.json()["id"] == bare.json()["id"]


def test_key_reused_with_other_code(student):
    _, client = student
    headers = {idempotency.HEADER: "reused"}
    first = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}, headers=headers)

    other = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY + "# v2\n"}, headers=headers)
    other_lab = client.post("/api/labs/lab2/submissions", json={"code": ORDINARY}, headers=headers)

    assert other.status_code == 422
    assert f"already used for submission {first.json()['id']}" in other.json()["detail"]
    assert other_lab.status_code == 422


def test_key_belongs_to_student(live_server: LiveServer, student):
    _, client = student
    other_token = add_student(live_server, unique_id("idem-other"))
    headers = {idempotency.HEADER: "shared-key"}

    mine = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}, headers=headers)
    with live_server.client(other_token) as other:
        theirs = other.post("/api/labs/lab1/submissions", json={"code": ORDINARY}, headers=headers)

    assert theirs.status_code == 202
    assert theirs.json()["id"] != mine.json()["id"]


@pytest.mark.parametrize(
    "key", ["", '""', "x" * 256, "naïve", 'a"b'], ids=["empty", "empty_quoted", "long", "non_ascii", "quote"]
)
def test_invalid_key(student, key: str):
    _, client = student

    response = client.post(
        "/api/labs/lab1/submissions",
        json={"code": ORDINARY},
        headers={idempotency.HEADER: key.encode("utf-8")},  # type: ignore[dict-item]
    )

    assert response.status_code == 400
    assert "invalid Idempotency-Key" in response.json()["detail"]
    assert client.get("/api/me/submissions").json() == []


def test_concurrent_quota_never_exceeded(tmp_path: Path):
    with course_server(tmp_path / "data") as server:
        server.set_lab("lab2", daily_quota=3)
        token = server.add_student("idem-quota")

        responses = submit_together(server.url, token, [None] * THREADS, lab_id="lab2")

    codes = sorted(r.status_code for r in responses)
    assert codes == [202] * 3 + [429] * (THREADS - 3)
