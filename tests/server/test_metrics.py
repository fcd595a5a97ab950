"""The API's /metrics page with the embedded worker pool, read through a live server."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TA_TOKEN, LiveServer, add_student, wait_for_result

ORDINARY = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"


def scrape(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def scrape_idle(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape once the queue is empty and nothing runs, since earlier tests may leave submissions behind."""
    deadline = time.monotonic() + 120
    while True:
        metrics = scrape(server)
        if metrics[("gradedescent_queue_depth", ())] + metrics[("gradedescent_running_submissions", ())] == 0:
            return metrics
        assert time.monotonic() < deadline, "the live server's queue did not empty within 120 s"
        time.sleep(0.2)


def test_metrics_count_grade(live_server: LiveServer):
    accepted = ("gradedescent_graded_total", (("verdict", "accepted"),))
    stored = ("gradedescent_submissions_by_verdict", (("verdict", "accepted"),))
    before = scrape_idle(live_server)
    token = add_student(live_server, "metrics-student")
    with live_server.client(token) as client:
        url = client.post("/api/labs/lab1/submissions", json={"code": ORDINARY}).json()["url"]
    with live_server.client(TA_TOKEN) as client:
        assert wait_for_result(client, url)["verdict"] == "accepted"

    after = scrape(live_server)

    assert after[accepted] == before.get(accepted, 0) + 1
    assert after[stored] == before.get(stored, 0) + 1
    # The server forks runs from its warm sandboxes, which started with it: one per worker.
    starts = ("gradedescent_sandbox_starts_total", ())
    assert after[starts] == before[starts]
    assert after[starts] >= 1
    latency = ("gradedescent_grading_latency_seconds_count", ())
    assert after[latency] == before[latency] + 1
    wall = ("gradedescent_run_wall_seconds_count", ())
    assert after[wall] == before[wall] + 1
    assert ("gradedescent_queue_depth", ()) in after
    assert ("gradedescent_running_submissions", ()) in after
    assert ("gradedescent_oldest_queued_seconds", ()) in after
