"""HTML pages, rendered from Jinja2 templates with autoescaping."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server import leaderboard
from server.deps import SessionDep
from server.routes.labs import lab_or_404

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


@router.get(
    "/leaderboard/{lab_id}", response_class=HTMLResponse, summary="Show a lab's leaderboard as a page"
)
def leaderboard_page(lab_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    lab = lab_or_404(lab_id)
    if not lab.leaderboard:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{lab_id!r} has no leaderboard; only lab3 has one")
    rows = leaderboard.rank(session, lab.lab_id)
    return templates.TemplateResponse(request, "leaderboard.html", {"lab": lab, "rows": rows})
