"""Roster import from CSV, student tokens, and TA accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server import roster
from server.models import Student
from tests.conftest import TA_TOKEN
from tests.server.course_server import CourseServer, course_server

CSV = "text/csv; charset=utf-8"


def roster_csv(count: int, name_prefix: str = "Student", header: bool = True) -> str:
    lines = ["student_id,name,section,email"] if header else []
    for number in range(count):
        section = "A" if number % 2 == 0 else "B"
        lines.append(f"2026{number:04d},{name_prefix} {number},{section},s{number}@example.com")
    return "\n".join(lines) + "\n"


def parse_error(data: str | bytes) -> str:
    with pytest.raises(roster.RosterError) as raised:
        roster.parse(data.encode() if isinstance(data, str) else data)
    return str(raised.value)


def test_parse_heading_in_any_order():
    rows = roster.parse(b"section,email,name,student_id\nA,kim@example.com,Kim Minji,2026001\n")

    assert rows == [roster.RosterRow(2, "2026001", "Kim Minji", "A", "kim@example.com")]


def test_parse_korean_headings_and_bom():
    data = "\ufeff학번,이름,분반\n2026001,김민지,A\n".encode()

    rows = roster.parse(data)

    assert [(row.student_id, row.name, row.section, row.email) for row in rows] == [
        ("2026001", "김민지", "A", None)
    ]


def test_parse_without_heading():
    rows = roster.parse(b'2026001,Kim,A\n\n2026002,"Lee, Jun",B\n')

    assert [row.name for row in rows] == ["Kim", "Lee, Jun"]


def test_parse_reports_every_bad_row():
    message = parse_error(
        "student_id,name,section\nbad id,Kim,A\n2026002,,B\n2026003,Park,A\n2026003,Choi,B\n"
    )

    assert "line 2: invalid student_id 'bad id'" in message
    assert "line 3: the name of '2026002'" in message
    assert "line 5: student_id '2026003' already appears on line 4" in message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file has no rows"),
        (b"\xff\xfe2026", "not valid UTF-8"),
        (b'2026001,"Kim,A\n', "not valid CSV"),
        (b"2026001,Kim\n", "found 2 fields"),
        (b"2026001,Kim,A,not-an-address\n", "invalid email 'not-an-address'"),
        (b"student_id,name,section,phone\n1,Kim,A,010\n", "unknown column 'phone'"),
    ],
    ids=["empty", "not_utf8", "bad_quotes", "too_few_fields", "bad_email", "unknown_column"],
)
def test_parse_rejects(data: bytes, message: str):
    assert message in parse_error(data)


def test_import_keeps_tokens_and_updates(session_factory):
    rows = roster.parse(roster_csv(3).encode())
    with session_factory() as session:
        first = roster.import_rows(session, rows)
        session.commit()
    with session_factory() as session:
        hashes = {student.student_id: student.token_hash for student in session.query(Student)}

    changed = roster.parse(b"20260000,Renamed,B\n20260001,Student 1,B,s1@example.com\n")
    with session_factory() as session:
        second = roster.import_rows(session, changed)
        session.commit()
        students = {s.student_id: s for s in session.query(Student)}

    assert len(first.created) == 3
    assert second.created == []
    assert second.updated == ["20260000"]
    assert second.unchanged == ["20260001"]
    assert second.not_in_file == ["20260002"]
    assert students["20260000"].name == "Renamed"
    assert students["20260000"].section == "B"
    assert students["20260000"].email == "s0@example.com"  # A missing e-mail cell keeps the stored one.
    assert {sid: s.token_hash for sid, s in students.items()} == hashes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourseServer]:
    with course_server(tmp_path_factory.mktemp("roster")) as running:
        yield running


@pytest.fixture
def ta(server: CourseServer) -> Iterator[httpx.Client]:
    with server.ta() as client:
        yield client


def test_import_200_students(server: CourseServer, ta: httpx.Client):
    response = ta.post("/api/ta/roster", content=roster_csv(200).encode(), headers={"Content-Type": CSV})

    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["created"]) == 200
    tokens = {entry["student_id"]: entry["token"] for entry in body["created"]}
    assert len(set(tokens.values())) == 200
    with server.client(tokens["20260199"]) as student:
        me = student.get("/api/me").json()
    assert me["name"] == "Student 199"
    assert me["section"] == "B"
    assert me["email"] == "s199@example.com"
    listed = ta.get("/api/ta/students", params={"section": "A", "limit": 1000}).json()
    assert listed["total"] >= 100


def test_reimport_keeps_tokens(server: CourseServer, ta: httpx.Client):
    first = ta.post("/api/ta/roster", content=b"r-1,Kim,A\nr-2,Lee,A\n", headers={"Content-Type": CSV}).json()
    token = first["created"][0]["token"]

    again = ta.post(
        "/api/ta/roster", content=b"r-1,Kim Minji,B\nr-2,Lee,A\n", headers={"Content-Type": CSV}
    ).json()

    assert again["created"] == []
    assert again["updated"] == ["r-1"]
    assert again["unchanged"] == ["r-2"]
    with server.client(token) as student:
        me = student.get("/api/me").json()
    assert (me["name"], me["section"]) == ("Kim Minji", "B")


def test_import_multipart(ta: httpx.Client):
    files = {"file": ("roster.csv", b"m-1,Kim,A\n", "text/csv")}

    response = ta.post("/api/ta/roster", files=files)

    assert response.status_code == 200
    assert [entry["student_id"] for entry in response.json()["created"]] == ["m-1"]


def test_import_dry_run_changes_nothing(ta: httpx.Client):
    response = ta.post(
        "/api/ta/roster", params={"dry_run": True}, content=b"d-1,Kim,A\n", headers={"Content-Type": CSV}
    )
    listed = ta.get("/api/ta/students", params={"limit": 1000}).json()

    assert response.json()["created"][0]["token"] is None
    assert "d-1" not in {item["student_id"] for item in listed["items"]}


def test_import_invalid_file_imports_nothing(ta: httpx.Client):
    response = ta.post("/api/ta/roster", content=b"x-1,Kim,A\nbad id,Lee,A\n", headers={"Content-Type": CSV})
    listed = ta.get("/api/ta/students", params={"limit": 1000}).json()

    assert response.status_code == 422
    assert "line 2: invalid student_id 'bad id'" in response.json()["detail"]
    assert "x-1" not in {item["student_id"] for item in listed["items"]}


def test_import_wrong_content_type(ta: httpx.Client):
    response = ta.post("/api/ta/roster", json={"rows": []})

    assert response.status_code == 415


def test_student_token_rotate_and_revoke(server: CourseServer, ta: httpx.Client):
    old = server.add_student("t-rotate")

    rotated = ta.post("/api/ta/students/t-rotate/token").json()["token"]
    with server.client(old) as stale, server.client(rotated) as fresh:
        assert stale.get("/api/me").status_code == 401
        assert fresh.get("/api/me").status_code == 200
        assert ta.delete("/api/ta/students/t-rotate/token").status_code == 204
        assert fresh.get("/api/me").status_code == 401
    listed = ta.get("/api/ta/students", params={"limit": 1000}).json()
    assert {item["student_id"]: item["has_token"] for item in listed["items"]}["t-rotate"] is False


def test_student_token_unknown_student(ta: httpx.Client):
    response = ta.post("/api/ta/students/nobody/token")

    assert response.status_code == 404
    assert "student 'nobody' not found" in response.json()["detail"]


def test_ta_accounts(server: CourseServer, ta: httpx.Client):
    created = ta.post("/api/ta/accounts", json={"name": "park.ta"})
    account = created.json()
    duplicate = ta.post("/api/ta/accounts", json={"name": "park.ta"})

    assert created.status_code == 201
    assert duplicate.status_code == 409
    with server.client(account["token"]) as park:
        assert park.get("/api/ta/submissions").status_code == 200
        park.post("/api/ta/roster", content=b"by-park,Kim,A\n", headers={"Content-Type": CSV})
        rotated = ta.post(f"/api/ta/accounts/{account['id']}/token").json()["token"]
        assert park.get("/api/ta/submissions").status_code == 401
    with server.client(rotated) as park:
        assert park.get("/api/ta/submissions").status_code == 200
        assert ta.delete(f"/api/ta/accounts/{account['id']}/token").status_code == 204
        assert park.get("/api/ta/submissions").status_code == 401
    accounts = {item["name"]: item for item in ta.get("/api/ta/accounts").json()}
    assert accounts["park.ta"]["active"] is False
    assert accounts["bootstrap"]["active"] is True
    entries = ta.get("/api/ta/audit", params={"action": "roster_import", "ta_name": "park.ta"}).json()
    assert entries["total"] == 1


def test_bootstrap_account_not_revocable(ta: httpx.Client):
    bootstrap = next(item for item in ta.get("/api/ta/accounts").json() if item["bootstrap"])

    response = ta.delete(f"/api/ta/accounts/{bootstrap['id']}/token")

    assert response.status_code == 409
    assert "GRADEDESCENT_TA_TOKEN" in response.json()["detail"]
    assert ta.get("/api/ta/accounts").status_code == 200


def test_bootstrap_token_follows_setting(tmp_path: Path):
    data_dir = tmp_path / "data"
    replacement = "another-ta-token-0123456789"
    with course_server(data_dir) as first, first.ta() as client:
        assert client.get("/api/ta/accounts").status_code == 200

    with course_server(data_dir, ta_token=replacement) as second:
        with second.client(TA_TOKEN) as old, second.client(replacement) as new:
            assert old.get("/api/ta/accounts").status_code == 401
            assert new.get("/api/ta/accounts").status_code == 200
            assert len(new.get("/api/ta/accounts").json()) == 1
