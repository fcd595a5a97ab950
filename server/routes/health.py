from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from server.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Check that the service and its database answer")
def healthz(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
