"""HTML pages, rendered from Jinja2 templates with autoescaping."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from reference.labs import Lab
from server import boards, i18n
from server.deps import Caller, PageCallerDep, SessionDep
from server.lab_settings import get_settings
from server.routes.labs import lab_or_404
from server.run_figures import figures
from server.templating import page_context, render

logger = logging.getLogger(__name__)

router = APIRouter(tags=["pages"])

PLOTTED_ENTRIES = 5
"""The leaderboard page plots the runs of this many leading entries."""


@router.get(
    "/leaderboard/{lab_id}", response_class=HTMLResponse, summary="Show a lab's leaderboard as a page"
)
def leaderboard_page(
    lab_id: str, request: Request, session: SessionDep, caller: PageCallerDep, board: str = "public"
) -> HTMLResponse:
    lab = lab_or_404(lab_id)
    context = _board_context(request, session, lab, board, caller)
    if context["board"] is not None:
        labelled = [(row.submission_id, f"{row.rank}. {row.display_name}") for row in context["board"].rows]
        context["figures"] = figures(session, lab, labelled[:PLOTTED_ENTRIES], context["locale"], "board")
    return render(request, "leaderboard.html", context, status_code=context["status_code"])


@router.get(
    "/leaderboard/{lab_id}/table",
    response_class=HTMLResponse,
    summary="Show a leaderboard's ranked table alone, for refreshing the page in place",
)
def leaderboard_table(
    lab_id: str, request: Request, session: SessionDep, caller: PageCallerDep, board: str = "public"
) -> HTMLResponse:
    context = _board_context(request, session, lab_or_404(lab_id), board, caller)
    response = render(request, "leaderboard_table.html", context, status_code=context["status_code"])
    response.headers["Cache-Control"] = "no-store"
    return response


def _board_context(
    request: Request, session: Session, lab: Lab, board: str, caller: Caller | None
) -> dict[str, Any]:
    """Rank the board for a page; a private board before the deadline gives a notice with status 403."""
    context = page_context(
        request, caller, lab=lab, board_name=board, board=None, closed=None, status_code=200
    )
    try:
        context["board"] = boards.build(session, lab, board, caller)
    except HTTPException as error:
        if error.status_code != status.HTTP_403_FORBIDDEN:
            raise
        # Debug level, because an open page requests the table fragment again every few seconds.
        logger.debug("%s board of %s shown as closed: %s", board, lab.lab_id, error.detail)
        context["closed"] = i18n.localize(error.detail, context["locale"])
        context["status_code"] = error.status_code
    settings = get_settings(session, lab.lab_id)
    context["deadline"] = settings.deadline
    context["board_rule"] = settings.board_rule
    return context
