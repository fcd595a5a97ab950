"""A student's own submissions as pages: the list, and one result with its plots and output.

A visitor who is not signed in gets the sign-in form (status 401). A student
can open only their own submissions: another's gets 404 as on the API, so ids
reveal nothing. TAs may open any result.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from grader.verdicts import DESCRIPTIONS, Verdict
from reference.labs import get_lab
from server.deps import PageCallerDep, RowId, SessionDep
from server.display_names import shown_name
from server.i18n import translatable
from server.models import Submission
from server.routes.auth_pages import sign_in_page
from server.routes.submissions import submission_public, visible_submission
from server.run_figures import figures
from server.templating import page_context, render

router = APIRouter(tags=["pages"])

REFRESH_SECONDS = 3
"""A result page that is still queued or running reloads itself this often, with or without JavaScript."""


@router.get("/submissions", response_class=HTMLResponse, summary="List your own submissions as a page")
def own_submissions_page(
    request: Request,
    session: SessionDep,
    caller: PageCallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    if caller is None:
        return sign_in_page(request, request.url.path, status.HTTP_401_UNAUTHORIZED)
    if caller.student is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            translatable("this page lists a student's own submissions: TAs read GET /api/ta/submissions"),
        )
    submissions = session.scalars(
        select(Submission)
        .where(Submission.student_pk == caller.student.id)
        .options(selectinload(Submission.cases))
        .order_by(Submission.id.desc())
        .limit(limit)
    ).all()
    context = page_context(request, caller, submissions=[(s, _public_case(s)) for s in submissions])
    return render(request, "submissions.html", context, private=True)


@router.get(
    "/submissions/{submission_id}",
    response_class=HTMLResponse,
    summary="Show one of your submissions' results",
)
def result_page(
    submission_id: RowId, request: Request, session: SessionDep, caller: PageCallerDep
) -> Response:
    if caller is None:
        return sign_in_page(request, request.url.path, status.HTTP_401_UNAUTHORIZED)
    submission = visible_submission(session, submission_id, caller)

    lab = get_lab(submission.lab_id)
    context = page_context(
        request,
        caller,
        submission=submission,
        result=submission_public(submission),
        lab=lab,
        owner_name=shown_name(submission.student.display_name, submission.student.id),
        verdict_description=_verdict_description(submission.verdict),
        refresh_seconds=REFRESH_SECONDS if submission.status != "done" else None,
    )
    label = f"#{submission.id}"
    context["figures"] = figures(session, lab, [(submission.id, label)], context["locale"], "result")
    return render(request, "result.html", context, private=True)


def _public_case(submission: Submission) -> object:
    return next((case for case in submission.cases if case.case_index == 0), None)


def _verdict_description(verdict: str | None) -> str | None:
    try:
        return DESCRIPTIONS[Verdict(verdict)] if verdict else None
    except ValueError:
        return None
