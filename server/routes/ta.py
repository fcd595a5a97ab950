from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.exc import IntegrityError

from server import audit
from server.deps import SessionDep, TADep
from server.lab_settings import ensure_seeds, get_settings
from server.models import LabSettings, Student
from server.rescore import rescore_lab
from server.routes.labs import lab_or_404
from server.schemas import (
    LabSettingsPublic,
    LabSettingsUpdate,
    RescoreReportPublic,
    StudentCreate,
    StudentCreated,
)
from server.security import hash_token, new_token

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ta", tags=["ta"])


@router.post(
    "/students", status_code=status.HTTP_201_CREATED, summary="Add a student and return their token once"
)
def create_student(body: StudentCreate, caller: TADep, session: SessionDep) -> StudentCreated:
    token = new_token()
    student = Student(
        student_id=body.student_id, name=body.name, section=body.section, token_hash=hash_token(token)
    )
    session.add(student)
    audit.record(session, caller, "student_create", body.student_id, section=body.section)
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


def _settings_public(settings: LabSettings, time_zone: str) -> LabSettingsPublic:
    return LabSettingsPublic(
        lab_id=settings.lab_id,
        hidden_cases=settings.hidden_cases,
        leaderboard=settings.leaderboard,
        board_rule=settings.board_rule,
        deadline=settings.deadline,
        opens_at=settings.opens_at,
        late_policy=settings.late_policy,
        daily_quota=settings.daily_quota,
        time_zone=time_zone,
    )


# Settings that null removes; the others must keep a value.
_NULLABLE_SETTINGS = ("deadline", "opens_at", "daily_quota")


@router.get("/labs/{lab_id}", summary="Read a lab's grading settings, schedule and quota")
def read_lab_settings(lab_id: str, request: Request, _: TADep, session: SessionDep) -> LabSettingsPublic:
    settings = get_settings(session, lab_or_404(lab_id).lab_id)
    session.commit()
    return _settings_public(settings, request.app.state.settings.time_zone)


@router.patch("/labs/{lab_id}", summary="Change a lab's schedule, late policy, quota, hidden cases or boards")
def update_lab_settings(
    lab_id: str, body: LabSettingsUpdate, request: Request, caller: TADep, session: SessionDep
) -> LabSettingsPublic:
    settings = get_settings(session, lab_or_404(lab_id).lab_id)
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name not in _NULLABLE_SETTINGS:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} cannot be null; omit it to keep it"
            )
        setattr(settings, name, value)
    if (
        settings.opens_at is not None
        and settings.deadline is not None
        and settings.opens_at >= settings.deadline
    ):
        message = (
            f"opens_at {settings.opens_at.isoformat()!r} is not before the deadline "
            f"{settings.deadline.isoformat()!r}: move one of them"
        )
        session.rollback()  # Expires the settings, so the message is built first.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)
    ensure_seeds(settings)
    changes = {name: body.model_dump(mode="json")[name] for name in sorted(body.model_fields_set)}
    audit.record(session, caller, "lab_settings_update", lab_id, **changes)
    session.commit()
    logger.info("lab %s settings changed: %s", lab_id, sorted(body.model_fields_set))
    return _settings_public(settings, request.app.state.settings.time_zone)


@router.post("/labs/{lab_id}/rescore", summary="Rescore every stored run of a lab with the current rules")
def rescore(lab_id: str, caller: TADep, session: SessionDep) -> RescoreReportPublic:
    lab_id = lab_or_404(lab_id).lab_id
    audit.record(session, caller, "lab_rescore", lab_id)
    report = rescore_lab(session, lab_id)
    return RescoreReportPublic(
        submissions=report.submissions, changed=report.changed, rank_changes=report.rank_changes
    )
