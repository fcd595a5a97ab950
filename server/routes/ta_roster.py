"""TA routes over the roster: CSV import, the student list and student tokens."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit, roster
from server.course_schemas import (
    RosterImportResult,
    RosterPage,
    RosterStudent,
    RosterStudentCreated,
    StudentTokenIssued,
)
from server.deps import Caller, Offset, SessionDep, TADep
from server.display_names import shown_name
from server.models import Student

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ta", tags=["ta"])

_ROSTER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "student_id,name,section,email\n2026001,Kim Minji,A,minji@example.com\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def _roster_bytes(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4, max_part_size=roster.MAX_ROSTER_BYTES + 1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "missing file field: send the roster as multipart field 'file' (curl -F file=@roster.csv)",
            )
        return await upload.read(roster.MAX_ROSTER_BYTES + 1)
    if media_type in ("text/csv", "text/plain"):
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > roster.MAX_ROSTER_BYTES:
                break
        return bytes(body)
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"unsupported content type {media_type!r}: send the roster as text/csv, or as multipart field 'file'",
    )


@router.post(
    "/roster",
    summary="Import a roster CSV: add new students with their tokens, update known ones",
    openapi_extra=_ROSTER_BODY,
)
async def import_roster(
    request: Request,
    caller: TADep,
    session: SessionDep,
    dry_run: Annotated[
        bool, Query(description="Check the file and report what would change; change nothing.")
    ] = False,
) -> RosterImportResult:
    data = await _roster_bytes(request)
    try:
        rows = roster.parse(data)
    except roster.RosterError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None

    report = await run_in_threadpool(_import, session, caller, rows, dry_run)
    return RosterImportResult(
        dry_run=dry_run,
        created=[
            RosterStudentCreated(
                student_id=row.student_id, name=row.name, section=row.section, email=row.email, token=token
            )
            for row, token in report.created
        ],
        updated=report.updated,
        unchanged=report.unchanged,
        not_in_file=report.not_in_file,
    )


def _import(
    session: Session, caller: Caller, rows: list[roster.RosterRow], dry_run: bool
) -> roster.ImportReport:
    report = roster.import_rows(session, rows, dry_run=dry_run)
    if dry_run:
        session.rollback()
        return report
    sections = ", ".join(sorted({row.section for row in rows}))
    audit.record(
        session,
        caller,
        "roster_import",
        f"{len(rows)} rows, sections {sections}",
        created=len(report.created),
        updated=len(report.updated),
        unchanged=len(report.unchanged),
    )
    session.commit()
    logger.info(
        "roster imported: %d created, %d updated, %d unchanged",
        len(report.created),
        len(report.updated),
        len(report.unchanged),
    )
    return report


@router.get("/students", summary="List the roster, filtered by section and paginated")
def list_students(
    _: TADep,
    session: SessionDep,
    section: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Offset = 0,
) -> RosterPage:
    query = select(Student)
    if section is not None:
        query = query.where(Student.section == section)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    students = session.scalars(
        query.order_by(Student.section, Student.student_id).limit(limit).offset(offset)
    ).all()
    items = [
        RosterStudent(
            student_id=student.student_id,
            name=student.name,
            section=student.section,
            email=student.email,
            display_name=shown_name(student.display_name, student.id),
            has_token=student.token_hash is not None,
            created_at=student.created_at,
        )
        for student in students
    ]
    return RosterPage(items=items, total=total, limit=limit, offset=offset)


def _student_or_404(session: SessionDep, student_id: str) -> Student:
    student = session.scalar(select(Student).where(Student.student_id == student_id))
    if student is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"student {student_id!r} not found: import them with the roster first"
        )
    return student


@router.post(
    "/students/{student_id}/token",
    summary="Issue a student a new token; the old one stops working",
)
def rotate_student_token(student_id: str, caller: TADep, session: SessionDep) -> StudentTokenIssued:
    student = _student_or_404(session, student_id)
    token = roster.rotate_token(student)
    audit.record(session, caller, "student_token_rotate", student_id)
    session.commit()
    logger.info("student %s: token rotated", student_id)
    return StudentTokenIssued(student_id=student_id, token=token)


@router.delete(
    "/students/{student_id}/token",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a student's token until a TA issues a new one",
)
def revoke_student_token(student_id: str, caller: TADep, session: SessionDep) -> None:
    student = _student_or_404(session, student_id)
    roster.revoke_token(student)
    audit.record(session, caller, "student_token_revoke", student_id)
    session.commit()
    logger.info("student %s: token revoked", student_id)
