"""Who may call which route: every route of the app, for every kind of caller.

``RULES`` names the rule of each route. The matrix is built from the app's
own route table, so a route added without a rule fails ``test_every_route_has_rule``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from tests.conftest import TA_TOKEN
from tests.server.course_server import ORDINARY, CourseServer, course_server

PUBLIC = "public"  # anyone; a token is ignored
OPEN = "open"  # anyone without a token; a token that is sent must be valid, because TAs see more
STUDENT = "student"  # students only, each on their own data; TAs get 403
OWNER = "owner"  # students on their own submission (another student gets 404), and TAs
TA = "ta"  # TAs only; students get 403

RULES = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/api/labs"): PUBLIC,
    ("GET", "/api/labs/{lab_id}/leaderboard"): OPEN,
    ("GET", "/leaderboard/{lab_id}"): OPEN,
    ("GET", "/leaderboard/{lab_id}/table"): OPEN,
    ("GET", "/submissions"): STUDENT,
    ("GET", "/submissions/{submission_id}"): OWNER,
    ("GET", "/signin"): PUBLIC,
    ("POST", "/signin"): PUBLIC,
    ("POST", "/signout"): PUBLIC,
    ("POST", "/api/labs/{lab_id}/submissions"): STUDENT,
    ("GET", "/api/labs/{lab_id}/quota"): STUDENT,
    ("GET", "/api/me"): STUDENT,
    ("PUT", "/api/me/display-name"): STUDENT,
    ("DELETE", "/api/me/display-name"): STUDENT,
    ("GET", "/api/me/submissions"): STUDENT,
    ("GET", "/api/submissions/{submission_id}"): OWNER,
    ("POST", "/api/ta/students"): TA,
    ("GET", "/api/ta/students"): TA,
    ("POST", "/api/ta/roster"): TA,
    ("POST", "/api/ta/students/{student_id}/token"): TA,
    ("DELETE", "/api/ta/students/{student_id}/token"): TA,
    ("GET", "/api/ta/accounts"): TA,
    ("POST", "/api/ta/accounts"): TA,
    ("POST", "/api/ta/accounts/{account_id}/token"): TA,
    ("DELETE", "/api/ta/accounts/{account_id}/token"): TA,
    ("GET", "/api/ta/labs/{lab_id}"): TA,
    ("PATCH", "/api/ta/labs/{lab_id}"): TA,
    ("POST", "/api/ta/labs/{lab_id}/rescore"): TA,
    ("POST", "/api/ta/labs/{lab_id}/regrade"): TA,
    ("GET", "/api/ta/labs/{lab_id}/stats"): TA,
    ("GET", "/api/ta/submissions"): TA,
    ("GET", "/api/ta/submissions/{submission_id}"): TA,
    ("POST", "/api/ta/submissions/{submission_id}/regrade"): TA,
    ("GET", "/api/ta/gradebook.csv"): TA,
    ("GET", "/api/ta/audit"): TA,
}

# A body that passes validation where a route needs one, so an allowed caller gets past it.
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/api/labs/{lab_id}/submissions"): {"json": {"code": ORDINARY}},
    ("PUT", "/api/me/display-name"): {"json": {"display_name": "Matrix Runner"}},
    ("POST", "/api/ta/students"): {"json": {"student_id": "authz-new", "name": "New", "section": "A"}},
    ("POST", "/api/ta/roster"): {
        "content": b"authz-roster,Roster,A\n",
        "headers": {"Content-Type": "text/csv"},
    },
    ("POST", "/api/ta/accounts"): {"json": {"name": "authz-new-ta"}},
    ("PATCH", "/api/ta/labs/{lab_id}"): {"json": {"daily_quota": 50}},
}

CALLERS = ("anonymous", "unknown", "student", "other_student", "ta")


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, HEAD left out as the twin of GET."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = getattr(context, "path", None) or context.original_route.path  # type: ignore[attr-defined]
        methods = getattr(context.original_route, "methods", None) or set()
        found += [(method, path) for method in sorted(methods) if method != "HEAD"]
    return found


@dataclass
class Matrix:
    server: CourseServer
    tokens: dict[str, str | None]
    path_values: dict[str, str]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with course_server(tmp_path_factory.mktemp("authz")) as server:
        student = server.add_student("authz-student")
        other = server.add_student("authz-other")
        server.add_student("authz-subject")  # The TA's token routes act on this student, not on a caller.
        with server.client(student) as client:
            submission_id = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}).json()["id"]
        with server.ta() as ta:
            account_id = ta.post("/api/ta/accounts", json={"name": "authz-subject-ta"}).json()["id"]
        yield Matrix(
            server,
            tokens={
                "anonymous": None,
                "unknown": "a-token-nobody-was-given",
                "student": student,
                "other_student": other,
                "ta": TA_TOKEN,
            },
            path_values={
                "lab_id": "lab3",
                "submission_id": str(submission_id),
                "student_id": "authz-subject",
                "account_id": str(account_id),
            },
        )


def test_every_route_has_rule(matrix: Matrix):
    routes = app_routes(matrix.server.app)

    assert sorted(set(routes) - set(RULES)) == []
    assert sorted(set(RULES) - set(routes)) == []


def expected(rule: str, caller: str) -> str:
    """Return "allowed", "401", "403" or "404" for a caller under a rule."""
    if rule == PUBLIC or (rule == OPEN and caller != "unknown"):
        return "allowed"
    if caller in ("anonymous", "unknown"):
        return "401"
    if rule == TA:
        return "allowed" if caller == "ta" else "403"
    if rule == STUDENT:
        return "403" if caller == "ta" else "allowed"
    return "404" if caller == "other_student" else "allowed"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), sorted(RULES), ids=[f"{m} {p}" for m, p in sorted(RULES)])
def test_authorization(matrix: Matrix, method: str, path: str, caller: str):
    rule = RULES[(method, path)]
    url = path.format(**matrix.path_values)
    with matrix.server.client(matrix.tokens[caller]) as client:
        response = client.request(method, url, **BODIES.get((method, path), {}))  # type: ignore[arg-type]

    outcome = expected(rule, caller)
    if outcome == "allowed":
        assert response.status_code not in (401, 403, 404), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == int(outcome), response.text
    if outcome == "401":
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_route_has_one_line_summary(matrix: Matrix):
    with matrix.server.client() as client:
        schema = client.get("/openapi.json").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            summary = operation.get("summary", "")
            assert summary, f"{method.upper()} {path} has no summary"
            assert "\n" not in summary, f"{method.upper()} {path}: {summary!r}"


def test_student_lists_only_own_submissions(matrix: Matrix):
    with matrix.server.client(matrix.tokens["other_student"]) as other:
        listed = other.get("/api/me/submissions").json()
    with matrix.server.client(matrix.tokens["student"]) as student:
        own = student.get("/api/me/submissions").json()

    assert matrix.path_values["submission_id"] not in {str(item["id"]) for item in listed}
    assert str(own[-1]["id"]) == matrix.path_values["submission_id"]
