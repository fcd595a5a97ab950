"""TA routes that report: the gradebook export, per-lab statistics and the audit log."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from server import audit, gradebook, stats
from server.clock import NowDep
from server.course_schemas import AuditEntryPublic, AuditPage, LabStats
from server.deps import Offset, SessionDep, TADep
from server.routes.labs import lab_or_404
from server.routes.ta_submissions import ZonedTime, require_zone

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ta", tags=["ta"])


@router.get(
    "/gradebook.csv",
    response_class=Response,
    summary="Export the gradebook as CSV: one row per student, each lab's best submission",
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a heading row."}},
)
def export_gradebook(
    request: Request,
    caller: TADep,
    session: SessionDep,
    now: NowDep,
    section: str | None = None,
    on_time_only: Annotated[
        bool, Query(description="Choose each best submission among on-time ones.")
    ] = False,
    bom: Annotated[
        bool, Query(description="Start with a UTF-8 byte-order mark, so Excel reads Korean names.")
    ] = False,
) -> Response:
    text = gradebook.export(session, section=section, on_time_only=on_time_only)
    audit.record(session, caller, "gradebook_export", section or "all sections", on_time_only=on_time_only)
    session.commit()
    local = now.astimezone(request.app.state.settings.zone)
    filename = f"gradebook-{local:%Y%m%d-%H%M}.csv"
    return Response(
        ("\ufeff" if bom else "") + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/labs/{lab_id}/stats", summary="Read a lab's verdict counts, score distribution and submissions per hour"
)
def read_lab_stats(
    lab_id: str,
    request: Request,
    _: TADep,
    session: SessionDep,
    since: ZonedTime = None,
    until: ZonedTime = None,
) -> LabStats:
    require_zone("since", since)
    require_zone("until", until)
    return stats.lab_stats(session, lab_or_404(lab_id).lab_id, request.app.state.settings.zone, since, until)


@router.get("/audit", summary="List the audit log of TA actions, newest first")
def read_audit_log(
    _: TADep,
    session: SessionDep,
    action: str | None = None,
    ta_name: str | None = None,
    since: ZonedTime = None,
    until: ZonedTime = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    require_zone("since", since)
    require_zone("until", until)
    entries, total = audit.page(session, action, ta_name, since, until, limit, offset)
    items = [
        AuditEntryPublic(
            id=entry.id,
            at=entry.at,
            ta_name=entry.ta_name,
            action=entry.action,
            target=entry.target,
            details=entry.details,
        )
        for entry in entries
    ]
    return AuditPage(items=items, total=total, limit=limit, offset=offset)
