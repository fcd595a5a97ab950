"""HTML pages, rendered from Jinja2 templates with autoescaping."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server import boards
from server.deps import OptionalCallerDep, SessionDep
from server.routes.labs import lab_or_404

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


@router.get(
    "/leaderboard/{lab_id}", response_class=HTMLResponse, summary="Show a lab's leaderboard as a page"
)
def leaderboard_page(
    lab_id: str, request: Request, session: SessionDep, caller: OptionalCallerDep, board: str = "public"
) -> HTMLResponse:
    ranking = boards.build(session, lab_or_404(lab_id), board, caller)
    return templates.TemplateResponse(
        request, "leaderboard.html", {"lab": lab_or_404(lab_id), "board": ranking}
    )
