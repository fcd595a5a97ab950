"""Display names: cleaning, pseudonyms, the student routes, and a hostile name on the leaderboard page."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import display_names
from server.display_names import MAX_LENGTH, DisplayNameError, clean, name_key, validate
from server.models import Student
from tests.server.conftest import add_student
from tests.server.course_server import ORDINARY, course_server, wait_done

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
HOSTILE = "<script>alert(1)</script>\u202eevil\u2066"


def test_clean_strips_bidi_controls():
    assert clean(f"Kim{BIDI_CONTROLS}Minji") == "KimMinji"


def test_clean_strips_control_and_zero_width():
    assert clean("Ki\x00m\u200b Min\x1bji\ufeff") == "Kim Minji"


def test_clean_collapses_whitespace():
    assert clean("  Kim \t\n  Minji  ") == "Kim Minji"


def test_clean_normalises_to_nfc():
    decomposed = "Jose\u0301"

    assert clean(decomposed) == "José"
    assert unicodedata.is_normalized("NFC", clean(decomposed))


def test_clean_limits_combining_marks():
    assert clean("a" + "\u0336" * 40) == "a\u0336\u0336"


def test_clean_keeps_hangul():
    assert clean("김민지") == "김민지"


def test_clean_keeps_markup_for_escaping():
    assert clean("<b>bold</b>") == "<b>bold</b>"


@given(st.text(max_size=200))
def test_clean_output_has_no_dropped_characters(raw: str):
    cleaned = clean(raw)

    assert all(unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn") for char in cleaned)
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)


def test_validate_rejects_too_long():
    with pytest.raises(DisplayNameError, match=f"over the limit of {MAX_LENGTH}"):
        validate("x" * (MAX_LENGTH + 1))


def test_validate_accepts_limit():
    assert validate("x" * MAX_LENGTH) == "x" * MAX_LENGTH


@pytest.mark.parametrize("raw", ["", "   ", BIDI_CONTROLS, "...", "\u0301\u0301"])
def test_validate_rejects_empty(raw: str):
    with pytest.raises(DisplayNameError, match="at least one letter or digit"):
        validate(raw)


def test_name_key_folds_case_and_width():
    assert name_key("ＫＩＭ") == name_key("kim")


def test_pseudonym_avoids_taken():
    taken_keys: set[str] = set()
    for _ in range(50):
        name = display_names.new_pseudonym(lambda key: key in taken_keys)
        taken_keys.add(name_key(name))

    assert len(taken_keys) == 50


def test_new_student_gets_pseudonym(session_factory):
    student_pk = add_student(session_factory, "dn-new", name="Real Name")

    with session_factory() as session:
        student = session.get(Student, student_pk)
        assert student is not None
        assert student.display_name
        assert "Real" not in student.display_name
        assert student.display_name_key == name_key(student.display_name)
        assert student.display_name_chosen is False


def test_display_name_routes(tmp_path: Path):
    with course_server(tmp_path / "data") as server:
        token = server.add_student("dn-route", name="Kim Minji")
        other = server.add_student("dn-other")
        with server.client(token) as client, server.client(other) as other_client:
            before = client.get("/api/me").json()
            chosen = client.put(
                "/api/me/display-name", json={"display_name": f"  Gradient{BIDI_CONTROLS} Fan "}
            )
            clash = other_client.put("/api/me/display-name", json={"display_name": "GRADIENT FAN"})
            too_long = other_client.put("/api/me/display-name", json={"display_name": "y" * 40})
            reset = client.delete("/api/me/display-name")

    assert before["name"] == "Kim Minji"
    assert before["display_name_chosen"] is False
    assert chosen.status_code == 200
    assert chosen.json()["display_name"] == "Gradient Fan"
    assert chosen.json()["display_name_chosen"] is True
    assert clash.status_code == 409
    assert "taken by another student" in clash.json()["detail"]
    assert too_long.status_code == 422
    assert "40 characters long" in too_long.json()["detail"]
    assert reset.json()["display_name_chosen"] is False
    assert reset.json()["display_name"] != "Gradient Fan"


def test_hostile_name_escaped_on_page(tmp_path: Path):
    with course_server(tmp_path / "data", workers=1) as server:
        server.set_lab("lab1", leaderboard=True, hidden_cases=0)
        token = server.add_student("dn-hostile", name="Real Person")
        with server.client(token) as client:
            chosen = client.put("/api/me/display-name", json={"display_name": HOSTILE})
            submitted = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY})
            wait_done(client, submitted.json()["id"])
        with server.client() as anonymous:
            board = anonymous.get("/api/labs/lab1/leaderboard").json()
            page = anonymous.get("/leaderboard/lab1")

    assert chosen.json()["display_name"] == "<script>alert(1)</script>evil"
    assert [row["display_name"] for row in board["rows"]] == ["<script>alert(1)</script>evil"]
    html = page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;evil" in html
    assert "<script>" not in html
    assert "Real Person" not in html
    assert not any(char in html for char in BIDI_CONTROLS)
    assert "Submitted (Asia/Seoul)" in html
    assert " KST" in html
