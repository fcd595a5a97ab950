"""Leaderboard visibility rules, and the board built for the API and the page."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from reference.labs import Lab
from server import leaderboard
from server.deps import Caller
from server.i18n import translatable
from server.lab_settings import get_settings, private_board_open
from server.models import utc_now
from server.schemas import Leaderboard, LeaderboardRow


def build(session: Session, lab: Lab, board: str, caller: Caller | None) -> Leaderboard:
    """Rank the lab's board, or raise 404 (no board) or 403 (private board before the deadline)."""
    settings = get_settings(session, lab.lab_id)
    session.commit()  # Keeps the seeds if the settings were just created.
    if not settings.leaderboard:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            translatable(
                "{lab_id!r} has no leaderboard: a TA can enable one in the lab settings", lab_id=lab.lab_id
            ),
        )
    if board not in leaderboard.BOARDS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            translatable("unknown board {board!r}: expected 'public' or 'private'", board=board),
        )
    is_ta = caller is not None and caller.is_ta
    if board == "private" and not is_ta and not private_board_open(settings, utc_now()):
        if settings.deadline is None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                translatable("the private board opens at the deadline, which is not set yet"),
            )
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            translatable("the private board opens at {deadline}", deadline=settings.deadline.isoformat()),
        )

    ranked = leaderboard.entries(session, lab.lab_id, board, settings.board_rule)
    rows = [
        LeaderboardRow(
            rank=position,
            display_name=entry.display_name,
            section=entry.section,
            submission_id=entry.submission_id,
            gap=entry.gap,
            expected_running_time=entry.expected_running_time,
            solved_fraction=entry.solved_fraction,
            final_f=entry.final_f,
            evaluations=entry.evaluations,
            submitted_at=entry.submitted_at,
        )
        for position, entry in enumerate(ranked, start=1)
    ]
    return Leaderboard(
        lab_id=lab.lab_id, board=board, rule=settings.board_rule, deadline=settings.deadline, rows=rows
    )
