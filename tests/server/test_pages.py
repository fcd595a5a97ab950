"""Pages over HTTP: sign-in cookie and its checks, result pages, the table fragment, languages and error pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from grader.results import trajectory_record
from server.deps import SIGN_IN_COOKIE
from server.models import CaseResult
from server.trajectories import public_trajectories
from tests.conftest import TA_TOKEN, Grader
from tests.server.conftest import add_student, store_result
from tests.server.course_server import ORDINARY, CourseServer, course_server, wait_done

HTML = {"Accept": "text/html"}


@dataclass
class Site:
    server: CourseServer
    owner: str
    other: str
    submission_id: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with course_server(tmp_path_factory.mktemp("pages"), workers=1) as server:
        server.set_lab("lab3", hidden_cases=1)
        owner = server.add_student("pages-owner")
        other = server.add_student("pages-other")
        with server.client(owner) as client:
            submission_id = client.post("/api/labs/lab3/submissions", json={"code": ORDINARY}).json()["id"]
            wait_done(client, submission_id)
        yield Site(server, owner, other, submission_id)


def browser(site: Site, **headers: str) -> httpx.Client:
    """A client that sends what a browser on the site's own pages sends with a form."""
    return httpx.Client(
        base_url=site.server.url, headers={"Origin": site.server.url, **HTML, **headers}, timeout=60
    )


def sign_in(client: httpx.Client, token: str, next_page: str | None = None) -> httpx.Response:
    form = {"token": token, **({"next": next_page} if next_page is not None else {})}
    return client.post("/signin", data=form)


def set_cookie(response: httpx.Response) -> str:
    return response.headers.get("set-cookie", "")


def test_sign_in_sets_safe_cookie(site: Site):
    with browser(site) as client:
        response = sign_in(client, site.owner)

    cookie = set_cookie(response)
    assert response.status_code == 303
    assert response.headers["Location"] == "/submissions"
    assert cookie.startswith(f"{SIGN_IN_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback


def test_cookie_secure_over_https(site: Site):
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a TLS proxy on the same machine.
    with browser(site, **{"X-Forwarded-Proto": "https"}) as client:
        response = sign_in(client, site.owner)

    assert response.status_code == 303
    assert "Secure" in set_cookie(response)


def test_cross_site_sign_in_rejected(site: Site):
    with browser(site, Origin="https://evil.example") as client:
        response = sign_in(client, site.owner)

    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "cross-site form rejected" in response.text


def test_null_origin_rejected(site: Site):
    with browser(site, Origin="null") as client:
        response = sign_in(client, site.owner)

    assert response.status_code == 403


def test_cross_site_referer_rejected(site: Site):
    with httpx.Client(base_url=site.server.url, headers={"Referer": "https://evil.example/form"}) as client:
        response = sign_in(client, site.owner)

    assert response.status_code == 403


def test_cross_site_sign_out_rejected(site: Site):
    with browser(site, Origin="https://evil.example") as client:
        response = client.post("/signout")

    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_unknown_token_rejected(site: Site):
    with browser(site) as client:
        response = sign_in(client, "a-token-nobody-was-given")

    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "That token is not valid" in response.text


def test_sign_in_returns_to_page(site: Site):
    with browser(site) as client:
        back = sign_in(client, site.owner, f"/submissions/{site.submission_id}")
        away = sign_in(client, site.owner, "//evil.example/steal")
        elsewhere = sign_in(client, site.owner, "https://evil.example/")

    assert back.headers["Location"] == f"/submissions/{site.submission_id}"
    assert away.headers["Location"] == "/submissions"
    assert elsewhere.headers["Location"] == "/submissions"


def test_ta_signs_in_to_board(site: Site):
    with browser(site) as client:
        response = sign_in(client, TA_TOKEN)

    assert response.headers["Location"] == "/leaderboard/lab3"


def test_cookie_opens_pages_not_api(site: Site):
    with browser(site) as client:
        sign_in(client, site.owner)
        page = client.get("/submissions")
        result = client.get(f"/submissions/{site.submission_id}")
        api = client.get("/api/me")

    assert page.status_code == 200
    assert f'href="/submissions/{site.submission_id}"' in page.text
    assert page.headers["Cache-Control"] == "private, no-store"
    assert result.status_code == 200
    assert ORDINARY.splitlines()[0] in result.text  # the owner's own code
    assert api.status_code == 401


def test_other_student_gets_404(site: Site):
    with browser(site) as client:
        sign_in(client, site.other)
        page = client.get(f"/submissions/{site.submission_id}")
        own_list = client.get("/submissions")

    assert page.status_code == 404
    assert ORDINARY.splitlines()[0] not in page.text
    assert f"/submissions/{site.submission_id}" not in own_list.text


def test_anonymous_gets_sign_in_form(site: Site):
    with browser(site) as client:
        page = client.get(f"/submissions/{site.submission_id}")

    assert page.status_code == 401
    assert page.headers["WWW-Authenticate"] == "Bearer"
    assert 'action="/signin"' in page.text
    assert f'name="next" value="/submissions/{site.submission_id}"' in page.text


def test_sign_out_clears_cookie(site: Site):
    with browser(site) as client:
        sign_in(client, site.owner)
        out = client.post("/signout")
        after = client.get("/submissions")

    assert out.status_code == 303
    assert re.search(rf'{SIGN_IN_COOKIE}=""; .*Max-Age=0', set_cookie(out))
    assert after.status_code == 401


def test_revoked_token_signs_out(site: Site):
    token = site.server.add_student("pages-revoked")
    with browser(site) as client:
        sign_in(client, token)
        before = client.get("/submissions")
        with site.server.ta() as ta:
            assert ta.delete("/api/ta/students/pages-revoked/token").status_code in (200, 204)
        after = client.get("/submissions")

    assert before.status_code == 200
    assert after.status_code == 401


def test_ta_opens_any_result(site: Site):
    with browser(site) as client:
        sign_in(client, TA_TOKEN)
        page = client.get(f"/submissions/{site.submission_id}")
        own_list = client.get("/submissions")

    assert page.status_code == 200
    assert own_list.status_code == 403


def test_table_fragment(site: Site):
    with httpx.Client(base_url=site.server.url) as client:
        fragment = client.get("/leaderboard/lab3/table")
        closed = client.get("/leaderboard/lab3/table", params={"board": "private"})

    assert fragment.status_code == 200
    assert fragment.headers["Cache-Control"] == "no-store"
    assert "<html" not in fragment.text
    assert '<th scope="col"' in fragment.text
    assert closed.status_code == 403
    assert "the private board opens at" in closed.text


def test_pages_follow_accept_language(site: Site):
    with httpx.Client(base_url=site.server.url) as client:
        korean = client.get("/leaderboard/lab3", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"})
        english = client.get("/leaderboard/lab3", headers={"Accept-Language": "en-US,ko;q=0.5"})

    assert '<html lang="ko">' in korean.text
    assert "공개 보드" in korean.text
    assert korean.headers["Content-Language"] == "ko"
    assert "Accept-Language" in korean.headers["Vary"]
    assert '<html lang="en">' in english.text
    assert "Public board" in english.text


def test_error_page_for_browsers(site: Site):
    with httpx.Client(base_url=site.server.url, headers={**HTML, "Accept-Language": "ko"}) as client:
        page = client.get("/leaderboard/lab1")
        api = client.get("/api/labs/lab1/leaderboard")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="ko">' in page.text
    assert "리더보드가 없습니다" in page.text
    assert api.headers["content-type"].startswith("application/json")
    assert "리더보드가 없습니다" in api.json()["detail"]


def test_leaderboard_page_plots(site: Site):
    with httpx.Client(base_url=site.server.url) as client:
        page = client.get("/leaderboard/lab3").text

    assert page.count('role="img"') == 2
    assert 'aria-labelledby="board-convergence-title board-convergence-desc"' in page
    assert '<script src="/static/leaderboard.js" defer></script>' in page


def test_static_script_served(site: Site):
    with httpx.Client(base_url=site.server.url) as client:
        script = client.get("/static/leaderboard.js")

    assert script.status_code == 200
    assert "data-refresh-url" in script.text or "refreshUrl" in script.text


def test_only_public_trajectory_read(
    session_factory: sessionmaker[Session], grade_code: Grader, tmp_path: Path
):
    from reference.families import hidden_instances
    from reference.labs import get_lab

    lab = get_lab("lab3")
    result = grade_code("lab3", ORDINARY, cases=[lab.public, *hidden_instances("lab3", [11, 12])])
    student = add_student(session_factory, "traj-student")
    submission_id = store_result(session_factory, student, "lab3", result)

    with session_factory() as session:
        stored = public_trajectories(session, [submission_id], lab.dimension)
        cases = (
            session.query(CaseResult)
            .filter_by(submission_id=submission_id)
            .order_by(CaseResult.case_index)
            .all()
        )

    assert list(stored) == [submission_id]
    assert len(cases) == 3
    public = trajectory_record(cases[0].trajectory, 2)
    assert np.array_equal(stored[submission_id][:, :2], np.asarray(public.points))
    for hidden in cases[1:]:
        hidden_rows = trajectory_record(hidden.trajectory, 2)
        assert not np.array_equal(stored[submission_id][:, 2], np.asarray(hidden_rows.values))
