"""Student routes: their profile and display name, their submissions, and their quota on a lab."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from server import display_names
from server.admission import quota_status
from server.clock import NowDep
from server.course_schemas import DisplayNameUpdate, LabQuotaPublic, Profile, quota_public
from server.deps import Offset, SessionDep, StudentDep
from server.lab_settings import get_settings
from server.models import Student, Submission
from server.routes.labs import lab_or_404
from server.routes.submissions import submission_public
from server.schemas import SubmissionPublic

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["students"])


def _profile(student: Student) -> Profile:
    return Profile(
        student_id=student.student_id,
        name=student.name,
        section=student.section,
        email=student.email,
        display_name=display_names.shown_name(student.display_name, student.id),
        display_name_chosen=student.display_name_chosen,
    )


@router.get("/me", summary="Read your roster entry and the display name boards show")
def read_profile(student: StudentDep) -> Profile:
    return _profile(student)


@router.put("/me/display-name", summary="Choose the name boards show instead of your real name")
def choose_display_name(body: DisplayNameUpdate, student: StudentDep, session: SessionDep) -> Profile:
    try:
        name = display_names.validate(body.display_name)
    except display_names.DisplayNameError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    student.display_name = name
    student.display_name_key = display_names.name_key(name)
    student.display_name_chosen = True
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, display_names.taken_message(name)) from None
    logger.info("student %s chose a display name", student.student_id)
    return _profile(student)


@router.delete("/me/display-name", summary="Drop your chosen display name and get a new generated pseudonym")
def reset_display_name(student: StudentDep, session: SessionDep) -> Profile:
    def taken(key: str) -> bool:
        return session.scalar(select(Student.id).where(Student.display_name_key == key)) is not None

    name = display_names.new_pseudonym(taken)
    student.display_name = name
    student.display_name_key = display_names.name_key(name)
    student.display_name_chosen = False
    session.commit()
    return _profile(student)


@router.get("/me/submissions", summary="List your own submissions, newest first")
def list_own_submissions(
    student: StudentDep,
    session: SessionDep,
    lab_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[SubmissionPublic]:
    query = select(Submission).where(Submission.student_pk == student.id)
    if lab_id is not None:
        query = query.where(Submission.lab_id == lab_or_404(lab_id).lab_id)
    submissions = session.scalars(
        query.options(selectinload(Submission.cases), selectinload(Submission.student))
        .order_by(Submission.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [submission_public(submission) for submission in submissions]


@router.get(
    "/labs/{lab_id}/quota", summary="Read how many submissions you have left today and the lab's schedule"
)
def read_quota(
    lab_id: str, request: Request, student: StudentDep, session: SessionDep, now: NowDep
) -> LabQuotaPublic:
    lab_id = lab_or_404(lab_id).lab_id
    zone = request.app.state.settings.zone
    status_now = quota_status(session, student, lab_id, now, zone)
    settings = get_settings(session, lab_id)
    session.commit()
    return LabQuotaPublic(
        quota=quota_public(status_now, zone),
        opens_at=settings.opens_at,
        deadline=settings.deadline,
        late_policy=settings.late_policy,
        time_zone=zone.key,
    )
