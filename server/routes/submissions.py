from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from grader.feedback import MESSAGES, nearby_critical_point
from reference.labs import get_lab
from server.deps import CallerDep, SessionDep, StudentDep
from server.models import CaseResult, Submission
from server.routes.labs import lab_or_404
from server.schemas import (
    CaseScorePublic,
    CriticalPointPublic,
    FeedbackPublic,
    HiddenSummary,
    SubmissionPublic,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["submissions"])

MAX_CODE_BYTES = 64 * 1024

_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {
                "schema": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
            },
        },
    }
}


def submission_url(submission_id: int) -> str:
    return f"/api/submissions/{submission_id}"


async def _read_code(request: Request) -> bytes:
    """Take the code from a multipart field ``file`` or a JSON body ``{"code": ...}``."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4, max_part_size=MAX_CODE_BYTES + 1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                "missing file field: send the solution as multipart field 'file' (curl -F file=@solution.py)",
            )
        return await upload.read(MAX_CODE_BYTES + 1)
    if content_type.startswith("application/json"):
        body = await request.body()
        try:
            payload = json.loads(body)
        except ValueError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "the body is not valid JSON") from None
        code = payload.get("code") if isinstance(payload, dict) else None
        if not isinstance(code, str):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY, 'missing "code": send {"code": "<your solution file>"}'
            )
        return code.encode("utf-8", "surrogatepass")
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"unsupported content type {content_type!r}: send multipart/form-data with a field 'file', "
        "or application/json with a field 'code'",
    )


def _validate_code(raw: bytes) -> str:
    if len(raw) > MAX_CODE_BYTES:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"the code is over {MAX_CODE_BYTES // 1024} KiB: a solution file should be a few KiB; remove data or "
            "generated code",
        )
    try:
        code = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"the code is not valid UTF-8 (byte {raw[error.start]:#04x} at offset {error.start}): "
            "save the file as UTF-8",
        ) from None
    if not code.strip():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            "the code is empty: send a file that defines solution(func, start_point)",
        )
    return code


@router.post(
    "/labs/{lab_id}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a solution file for grading",
    openapi_extra=_UPLOAD_DOC,
    responses={202: {"description": "Stored and queued; poll the returned URL for the result."}},
)
async def create_submission(
    lab_id: str, request: Request, student: StudentDep, session: SessionDep
) -> JSONResponse:
    lab = lab_or_404(lab_id)
    code = _validate_code(await _read_code(request))
    submission = Submission(student_pk=student.id, lab_id=lab.lab_id, code=code)
    session.add(submission)
    session.commit()  # Stored before it is acknowledged.
    logger.info("submission %d queued: lab %s, student %s", submission.id, lab.lab_id, student.student_id)
    request.app.state.notify_workers()
    url = submission_url(submission.id)
    return JSONResponse(
        {"id": submission.id, "url": url, "status": submission.status},
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": url},
    )


def _feedback(submission: Submission, public_case: CaseResult | None) -> FeedbackPublic | None:
    if public_case is None or public_case.feedback not in MESSAGES:
        return None
    critical = None
    if public_case.feedback == "stopped_at_critical_point":
        found = nearby_critical_point(get_lab(submission.lab_id).public, tuple(public_case.final_point))
        if found is not None:
            critical = CriticalPointPublic(kind=found.kind, point=list(found.point), value=found.value)
    return FeedbackPublic(
        kind=public_case.feedback, message=MESSAGES[public_case.feedback], critical_point=critical
    )


def submission_public(submission: Submission) -> SubmissionPublic:
    """Show a submission as its owner may see it: the public case in full, hidden cases as aggregates."""
    public_case = next((case for case in submission.cases if case.case_index == 0), None)
    summary = submission.summary or {}
    hidden = summary.get("hidden")
    return SubmissionPublic(
        id=submission.id,
        url=submission_url(submission.id),
        lab_id=submission.lab_id,
        student_id=submission.student.student_id,
        status=submission.status,
        verdict=submission.verdict,
        detail=submission.detail,
        score=CaseScorePublic.model_validate(public_case) if public_case is not None else None,
        feedback=_feedback(submission, public_case),
        hidden=HiddenSummary.model_validate(hidden) if hidden else None,
        solved_fraction=submission.solved_fraction,
        stdout=submission.stdout,
        stderr=submission.stderr,
        created_at=submission.created_at,
        finished_at=submission.finished_at,
    )


@router.get("/submissions/{submission_id}", summary="Read a submission's status, verdict, score and output")
def get_submission(submission_id: int, caller: CallerDep, session: SessionDep) -> SubmissionPublic:
    submission = session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .options(selectinload(Submission.cases), selectinload(Submission.student))
    )
    # Another student's submission answers like a missing one, so ids reveal nothing.
    if submission is None or (caller.student is not None and submission.student_pk != caller.student.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"submission {submission_id} not found")
    return submission_public(submission)
