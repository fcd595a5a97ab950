"""The REST API over HTTP, against the session's live server.

Every test adds its own students under fresh ids, so tests share the server
without seeing each other's submissions.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reference.labs import LABS
from tests.conftest import TA_TOKEN, LiveServer, add_student, wait_for_result

ORDINARY = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"
MAX_CODE_BYTES = 64 * 1024


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def submit(client: httpx.Client, lab_id: str, code: str) -> dict[str, object]:
    response = client.post(f"/api/labs/{lab_id}/submissions", json={"code": code})
    assert response.status_code == 202, response.text
    return dict(response.json())


def detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


@pytest.fixture
def student(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client signed with the token of a student added for this test."""
    token = add_student(live_server, unique_id("api"))
    with live_server.client(token) as client:
        yield client


@pytest.fixture
def ta(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client(TA_TOKEN) as client:
        yield client


def test_healthz(live_server: LiveServer):
    response = httpx.get(f"{live_server.url}/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_add_student_returns_token(ta: httpx.Client, live_server: LiveServer):
    student_id = unique_id("token")
    response = ta.post("/api/ta/students", json={"student_id": student_id, "name": " Ada ", "section": "B"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["student_id"] == student_id
    assert body["name"] == "Ada"
    assert body["section"] == "B"
    assert len(body["token"]) >= 32
    with live_server.client(body["token"]) as client:
        assert client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}).status_code == 202


def test_add_student_duplicate_id(ta: httpx.Client):
    student_id = unique_id("twice")
    first = ta.post("/api/ta/students", json={"student_id": student_id, "name": "First", "section": "A"})
    second = ta.post("/api/ta/students", json={"student_id": student_id, "name": "Second", "section": "A"})

    assert first.status_code == 201
    assert second.status_code == 409
    assert student_id in detail(second)
    assert "token" not in second.json()


def test_add_student_invalid_id(ta: httpx.Client):
    response = ta.post("/api/ta/students", json={"student_id": "has space", "name": "X", "section": "A"})

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/ta/students"), ("GET", "/api/ta/submissions")],
    ids=["add_student", "list_submissions"],
)
def test_student_token_on_ta_route(student: httpx.Client, method: str, path: str):
    body = {"student_id": unique_id("intruder"), "name": "X", "section": "A"}
    response = student.request(method, path, json=body if method == "POST" else None)

    assert response.status_code == 403
    assert "for TAs" in detail(response)


def test_ta_token_cannot_submit(ta: httpx.Client):
    response = ta.post("/api/labs/lab1/submissions", json={"code": ORDINARY})

    assert response.status_code == 403
    assert "for students" in detail(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/ta/submissions"),
        ("POST", "/api/ta/students"),
        ("POST", "/api/labs/lab1/submissions"),
        ("GET", "/api/submissions/1"),
    ],
    ids=["list_submissions", "add_student", "submit", "read_submission"],
)
@pytest.mark.parametrize("token", [None, "not-a-token-anyone-was-given"], ids=["no_token", "unknown_token"])
def test_unauthenticated(live_server: LiveServer, method: str, path: str, token: str | None):
    with live_server.client(token) as client:
        response = client.request(method, path, json={"code": ORDINARY})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert ("missing bearer token" if token is None else "unknown bearer token") in detail(response)


def test_submit_multipart(student: httpx.Client):
    files = {"file": ("solution.py", ORDINARY.encode(), "text/x-python")}
    response = student.post("/api/labs/lab2/submissions", files=files)

    assert response.status_code == 202, response.text
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["url"] == f"/api/submissions/{body['id']}"
    assert response.headers["Location"] == body["url"]
    assert student.get(body["url"]).json()["lab_id"] == "lab2"


def test_submit_json(student: httpx.Client):
    response = student.post("/api/labs/lab3/submissions", json={"code": ORDINARY})

    assert response.status_code == 202, response.text
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["url"] == f"/api/submissions/{body['id']}"
    assert response.headers["Location"] == body["url"]
    assert student.get(body["url"]).json()["lab_id"] == "lab3"


def test_submit_largest_allowed(student: httpx.Client):
    code = ORDINARY + "#" * (MAX_CODE_BYTES - len(ORDINARY))
    files = {"file": ("solution.py", code.encode(), "text/x-python")}

    assert student.post("/api/labs/lab1/submissions", files=files).status_code == 202


def test_submit_unknown_lab(student: httpx.Client):
    response = student.post("/api/labs/lab9/submissions", json={"code": ORDINARY})

    assert response.status_code == 404
    assert "unknown lab 'lab9'" in detail(response)
    assert "lab1, lab2, lab3" in detail(response)


NOT_UTF8 = b"def solution(func, start_point):\n    return start_point  # \xff\n"
REJECTED_UPLOADS = {
    "empty_json": ({"json": {"code": ""}}, 422, "the code is empty"),
    "blank_multipart": ({"files": {"file": ("solution.py", b"  \n\n")}}, 422, "the code is empty"),
    "too_large_json": ({"json": {"code": "#" * (MAX_CODE_BYTES + 1)}}, 413, "over 64 KiB"),
    "too_large_multipart": (
        {"files": {"file": ("solution.py", b"#" * (MAX_CODE_BYTES + 1))}},
        413,
        "over 64 KiB",
    ),
    "not_utf8": (
        {"files": {"file": ("solution.py", NOT_UTF8)}},
        422,
        f"not valid UTF-8 (byte 0xff at offset {NOT_UTF8.index(0xFF)})",
    ),
    "lone_surrogate": (
        {"content": b'{"code": "x = \\"\\ud800\\""}', "headers": {"Content-Type": "application/json"}},
        422,
        "not valid UTF-8",
    ),
    "missing_code": ({"json": {"source": ORDINARY}}, 422, 'missing "code"'),
    "code_not_string": ({"json": {"code": 42}}, 422, 'missing "code"'),
    "missing_file": ({"files": {"upload": ("solution.py", ORDINARY.encode())}}, 422, "missing file field"),
    "invalid_json": (
        {"content": b'{"code": ', "headers": {"Content-Type": "application/json"}},
        422,
        "not valid JSON",
    ),
    "text_plain": (
        {"content": ORDINARY.encode(), "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported content type 'text/plain'",
    ),
    "no_content_type": ({"content": ORDINARY.encode()}, 415, "unsupported content type ''"),
}


@pytest.mark.parametrize(
    ("request_arguments", "status", "message"), REJECTED_UPLOADS.values(), ids=REJECTED_UPLOADS
)
def test_submit_rejected(
    student: httpx.Client, request_arguments: dict[str, object], status: int, message: str
):
    response = student.post("/api/labs/lab1/submissions", **request_arguments)  # type: ignore[arg-type]

    assert response.status_code == status, response.text
    assert message in detail(response)


def test_rejected_upload_stores_nothing(student: httpx.Client, ta: httpx.Client):
    rejected = student.post("/api/labs/lab1/submissions", json={"code": ""})
    stored = submit(student, "lab1", ORDINARY)
    owner = student.get(str(stored["url"])).json()["student_id"]

    page = ta.get("/api/ta/submissions", params={"student_id": owner}).json()

    assert rejected.status_code == 422
    assert page["total"] == 1
    assert [item["id"] for item in page["items"]] == [stored["id"]]


def test_read_own_submission(student: httpx.Client):
    created = submit(student, "lab1", ORDINARY)

    response = student.get(str(created["url"]))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == created["id"]
    assert body["lab_id"] == "lab1"
    assert body["status"] in ("queued", "running", "done")


def test_read_other_student_submission(student: httpx.Client, live_server: LiveServer):
    created = submit(student, "lab1", ORDINARY)
    other_token = add_student(live_server, unique_id("other"))

    with live_server.client(other_token) as other:
        response = other.get(str(created["url"]))

    assert response.status_code == 404
    assert detail(response) == f"submission {created['id']} not found"


def test_read_missing_submission(student: httpx.Client):
    response = student.get("/api/submissions/999999999")

    assert response.status_code == 404


def test_ta_reads_any_submission(student: httpx.Client, ta: httpx.Client):
    created = submit(student, "lab1", ORDINARY)

    result = wait_for_result(ta, str(created["url"]))

    assert result["id"] == created["id"]
    assert result["verdict"] == "accepted"
    score = result["score"]
    assert isinstance(score, dict)
    assert score["final_point"] == [50000.0]
    assert score["evaluations"] == 1


def numbers_in(value: object) -> list[float]:
    """Collect every number in a JSON value, at any depth."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in numbers_in(item)]
    if isinstance(value, list):
        return [n for item in value for n in numbers_in(item)]
    return []


def test_labs_listing(live_server: LiveServer):
    response = httpx.get(f"{live_server.url}/api/labs")

    assert response.status_code == 200
    labs = {lab["lab_id"]: lab for lab in response.json()}
    assert sorted(labs) == ["lab1", "lab2", "lab3"]
    assert {lab_id: lab["budget"] for lab_id, lab in labs.items()} == {
        "lab1": 1000,
        "lab2": 1000,
        "lab3": 1000,
    }
    assert labs["lab1"]["start_point"] == [50000.0]
    assert labs["lab2"]["start_point"] == [-0.5]
    assert labs["lab3"]["start_point"] == [0.0, 1.948]
    assert labs["lab3"]["dimension"] == 2


def test_labs_listing_hides_optimum(live_server: LiveServer):
    body = httpx.get(f"{live_server.url}/api/labs").json()

    text = json.dumps(body).lower()
    for word in ("f_star", "minimiser", "minimizer", "optimum", "critical"):
        assert word not in text
    listed = numbers_in(body)
    for lab_id, lab in LABS.items():
        hidden_values = [lab.public.f_star, *lab.public.minimiser]
        for hidden in hidden_values:
            if hidden == 0.0:
                continue  # lab1's optimum and lab3's x are 0, which a start point may contain.
            close = [n for n in listed if math.isclose(n, hidden, rel_tol=1e-3)]
            assert close == [], f"{lab_id}: {hidden} listed"


def test_ta_submissions_filters(live_server: LiveServer, ta: httpx.Client):
    student_id = unique_id("filter")
    token = add_student(live_server, student_id)
    with live_server.client(token) as client:
        created = [
            submit(client, "lab1", ORDINARY),
            submit(client, "lab1", "def solution(func, start_point)\n"),
            submit(client, "lab2", ORDINARY),
            submit(client, "lab1", ORDINARY),
        ]
        for submission in created:
            wait_for_result(client, str(submission["url"]))
    ids = [submission["id"] for submission in created]

    def page(**params: str | int) -> dict[str, Any]:
        response = ta.get("/api/ta/submissions", params={"student_id": student_id, **params})
        assert response.status_code == 200, response.text
        return dict(response.json())

    everything = page()
    assert everything["total"] == 4
    assert [item["id"] for item in everything["items"]] == ids[::-1]  # Newest first.

    lab1 = page(lab_id="lab1")
    assert lab1["total"] == 3
    assert {item["lab_id"] for item in lab1["items"]} == {"lab1"}

    syntax_errors = page(verdict="syntax_error")
    assert syntax_errors["total"] == 1
    assert [item["id"] for item in syntax_errors["items"]] == [ids[1]]

    accepted_lab1 = page(lab_id="lab1", verdict="accepted")
    assert [item["id"] for item in accepted_lab1["items"]] == [ids[3], ids[0]]

    first = page(limit=3, offset=0)
    second = page(limit=3, offset=3)
    beyond = page(limit=3, offset=4)
    assert (first["total"], first["limit"], first["offset"]) == (4, 3, 0)
    assert [item["id"] for item in first["items"]] == ids[:0:-1]
    assert [item["id"] for item in second["items"]] == [ids[0]]
    assert second["total"] == 4
    assert beyond["items"] == []


def test_ta_submissions_lab_filter_across_students(ta: httpx.Client, student: httpx.Client):
    submit(student, "lab2", ORDINARY)

    body = ta.get("/api/ta/submissions", params={"lab_id": "lab2", "limit": 500}).json()

    assert body["total"] >= 1
    assert {item["lab_id"] for item in body["items"]} == {"lab2"}


@pytest.mark.parametrize(
    ("params", "status"),
    [({"lab_id": "lab9"}, 404), ({"verdict": "great"}, 422), ({"limit": 0}, 422), ({"offset": -1}, 422)],
    ids=["unknown_lab", "unknown_verdict", "zero_limit", "negative_offset"],
)
def test_ta_submissions_invalid_filter(ta: httpx.Client, params: dict[str, str | int], status: int):
    response = ta.get("/api/ta/submissions", params=params)

    assert response.status_code == status
