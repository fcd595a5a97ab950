"""Request dependencies: the database session and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Student
from server.security import hash_token, tokens_equal

bearer = HTTPBearer(auto_error=False, description="A student's or a TA's bearer token.")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class Caller:
    """Who sent the request: a TA, or the student given."""

    student: Student | None

    @property
    def is_ta(self) -> bool:
        return self.student is None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def get_caller(request: Request, session: SessionDep, credentials: CredentialsDep) -> Caller:
    if credentials is None:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    token = credentials.credentials
    if tokens_equal(token, request.app.state.ta_token):
        return Caller(student=None)
    student = session.scalar(select(Student).where(Student.token_hash == hash_token(token)))
    if student is None:
        raise _unauthorized("unknown bearer token: check the token you were given, or ask a TA for a new one")
    return Caller(student=student)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_optional_caller(request: Request, session: SessionDep, credentials: CredentialsDep) -> Caller | None:
    """Identify the caller if a token was sent; anonymous requests get None."""
    if credentials is None:
        return None
    return get_caller(request, session, credentials)


OptionalCallerDep = Annotated[Caller | None, Depends(get_optional_caller)]


def get_student(caller: CallerDep) -> Student:
    if caller.student is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is for students: use a student's token")
    return caller.student


def require_ta(caller: CallerDep) -> Caller:
    if not caller.is_ta:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this route is for TAs: a student's token cannot use it"
        )
    return caller


StudentDep = Annotated[Student, Depends(get_student)]
TADep = Annotated[Caller, Depends(require_ta)]
