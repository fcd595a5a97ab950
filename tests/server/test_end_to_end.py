"""From adding students to the lab3 leaderboard, through a server of its own."""

from __future__ import annotations

from pathlib import Path

from numpy.testing import assert_allclose

from tests.conftest import TA_TOKEN, add_student, start_server, stop_server, wait_for_result
from tests.grader.test_lab_cases import LAB3_GLOBAL_MINIMUM, TORCH_NESTEROV, gradient_descent

SCRIPT_NAME = "<script>alert(1)</script>"
RETURN_START = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"


def test_lab3_leaderboard(tmp_path: Path):
    server = start_server(tmp_path / "data")
    try:
        entrants = [
            ("e2e-nesterov", "Ada Nesterov", TORCH_NESTEROV),
            ("e2e-descent", "Grace Descent", gradient_descent(step=0.01, steps=250)),
            ("e2e-script", SCRIPT_NAME, RETURN_START),
        ]
        urls = {}
        for student_id, name, code in entrants:
            token = add_student(server, student_id, name=name)
            with server.client(token) as client:
                # Boards show display names, never real names: each entrant shows their name as it.
                chosen = client.put("/api/me/display-name", json={"display_name": name})
                assert chosen.status_code == 200, chosen.text
                response = client.post("/api/labs/lab3/submissions", json={"code": code})
            assert response.status_code == 202, response.text
            urls[name] = response.json()["url"]
        with server.client(TA_TOKEN) as client:
            results = {name: wait_for_result(client, url) for name, url in urls.items()}

        for name, result in results.items():
            assert result["verdict"] == "accepted", f"{name}: {result['detail']}"
        nesterov = results["Ada Nesterov"]["score"]
        descent = results["Grace Descent"]["score"]
        assert isinstance(nesterov, dict)
        assert isinstance(descent, dict)
        assert_allclose(nesterov["final_point"], [0.0, 0.12196164045491963], atol=1e-6)
        assert_allclose(nesterov["final_f"], LAB3_GLOBAL_MINIMUM, atol=1e-9)
        assert nesterov["reached_global"] is True
        assert_allclose(descent["final_point"], [0.0, 3.0], atol=1e-6)
        assert descent["reached_global"] is False

        with server.client() as client:  # The public board needs no token.
            board = client.get("/api/labs/lab3/leaderboard")
            page = client.get("/leaderboard/lab3")
    finally:
        stop_server(server)

    assert board.status_code == 200, board.text
    rows = board.json()["rows"]
    assert [row["display_name"] for row in rows] == ["Ada Nesterov", "Grace Descent", SCRIPT_NAME]
    assert [row["rank"] for row in rows] == [1, 2, 3]

    assert page.status_code == 200
    html = page.text
    assert html.index("Ada Nesterov") < html.index("Grace Descent")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT_NAME not in html
    assert html.index("Grace Descent") < html.index("&lt;script&gt;")
