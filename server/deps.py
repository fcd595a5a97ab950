"""Request dependencies: the database session and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import accounts
from server.i18n import translatable
from server.models import Student
from server.security import hash_token

bearer = HTTPBearer(auto_error=False, description="A student's or a TA's bearer token.")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class Caller:
    """The sender of a request: a TA (``student`` is None), or the student given."""

    student: Student | None
    ta_account_id: int | None = None
    ta_name: str = ""

    @property
    def is_ta(self) -> bool:
        return self.student is None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def find_caller(session: Session, token: str) -> Caller | None:
    """Return the TA or student whose token is ``token``, or None for an unknown token."""
    # Tokens are looked up by their SHA-256, so a lookup's timing reveals nothing about a stored token.
    account = accounts.find_by_token(session, token)
    if account is not None:
        return Caller(student=None, ta_account_id=account.id, ta_name=account.name)
    student = session.scalar(select(Student).where(Student.token_hash == hash_token(token)))
    if student is None:
        return None
    return Caller(student=student)


def get_caller(request: Request, session: SessionDep, credentials: CredentialsDep) -> Caller:
    if credentials is None:
        raise _unauthorized(translatable("missing bearer token: send 'Authorization: Bearer <token>'"))
    caller = find_caller(session, credentials.credentials)
    if caller is None:
        raise _unauthorized(
            translatable("unknown bearer token: check the token you were given, or ask a TA for a new one")
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_optional_caller(request: Request, session: SessionDep, credentials: CredentialsDep) -> Caller | None:
    """Identify the caller if a token was sent; anonymous requests get None."""
    if credentials is None:
        return None
    return get_caller(request, session, credentials)


OptionalCallerDep = Annotated[Caller | None, Depends(get_optional_caller)]

SIGN_IN_COOKIE = "gradedescent_token"
"""The cookie that carries the token of a visitor who signed in on a page (server/routes/auth_pages.py)."""


def get_page_caller(request: Request, session: SessionDep, credentials: CredentialsDep) -> Caller | None:
    """Identify a page's visitor by bearer token or, for pages only, by the sign-in cookie.

    An unknown bearer token is rejected as on the API. A cookie whose
    token was revoked counts as signed out. API routes never read the cookie,
    so a cross-site request cannot act with it.
    """
    if credentials is not None:
        return get_caller(request, session, credentials)
    token = request.cookies.get(SIGN_IN_COOKIE)
    return find_caller(session, token) if token else None


PageCallerDep = Annotated[Caller | None, Depends(get_page_caller)]


def get_student(caller: CallerDep) -> Student:
    if caller.student is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, translatable("this route is for students: use a student's token")
        )
    return caller.student


def require_ta(caller: CallerDep) -> Caller:
    if not caller.is_ta:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this route is for TAs: a student's token cannot use it"
        )
    return caller


StudentDep = Annotated[Student, Depends(get_student)]
TADep = Annotated[Caller, Depends(require_ta)]


MAX_ROW_ID = 2**63 - 1
"""Largest id or offset a database integer holds; a larger one would fail in the driver, not as a 4xx."""

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A positive id.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Rows to skip.")]
