"""Logging set-up of the service and its workers: plain text, or one JSON object per record.

With ``GRADEDESCENT_LOG_FORMAT=json`` every record becomes one line with the
keys ``time``, ``level``, ``logger`` and ``message``, plus the extra fields
a record carries: state changes of a submission carry ``submission_id`` and
``event`` (queued, dispatched, running, done, requeued, internal_error, ...).
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr in ``log_format``: ``"text"`` or ``"json"``."""
    if log_format not in ("text", "json"):
        raise ValueError(f"invalid log format {log_format!r}: use 'text' or 'json'")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
