"""The leaderboard and result pages in real headless Chromium, against a real server.

Each test leaves a screenshot in tests/artifacts/ for people to look at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, Playwright

from tests.browser.conftest import launch, screenshot
from tests.conftest import TA_TOKEN, LiveServer, add_student, start_server, stop_server, wait_for_result
from tests.grader.test_lab_cases import TORCH_NESTEROV, gradient_descent

HOSTILE = "<img src=x onerror=alert(1)>Eve"
RETURN_START = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"


@dataclass
class Course:
    server: LiveServer
    tokens: dict[str, str]
    submissions: dict[str, int]


def enter(server: LiveServer, student_id: str, display_name: str, code: str) -> tuple[str, int]:
    """Add a student with a display name and submit their code to lab3; return the token and submission id."""
    token = add_student(server, student_id, name=f"Real Name {student_id}")
    with server.client(token) as client:
        chosen = client.put("/api/me/display-name", json={"display_name": display_name})
        assert chosen.status_code == 200, chosen.text
        submitted = client.post("/api/labs/lab3/submissions", json={"code": code})
    assert submitted.status_code == 202, submitted.text
    return token, int(submitted.json()["id"])


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    server = start_server(tmp_path_factory.mktemp("browser-server"))
    try:
        with server.client(TA_TOKEN) as ta:
            assert ta.patch("/api/ta/labs/lab3", json={"hidden_cases": 1}).status_code == 200
        tokens: dict[str, str] = {}
        submissions: dict[str, int] = {}
        for name, code in (
            ("Ada Nesterov", TORCH_NESTEROV),
            ("Grace Descent", gradient_descent(step=0.01, steps=250)),
            (HOSTILE, RETURN_START),
        ):
            tokens[name], submissions[name] = enter(server, f"browser-{len(tokens)}", name, code)
        with server.client(TA_TOKEN) as ta:
            for submission_id in submissions.values():
                assert wait_for_result(ta, f"/api/submissions/{submission_id}")["verdict"] == "accepted"
        yield Course(server, tokens, submissions)
    finally:
        stop_server(server)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    browser.clear_cookies()
    tab = browser.new_page()
    yield tab
    tab.close()


@pytest.fixture
def korean_page(korean_browser: BrowserContext) -> Iterator[Page]:
    korean_browser.clear_cookies()
    tab = korean_browser.new_page()
    yield tab
    tab.close()


def board_names(page: Page) -> list[str]:
    return page.locator("#board-table tbody th[scope=row]").all_inner_texts()


def set_deadline(course: Course, deadline: dt.datetime) -> None:
    with course.server.client(TA_TOKEN) as ta:
        response = ta.patch("/api/ta/labs/lab3", json={"deadline": deadline.isoformat()})
    assert response.status_code == 200, response.text


def test_board_order(course: Course, page: Page):
    page.goto(f"{course.server.url}/leaderboard/lab3")
    screenshot(page, "leaderboard-public-en")
    with course.server.client() as client:
        api_order = [row["display_name"] for row in client.get("/api/labs/lab3/leaderboard").json()["rows"]]

    assert board_names(page) == ["Ada Nesterov", "Grace Descent", HOSTILE]
    assert board_names(page) == api_order
    assert page.locator("#board-table tbody td.number").first.inner_text() == "1"


def test_hostile_name_shown_as_text(course: Course, page: Page):
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    page.goto(f"{course.server.url}/leaderboard/lab3")
    page.wait_for_load_state("load")

    assert page.locator("#board-table tbody th[scope=row]").nth(2).inner_text() == HOSTILE
    assert page.locator("main img").count() == 0
    assert dialogs == []
    assert HOSTILE in page.locator("figcaption").first.inner_text()


def test_korean_page(course: Course, korean_page: Page):
    page = korean_page
    page.goto(f"{course.server.url}/leaderboard/lab3")
    screenshot(page, "leaderboard-public-ko")

    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == "lab3 리더보드: 공개 보드"
    assert page.locator("#board-table thead th").first.inner_text() == "순위"
    assert page.locator("svg[role=img] title").first.text_content() == "공개 케이스에서의 수렴"
    assert board_names(page) == ["Ada Nesterov", "Grace Descent", HOSTILE]


def test_accessibility_basics(course: Course, page: Page):
    page.goto(f"{course.server.url}/leaderboard/lab3")

    assert page.locator("html").get_attribute("lang") == "en"
    headers = page.locator("#board-table thead th")
    assert headers.count() == 9
    for index in range(headers.count()):
        assert headers.nth(index).get_attribute("scope") == "col"
    assert page.locator("#board-table tbody th").count() == 3
    plots = page.locator("svg[role=img]")
    assert plots.count() == 2
    for index in range(plots.count()):
        label_ids = (plots.nth(index).get_attribute("aria-labelledby") or "").split()
        assert len(label_ids) == 2
        for label_id in label_ids:
            assert (page.locator(f"#{label_id}").text_content() or "").strip() != ""


def test_boards_around_deadline(course: Course, page: Page):
    now = dt.datetime.now(dt.UTC)
    set_deadline(course, now + dt.timedelta(days=7))
    closed = page.goto(f"{course.server.url}/leaderboard/lab3?board=private")
    screenshot(page, "leaderboard-private-before-deadline")
    assert closed is not None
    assert closed.status == 403
    assert "the private board opens at" in page.locator(".notice").inner_text().lower()
    assert page.locator("#board-table table").count() == 0
    assert page.locator("a[aria-current=page]").inner_text() == "Private board"

    set_deadline(course, now - dt.timedelta(minutes=1))
    opened = page.goto(f"{course.server.url}/leaderboard/lab3?board=private")
    screenshot(page, "leaderboard-private-after-deadline")
    assert opened is not None
    assert opened.status == 200
    assert sorted(board_names(page)) == sorted(["Ada Nesterov", "Grace Descent", HOSTILE])
    assert board_names(page)[0] == "Ada Nesterov"
    assert page.locator("#board-table thead th").nth(3).inner_text() == "Mean gap"


def test_sign_in_and_result(course: Course, page: Page, browser: BrowserContext):
    submission_id = course.submissions["Ada Nesterov"]
    page.goto(f"{course.server.url}/submissions/{submission_id}")
    screenshot(page, "sign-in")
    page.fill("#token", course.tokens["Ada Nesterov"])
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url(f"**/submissions/{submission_id}")
    screenshot(page, "result-en")

    cookie = next(c for c in browser.cookies() if c["name"] == "gradedescent_token")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""
    assert page.locator("h1").inner_text() == f"Submission {submission_id} · lab3"
    assert page.locator(".verdict").inner_text() == "accepted"
    assert "Converged to the global minimum." in page.locator("main").inner_text()
    assert page.locator("figure svg[role=img]").count() == 2
    assert "Asia/Seoul" in page.locator("dl.facts").inner_text()

    page.click("header form[action='/signout'] button")
    page.wait_for_url("**/signin")
    again = page.goto(f"{course.server.url}/submissions/{submission_id}")
    assert again is not None
    assert again.status == 401


def test_result_page_korean(course: Course, korean_page: Page):
    page = korean_page
    submission_id = course.submissions["Grace Descent"]
    page.goto(f"{course.server.url}/signin")
    page.fill("#token", course.tokens["Grace Descent"])
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url("**/submissions")
    page.click(f"a[href='/submissions/{submission_id}']")
    page.wait_for_url(f"**/submissions/{submission_id}")
    screenshot(page, "result-ko")

    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == f"제출 {submission_id} · lab3"
    assert "전역 최솟값이 아닌 임계점에서 멈췄습니다" in page.locator("main").inner_text()


def test_other_students_result_hidden(course: Course, page: Page):
    page.goto(f"{course.server.url}/signin")
    page.fill("#token", course.tokens["Grace Descent"])
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url("**/submissions")
    response = page.goto(f"{course.server.url}/submissions/{course.submissions['Ada Nesterov']}")

    assert response is not None
    assert response.status == 404
    assert "torch.optim.SGD" not in page.content()


def test_table_refreshes_in_place(course: Course, page: Page):
    page.goto(f"{course.server.url}/leaderboard/lab3")
    page.evaluate("window.__sameDocument = true")
    _, submission_id = enter(course.server, "browser-late", "Late Linus", RETURN_START)
    with course.server.client(TA_TOKEN) as ta:
        wait_for_result(ta, f"/api/submissions/{submission_id}")

    # The script fetches the table every 5 s; allow a few rounds for a slow machine.
    page.locator("#board-table tbody th", has_text="Late Linus").wait_for(timeout=30_000)

    assert page.evaluate("window.__sameDocument") is True
    assert "Late Linus" in board_names(page)


def test_page_complete_without_javascript(course: Course, playwright: Playwright, tmp_path: Path):
    context = launch(playwright, tmp_path / "profile-without-javascript", javascript=False)
    try:
        tab = context.new_page()
        tab.goto(f"{course.server.url}/leaderboard/lab3")
        screenshot(tab, "leaderboard-without-javascript")
        names = board_names(tab)
        plots = tab.locator("svg[role=img]").count()
    finally:
        context.close()

    assert names[:2] == ["Ada Nesterov", "Grace Descent"]
    assert plots == 2
