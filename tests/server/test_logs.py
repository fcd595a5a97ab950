"""The log formats: text for people, one JSON object per line for collectors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from server.logs import configure_logging


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_record(restore_root_logger, capsys: pytest.CaptureFixture[str]):
    configure_logging("json")

    logging.getLogger("grader.claims").info(
        "submission %d done: %s", 7, "accepted", extra={"submission_id": 7, "event": "done"}
    )

    record = json.loads(capsys.readouterr().err)
    assert record["message"] == "submission 7 done: accepted"
    assert record["submission_id"] == 7
    assert record["event"] == "done"
    assert record["level"] == "INFO"
    assert record["logger"] == "grader.claims"


def test_text_record(restore_root_logger, capsys: pytest.CaptureFixture[str]):
    configure_logging("text")

    logging.getLogger("grader.claims").warning("submission %d requeued", 7)

    assert capsys.readouterr().err.rstrip().endswith("WARNING grader.claims: submission 7 requeued")


def test_invalid_format(restore_root_logger):
    with pytest.raises(ValueError, match="invalid log format 'xml'"):
        configure_logging("xml")
