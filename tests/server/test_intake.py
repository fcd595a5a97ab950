"""Submissions written as a Markdown issue body: finding the python block, and the API that takes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import HTTPException

from server.intake import extract_python_block
from tests.conftest import TA_TOKEN, LiveServer, add_student, wait_for_result

SOLUTION = "import torch\n\ndef solution(func, start_point):\n    func(start_point)\n    return start_point\n"

# An issue as the course's issue form renders it: dropdowns as headings, the code field as a python block.
ISSUE = f"""### Week

2주차

### Problem

lab1

### Code

```python
{SOLUTION}```

### Description

I used plain gradient descent. This block is not the solution:

```python
print("not me")
```
"""


def detail(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(HTTPException) as raised:
        call()
    assert raised.value.status_code == 422
    return str(raised.value.detail)


def test_extract_first_python_block():
    assert extract_python_block(ISSUE) == SOLUTION


def test_extract_skips_other_languages():
    body = "```text\nnot code\n```\n\n```python\nx = 1\n```\n"

    assert extract_python_block(body) == "x = 1\n"


@pytest.mark.parametrize("info", ["python", "Python", "py", "python3", "python title=solution.py"])
def test_extract_info_strings(info: str):
    assert extract_python_block(f"```{info}\nx = 1\n```\n") == "x = 1\n"


def test_extract_tilde_fence():
    assert extract_python_block("~~~python\nx = '```'\n~~~\n") == "x = '```'\n"


def test_extract_longer_fence_keeps_inner_fence():
    body = "````python\ns = '''\n```\n'''\n````\n"

    assert extract_python_block(body) == "s = '''\n```\n'''\n"


def test_extract_crlf_body():
    body = "Intro\r\n\r\n```python\r\nx = 1\r\ny = 2\r\n```\r\n"

    assert extract_python_block(body) == "x = 1\ny = 2\n"


def test_extract_indented_fence_in_list():
    body = "1. My code:\n\n   ```python\n   def solution(func, start_point):\n       return start_point\n   ```\n"

    assert extract_python_block(body) == "def solution(func, start_point):\n    return start_point\n"


def test_extract_without_block():
    message = detail(lambda: extract_python_block("I forgot the code.\n\ndef solution(f, p): return p\n"))

    assert "no python code block" in message
    assert "```python" in message


def test_extract_unlabelled_block_rejected():
    message = detail(lambda: extract_python_block("```\ndef solution(func, start_point): ...\n```\n"))

    assert "no python code block" in message


def test_extract_unclosed_block():
    message = detail(lambda: extract_python_block("### Code\n\n```python\nx = 1\n\n### Description\n"))

    assert "starts on line 3" in message
    assert "never closed" in message


@pytest.fixture
def student(live_server: LiveServer) -> Iterator[httpx.Client]:
    token = add_student(live_server, f"intake-{uuid.uuid4().hex[:12]}")
    with live_server.client(token) as client:
        yield client


def test_submit_issue_body_json(student: httpx.Client):
    response = student.post("/api/labs/lab1/submissions", json={"issue_body": ISSUE})

    assert response.status_code == 202, response.text
    result = wait_for_result(student, response.json()["url"])
    assert result["verdict"] == "accepted"
    assert result["score"]["evaluations"] == 1  # type: ignore[index]


def test_submit_issue_body_markdown(student: httpx.Client, live_server: LiveServer):
    response = student.post(
        "/api/labs/lab1/submissions",
        content=ISSUE.encode(),
        headers={"Content-Type": "text/markdown; charset=utf-8"},
    )

    assert response.status_code == 202, response.text
    with live_server.client(TA_TOKEN) as ta:
        stored = ta.get(f"/api/ta/submissions/{response.json()['id']}").json()
    assert stored["code"] == SOLUTION


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"issue_body": "Here is my answer: x = 1"}, "no python code block"),
        ({"issue_body": "```python\nx = 1\n"}, "never closed"),
        ({"issue_body": "```python\n\n```\n"}, "the code is empty"),
        ({"issue_body": ISSUE, "code": SOLUTION}, 'both "code" and "issue_body"'),
    ],
    ids=["no_block", "unclosed", "empty_block", "both_fields"],
)
def test_submit_issue_body_rejected(student: httpx.Client, body: dict[str, str], message: str):
    response = student.post("/api/labs/lab1/submissions", json=body)

    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert student.get("/api/me/submissions").json() == []


def test_submit_markdown_too_large(student: httpx.Client):
    body = ISSUE + "padding " * 70_000

    response = student.post(
        "/api/labs/lab1/submissions", content=body.encode(), headers={"Content-Type": "text/markdown"}
    )

    assert response.status_code == 413
    assert "request body is over 512 KiB" in response.json()["detail"]
