from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from grader.verdicts import Verdict
from server.deps import SessionDep, TADep
from server.lab_settings import ensure_seeds, get_settings
from server.models import LabSettings, Student, Submission
from server.rescore import rescore_lab
from server.routes.labs import lab_or_404
from server.routes.submissions import submission_url
from server.schemas import (
    LabSettingsPublic,
    LabSettingsUpdate,
    RescoreReportPublic,
    StudentCreate,
    StudentCreated,
    SubmissionPage,
    SubmissionSummary,
)
from server.security import hash_token, new_token

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ta", tags=["ta"])


@router.post(
    "/students", status_code=status.HTTP_201_CREATED, summary="Add a student and return their token once"
)
def create_student(body: StudentCreate, _: TADep, session: SessionDep) -> StudentCreated:
    token = new_token()
    student = Student(
        student_id=body.student_id, name=body.name, section=body.section, token_hash=hash_token(token)
    )
    session.add(student)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"student_id {body.student_id!r} already exists: pick another id"
        ) from None
    logger.info("student %s added to section %s", student.student_id, student.section)
    return StudentCreated(
        student_id=student.student_id, name=student.name, section=student.section, token=token
    )


@router.get("/submissions", summary="List submissions, newest first, filtered and paginated")
def list_submissions(
    _: TADep,
    session: SessionDep,
    lab_id: str | None = None,
    student_id: str | None = None,
    verdict: Verdict | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SubmissionPage:
    query = select(Submission).join(Student, Student.id == Submission.student_pk)
    if lab_id is not None:
        query = query.where(Submission.lab_id == lab_or_404(lab_id).lab_id)
    if student_id is not None:
        query = query.where(Student.student_id == student_id)
    if verdict is not None:
        query = query.where(Submission.verdict == verdict.value)

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
                status=submission.status,
                verdict=submission.verdict,
                final_f=public_case.final_f if public_case else None,
                evaluations=public_case.evaluations if public_case else None,
                created_at=submission.created_at,
            )
        )
    return SubmissionPage(items=items, total=total, limit=limit, offset=offset)


def _settings_public(settings: LabSettings) -> LabSettingsPublic:
    return LabSettingsPublic(
        lab_id=settings.lab_id,
        hidden_cases=settings.hidden_cases,
        leaderboard=settings.leaderboard,
        board_rule=settings.board_rule,
        deadline=settings.deadline,
    )


@router.get("/labs/{lab_id}", summary="Read a lab's grading settings")
def read_lab_settings(lab_id: str, _: TADep, session: SessionDep) -> LabSettingsPublic:
    settings = get_settings(session, lab_or_404(lab_id).lab_id)
    session.commit()
    return _settings_public(settings)


@router.patch("/labs/{lab_id}", summary="Change a lab's hidden cases, leaderboard, board rule or deadline")
def update_lab_settings(
    lab_id: str, body: LabSettingsUpdate, _: TADep, session: SessionDep
) -> LabSettingsPublic:
    settings = get_settings(session, lab_or_404(lab_id).lab_id)
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name != "deadline":
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY, f"{name} cannot be null; omit it to keep it"
            )
        setattr(settings, name, value)
    ensure_seeds(settings)
    session.commit()
    logger.info("lab %s settings changed: %s", lab_id, sorted(body.model_fields_set))
    return _settings_public(settings)


@router.post("/labs/{lab_id}/rescore", summary="Rescore every stored run of a lab with the current rules")
def rescore(lab_id: str, _: TADep, session: SessionDep) -> RescoreReportPublic:
    report = rescore_lab(session, lab_or_404(lab_id).lab_id)
    return RescoreReportPublic(
        submissions=report.submissions, changed=report.changed, rank_changes=report.rank_changes
    )
