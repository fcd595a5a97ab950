"""Languages: Accept-Language negotiation, translatable messages, and Korean API errors on a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.feedback import MESSAGES
from server import i18n
from server.i18n import Translatable, localize, negotiate, parse_accept_language, translatable
from tests.server.course_server import ORDINARY, course_server, wait_done

KOREAN_BROWSER = "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        (None, []),
        ("", []),
        ("ko", ["ko"]),
        (KOREAN_BROWSER, ["ko-KR", "ko", "en-US", "en"]),
        ("ko;q=0.5, en;q=0.9", ["en", "ko"]),
        ("en;q=0, ko", ["ko"]),
        ("ko;q=0.5, fr;q=0.5, de", ["de", "ko", "fr"]),
        ("ko;q=abc, en", ["en"]),
        ("ko;q=1.5, en;q=0.1", ["en"]),
        ("ko ; q = 0.8 , en;q=0.2", ["ko", "en"]),
        ("en_US, <script>, ko", ["ko"]),
        ("*;q=0.1, ko-KR", ["ko-KR", "*"]),
    ],
)
def test_parse_accept_language(header: str | None, ranges: list[str]):
    assert parse_accept_language(header) == ranges


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("ko", "ko"),
        ("KO", "ko"),
        (KOREAN_BROWSER, "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("ko;q=0.5, en;q=0.9", "en"),
        ("fr, ko;q=0.5", "ko"),
        ("zh-TW", "en"),
        ("*", "en"),
        ("ko;q=0.3, *;q=0.5", "en"),
        ("en;q=0, ko;q=0.1", "ko"),
        ("en-GB;q=0.2, ko-KR;q=0.21", "ko"),
    ],
)
def test_negotiate(header: str | None, locale: str):
    assert negotiate(header) == locale


def test_parse_caps_ranges():
    header = ",".join(["fr"] * 100 + ["ko"])

    assert len(parse_accept_language(header)) == i18n.MAX_LANGUAGE_RANGES
    assert negotiate(header) == "en"


def test_translatable_is_english_str():
    message = translatable("submission {submission_id} not found", submission_id=7)

    assert message == "submission 7 not found"
    assert isinstance(message, str)
    assert str(message) is message
    assert str(ValueError(message)) is message


def test_translatable_in_korean():
    message = translatable("submission {submission_id} not found", submission_id=7)

    assert localize(message, "ko") == "제출 7을(를) 찾을 수 없습니다"
    assert localize(message, "en") == "submission 7 not found"


def test_plain_catalogue_text_in_korean():
    assert localize(MESSAGES["converged"], "ko") == "전역 최솟값으로 수렴했습니다."
    assert localize("a sentence no catalogue has", "ko") == "a sentence no catalogue has"
    assert localize({"field": "x"}, "ko") == {"field": "x"}


def test_broken_translation_falls_back(caplog: pytest.LogCaptureFixture):
    class Broken:
        def gettext(self, message: str) -> str:
            return "{missing} 없음"

    message = Translatable("lab {lab_id} closed", {"lab_id": "lab3"})

    assert message.translated(Broken()) == "lab lab3 closed"  # type: ignore[arg-type]
    assert "does not format" in caplog.text


def test_every_feedback_message_translated():
    catalogue = i18n.translations("ko")

    for kind, message in MESSAGES.items():
        assert catalogue.gettext(message) != message, kind


def test_api_errors_in_korean(tmp_path: Path):
    with course_server(tmp_path / "data", workers=1) as server:
        server.set_lab("lab1", hidden_cases=0)
        token = server.add_student("i18n-student")
        with server.client(token) as client:
            missing_ko = client.get("/api/submissions/9999", headers={"Accept-Language": KOREAN_BROWSER})
            missing_en = client.get("/api/submissions/9999", headers={"Accept-Language": "en"})
            lab_ko = client.get("/api/labs/lab9/quota", headers={"Accept-Language": "ko"})
            empty_ko = client.post(
                "/api/labs/lab1/submissions", json={"code": "  "}, headers={"Accept-Language": "ko"}
            )
            submitted = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY})
            done = wait_done(client, submitted.json()["id"])
            feedback_ko = client.get(
                f"/api/submissions/{submitted.json()['id']}", headers={"Accept-Language": "ko"}
            ).json()["feedback"]
        with server.client("a-token-nobody-was-given") as stranger:
            unknown_ko = stranger.get("/api/me", headers={"Accept-Language": "ko"})
        with server.ta() as ta:
            ta_route = ta.post("/api/ta/students/nobody/token", headers={"Accept-Language": "ko"})

    assert missing_ko.status_code == 404
    assert missing_ko.json()["detail"] == "제출 9999을(를) 찾을 수 없습니다"
    assert missing_ko.headers["Content-Language"] == "ko"
    assert "Accept-Language" in missing_ko.headers["Vary"]
    assert missing_en.json()["detail"] == "submission 9999 not found"
    assert missing_en.headers["Content-Language"] == "en"
    assert lab_ko.json()["detail"] == "알 수 없는 실습 'lab9': lab1, lab2, lab3 중 하나여야 합니다"
    assert empty_ko.status_code == 422
    assert empty_ko.json()["detail"].startswith("코드가 비어 있습니다")
    assert "RateLimit" in empty_ko.headers
    assert unknown_ko.status_code == 401
    assert unknown_ko.json()["detail"].startswith("알 수 없는 bearer 토큰")
    assert unknown_ko.headers["WWW-Authenticate"] == "Bearer"
    feedback_en = done["feedback"]
    assert isinstance(feedback_en, dict)
    assert feedback_en["message"] == MESSAGES[feedback_en["kind"]]
    assert feedback_ko["message"] == localize(MESSAGES[feedback_ko["kind"]], "ko")
    assert feedback_ko["message"] != MESSAGES[feedback_ko["kind"]]
    assert ta_route.status_code == 404
    assert ta_route.json()["detail"].startswith("student 'nobody' not found")  # TA messages stay English.
