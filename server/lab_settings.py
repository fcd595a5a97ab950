"""Per-lab grading settings and the hidden cases they select."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reference.families import hidden_instances
from reference.labs import Instance, get_lab
from server.models import LabSettings

DEFAULT_HIDDEN_CASES = 8
MAX_HIDDEN_CASES = 64
BOARD_RULES = ("best", "latest")


def get_settings(session: Session, lab_id: str) -> LabSettings:
    """Return the lab's settings, creating them with defaults and fresh seeds on first use."""
    settings = session.get(LabSettings, lab_id)
    if settings is not None:
        return settings
    lab = get_lab(lab_id)
    settings = LabSettings(
        lab_id=lab_id,
        hidden_cases=DEFAULT_HIDDEN_CASES,
        hidden_seeds=_new_seeds(DEFAULT_HIDDEN_CASES),
        leaderboard=lab.leaderboard,
        board_rule="best",
    )
    try:
        with session.begin_nested():
            session.add(settings)
    except IntegrityError:
        # Another worker created them first; theirs win, so seeds stay the same for everyone.
        settings = session.get(LabSettings, lab_id, populate_existing=True)
        assert settings is not None
    return settings


def ensure_seeds(settings: LabSettings) -> list[int]:
    """Return the seeds of the hidden cases, drawing more if ``hidden_cases`` grew."""
    seeds = list(settings.hidden_seeds)
    if len(seeds) < settings.hidden_cases:
        seeds += _new_seeds(settings.hidden_cases - len(seeds))
        settings.hidden_seeds = seeds
    return seeds[: settings.hidden_cases]


def grading_cases(session: Session, lab_id: str) -> tuple[list[Instance], list[int | None]]:
    """Return the cases a new submission is graded on, public first, with their seeds (None for public)."""
    settings = get_settings(session, lab_id)
    seeds = ensure_seeds(settings)
    return [get_lab(lab_id).public, *hidden_instances(lab_id, seeds)], [None, *seeds]


def private_board_open(settings: LabSettings, now: dt.datetime) -> bool:
    """Return whether students may see the private board, which opens once the deadline has passed."""
    return settings.deadline is not None and now >= settings.deadline


def _new_seeds(count: int) -> list[int]:
    return [secrets.randbelow(2**31) for _ in range(count)]
