"""TA routes over submissions: list and filter, read one in full, regrade one or a whole lab."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from grader.results import trajectory_record
from grader.verdicts import Verdict
from reference.labs import get_lab
from server import audit, regrade
from server.course_schemas import CaseDetail, RegradeResult, SubmissionDetail
from server.deps import Offset, RowId, SessionDep, TADep
from server.models import CaseResult, Status, Student, Submission
from server.routes.labs import lab_or_404
from server.routes.submissions import submission_url
from server.schemas import SubmissionPage, SubmissionSummary

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ta", tags=["ta"])

ZonedTime = Annotated[
    dt.datetime | None, Query(description="ISO 8601 with a time zone, e.g. 2026-12-11T23:00:00+09:00.")
]


def require_zone(name: str, value: dt.datetime | None) -> None:
    """Reject a naive time, which could mean UTC or the course's zone: 9 hours apart in Seoul."""
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{name} {value.isoformat()!r} needs a time zone, e.g. 2026-12-11T23:00:00+09:00",
        )


@router.get("/submissions", summary="List submissions, newest first, filtered and paginated")
def list_submissions(
    _: TADep,
    session: SessionDep,
    lab_id: str | None = None,
    student_id: str | None = None,
    section: str | None = None,
    verdict: Verdict | None = None,
    submission_status: Annotated[Status | None, Query(alias="status")] = None,
    late: bool | None = None,
    since: ZonedTime = None,
    until: ZonedTime = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> SubmissionPage:
    require_zone("since", since)
    require_zone("until", until)
    query = select(Submission).join(Student, Student.id == Submission.student_pk)
    if lab_id is not None:
        query = query.where(Submission.lab_id == lab_or_404(lab_id).lab_id)
    if student_id is not None:
        query = query.where(Student.student_id == student_id)
    if section is not None:
        query = query.where(Student.section == section)
    if verdict is not None:
        query = query.where(Submission.verdict == verdict.value)
    if submission_status is not None:
        query = query.where(Submission.status == submission_status.value)
    if late is not None:
        query = query.where(Submission.late.is_(late))
    if since is not None:
        query = query.where(Submission.created_at >= since)
    if until is not None:
        query = query.where(Submission.created_at < until)

    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(
        query.options(selectinload(Submission.cases), selectinload(Submission.student))
        .order_by(Submission.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = []
    for submission in page:
        public_case = next((case for case in submission.cases if case.case_index == 0), None)
        items.append(
            SubmissionSummary(
                id=submission.id,
                url=submission_url(submission.id),
                lab_id=submission.lab_id,
                student_id=submission.student.student_id,
                section=submission.student.section,
                status=submission.status,
                verdict=submission.verdict,
                late=submission.late,
                final_f=public_case.final_f if public_case else None,
                evaluations=public_case.evaluations if public_case else None,
                solved_fraction=submission.solved_fraction,
                created_at=submission.created_at,
            )
        )
    return SubmissionPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/submissions/{submission_id}", summary="Read a submission with its code and every case's details"
)
def read_submission(
    submission_id: RowId, _: TADep, session: SessionDep, trajectory: bool = False
) -> SubmissionDetail:
    submission = session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .options(selectinload(Submission.cases), selectinload(Submission.student))
    )
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"submission {submission_id} not found")
    dimension = get_lab(submission.lab_id).dimension
    return SubmissionDetail(
        id=submission.id,
        url=submission_url(submission.id),
        lab_id=submission.lab_id,
        student_id=submission.student.student_id,
        student_name=submission.student.name,
        section=submission.student.section,
        status=submission.status,
        verdict=submission.verdict,
        detail=submission.detail,
        late=submission.late,
        attempts=submission.attempts,
        code=submission.code,
        stdout=submission.stdout,
        stderr=submission.stderr,
        public_gap=submission.public_gap,
        hidden_mean_gap=submission.hidden_mean_gap,
        solved_fraction=submission.solved_fraction,
        summary=submission.summary,
        cpu_seconds=submission.cpu_seconds,
        wall_seconds=submission.wall_seconds,
        student_cpu_seconds=submission.student_cpu_seconds,
        created_at=submission.created_at,
        started_at=submission.started_at,
        finished_at=submission.finished_at,
        cases=[_case_detail(case, dimension, trajectory) for case in submission.cases],
    )


def _case_detail(case: CaseResult, dimension: int, with_trajectory: bool) -> CaseDetail:
    rows = None
    if with_trajectory:
        record = trajectory_record(case.trajectory, dimension)
        rows = [[*point, value] for point, value in zip(record.points, record.values, strict=True)]
    return CaseDetail(
        case_index=case.case_index,
        hidden=case.hidden,
        seed=case.seed,
        final_point=case.final_point,
        final_f=case.final_f,
        gap=case.gap,
        distance=case.distance,
        evaluations=case.evaluations,
        evaluations_to_target=case.evaluations_to_target,
        reached_global=case.reached_global,
        budget_spent=case.budget_spent,
        scored_on=case.scored_on,
        feedback=case.feedback,
        trajectory=rows,
    )


@router.post("/submissions/{submission_id}/regrade", summary="Queue one submission to be graded again")
def regrade_submission(
    submission_id: RowId, request: Request, caller: TADep, session: SessionDep
) -> RegradeResult:
    if session.get(Submission, submission_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"submission {submission_id} not found")
    return _regrade(request, caller, session, [submission_id], "submission_regrade", str(submission_id))


@router.post("/labs/{lab_id}/regrade", summary="Queue every finished submission of a lab to be graded again")
def regrade_lab(
    lab_id: str,
    request: Request,
    caller: TADep,
    session: SessionDep,
    verdict: Annotated[
        Verdict | None, Query(description="Regrade only submissions with this verdict.")
    ] = None,
) -> RegradeResult:
    lab_id = lab_or_404(lab_id).lab_id
    ids = regrade.lab_submission_ids(session, lab_id, verdict.value if verdict else None)
    return _regrade(request, caller, session, ids, "lab_regrade", lab_id)


def _regrade(
    request: Request, caller: TADep, session: SessionDep, ids: list[int], action: str, target: str
) -> RegradeResult:
    report = regrade.regrade(session, ids)
    audit.record(session, caller, action, target, queued=len(report.queued), skipped=len(report.skipped))
    session.commit()
    logger.info("%s %s: %d queued, %d skipped", action, target, len(report.queued), len(report.skipped))
    for submission_id in report.queued:
        request.app.state.notify_workers(submission_id)
    return RegradeResult(queued=report.queued, skipped=report.skipped)
