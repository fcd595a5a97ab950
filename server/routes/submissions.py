from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.feedback import MESSAGES, nearby_critical_point
from reference.labs import get_lab
from server import admission, idempotency, intake, quota, schedule
from server.clock import NowDep
from server.course_schemas import quota_public
from server.deps import Caller, CallerDep, RowId, SessionDep, StudentDep
from server.i18n import DEFAULT_LOCALE, localize, request_locale, translatable
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

MAX_CODE_BYTES = intake.MAX_CODE_BYTES


_REJECTIONS = (
    HTTPException,
    idempotency.InvalidKeyError,
    idempotency.KeyReusedError,
    schedule.ClosedError,
    admission.QuotaExceeded,
)
"""Reasons not to store a submission; each response to them carries the quota's RateLimit fields."""


def submission_url(submission_id: int) -> str:
    return f"/api/submissions/{submission_id}"


def not_found_message(submission_id: int) -> str:
    return translatable("submission {submission_id} not found", submission_id=submission_id)


def visible_submission(session: Session, submission_id: int, caller: Caller) -> Submission:
    """Load a submission with its cases for a TA or its owner, or raise 404.

    Another student's submission gets the same 404 as a missing one, so ids reveal nothing.
    """
    submission = session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .options(selectinload(Submission.cases), selectinload(Submission.student))
    )
    if submission is None or (caller.student is not None and submission.student_pk != caller.student.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found_message(submission_id))
    return submission


@router.post(
    "/labs/{lab_id}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a solution file, JSON code or a submission issue's Markdown for grading",
    openapi_extra=intake.OPENAPI_BODY,
    responses={
        202: {"description": "Stored and queued, or stored earlier under the same Idempotency-Key."},
        403: {
            "description": "The lab is not open yet, or its deadline passed under the late policy 'reject'."
        },
        429: {
            "description": "The daily quota is used up; Retry-After says when the next submission is possible."
        },
    },
)
async def create_submission(
    lab_id: str,
    request: Request,
    student: StudentDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            description="Any unique string; a repeated request with the same key returns the same submission.",
        ),
    ] = None,
) -> JSONResponse:
    lab = lab_or_404(lab_id)
    zone = request.app.state.settings.zone
    try:
        key = idempotency.parse_key(idempotency_key)
        code = await intake.read_code(request)
        admitted = await run_in_threadpool(
            admission.admit, session, student, lab.lab_id, code, key, now, zone
        )
    except _REJECTIONS as error:
        if isinstance(error, admission.QuotaExceeded):
            status_now = error.status
        else:
            status_now = await run_in_threadpool(
                admission.quota_status, session, student, lab.lab_id, now, zone
            )
        rejection = _rejection(error, now, zone)
        rejection.headers = {**(rejection.headers or {}), **quota.headers(status_now, now)}
        raise rejection from None

    submission = admitted.submission
    url = submission_url(submission.id)
    headers = {"Location": url, **quota.headers(admitted.quota, now)}
    if admitted.replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
        logger.info("submission %d returned again for its Idempotency-Key", submission.id)
    else:
        logger.info(
            "submission %d queued: lab %s, student %s",
            submission.id,
            lab.lab_id,
            student.student_id,
            extra={"submission_id": submission.id, "event": "queued"},
        )
        # Sending a Celery task talks to the broker, which must not block the event loop.
        await run_in_threadpool(request.app.state.notify_workers, submission.id)
    body = {
        "id": submission.id,
        "url": url,
        "status": submission.status,
        "late": submission.late,
        "quota": quota_public(admitted.quota, zone).model_dump(mode="json"),
    }
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED, headers=headers)


def _rejection(error: Exception, now: dt.datetime, zone: ZoneInfo) -> HTTPException:
    """Build the error response for a reason not to store a submission."""
    if isinstance(error, HTTPException):
        return error
    if isinstance(error, idempotency.InvalidKeyError):
        return HTTPException(status.HTTP_400_BAD_REQUEST, str(error))
    if isinstance(error, idempotency.KeyReusedError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))
    if isinstance(error, schedule.ClosedError):
        return HTTPException(status.HTTP_403_FORBIDDEN, str(error))
    assert isinstance(error, admission.QuotaExceeded)
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        quota.exceeded_message(error.status, now, zone),
        headers={"Retry-After": str(error.status.seconds_to_reset(now))},
    )


def _feedback(submission: Submission, public_case: CaseResult | None, locale: str) -> FeedbackPublic | None:
    if public_case is None or public_case.feedback not in MESSAGES:
        return None
    critical = None
    if public_case.feedback == "stopped_at_critical_point":
        found = nearby_critical_point(get_lab(submission.lab_id).public, tuple(public_case.final_point))
        if found is not None:
            critical = CriticalPointPublic(kind=found.kind, point=list(found.point), value=found.value)
    return FeedbackPublic(
        kind=public_case.feedback,
        message=str(localize(MESSAGES[public_case.feedback], locale)),
        critical_point=critical,
    )


def submission_public(submission: Submission, locale: str = DEFAULT_LOCALE) -> SubmissionPublic:
    """Show a submission as its owner may see it: the public case in full, hidden cases as aggregates.

    The feedback message is in ``locale``; every other field is data and stays as stored.
    """
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
        feedback=_feedback(submission, public_case, locale),
        hidden=HiddenSummary.model_validate(hidden) if hidden else None,
        solved_fraction=submission.solved_fraction,
        stdout=submission.stdout,
        stderr=submission.stderr,
        late=submission.late,
        created_at=submission.created_at,
        finished_at=submission.finished_at,
    )


@router.get("/submissions/{submission_id}", summary="Read a submission's status, verdict, score and output")
def get_submission(
    submission_id: RowId, request: Request, caller: CallerDep, session: SessionDep
) -> SubmissionPublic:
    return submission_public(visible_submission(session, submission_id, caller), request_locale(request))
