"""Bad input at the edges: oversized bodies, ids past a database integer, misspelt settings."""

from __future__ import annotations

import httpx

from server.body_limit import MAX_BODY_BYTES
from tests.conftest import TA_TOKEN, LiveServer, add_student


def test_declared_oversized_body_rejected(live_server: LiveServer):
    response = httpx.post(
        f"{live_server.url}/signin",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 413
    assert "MiB" in response.json()["detail"]


def test_streamed_oversized_body_rejected(live_server: LiveServer):
    def chunks():
        for _ in range(MAX_BODY_BYTES // 2**16 + 2):
            yield b"x" * 2**16

    token = add_student(live_server, "body-limit-streamed")
    response = httpx.post(
        f"{live_server.url}/api/labs/lab1/submissions",
        content=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 413


def test_huge_ids_are_invalid(live_server: LiveServer):
    with live_server.client(TA_TOKEN) as client:
        for path in ("/api/submissions/99999999999999999999", "/api/ta/submissions/99999999999999999999"):
            assert client.get(path).status_code == 422
        assert client.get("/api/ta/submissions", params={"offset": 2**63}).status_code == 422


def test_misspelt_lab_setting_rejected(live_server: LiveServer):
    with live_server.client(TA_TOKEN) as client:
        response = client.patch("/api/ta/labs/lab2", json={"daily_qouta": 5})

    assert response.status_code == 422
    assert "daily_qouta" in response.text
