"""Signing in and out on the pages.

A student or TA signs in with their token, which the response stores in the
``SIGN_IN_COOKIE`` cookie: HttpOnly (scripts cannot read it), SameSite=Lax
(the browser leaves it off POSTs and script requests that start on other
sites) and Secure when the request came over https. Only page routes read the cookie; the API keeps bearer
tokens. Both forms are POSTs whose ``Origin`` (or, without one, ``Referer``)
must name this server's host, so another site cannot sign a visitor in or
out. A request with neither header is not a browser's and passes.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.deps import SIGN_IN_COOKIE, Caller, SessionDep, find_caller
from server.i18n import translatable
from server.templating import page_context, render

logger = logging.getLogger(__name__)

router = APIRouter(tags=["pages"])

SIGN_IN_MAX_AGE = 14 * 24 * 3600
"""Seconds a sign-in lasts in the browser; revoking the token ends it at once."""


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this server, else None, so sign-in cannot redirect to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target


def _home(caller: Caller) -> str:
    return "/submissions" if caller.student is not None else "/leaderboard/lab3"


def _check_same_origin(request: Request) -> None:
    """Reject a form posted from another site: its ``Origin`` or ``Referer`` names another host."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return
    # The scheme is left out: behind a TLS proxy the server may get http while the browser sent https.
    host = request.headers.get("host", "")
    if urlsplit(source).netloc.lower() != host.lower():
        logger.warning("rejected a cross-site %s to %s from %r", request.method, request.url.path, source)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            translatable(
                "cross-site form rejected: the form came from {source!r}, not from this server; "
                "sign in on this server's own page at /signin",
                source=source,
            ),
        )


def sign_in_page(
    request: Request, target: str | None, status_code: int = 200, failed: bool = False
) -> HTMLResponse:
    """Render the sign-in form; a page that needs a signed-in visitor shows it with status 401."""
    context = page_context(request, None, next=target, failed=failed)
    response = render(request, "signin.html", context, status_code=status_code, private=True)
    if status_code == status.HTTP_401_UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@router.get(
    "/signin", response_class=HTMLResponse, summary="Show the form to sign in on the pages with a token"
)
def sign_in_form(
    request: Request, session: SessionDep, next_page: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    # Only the cookie counts here: the form is for browsers, and a bearer token is the API's business.
    token = request.cookies.get(SIGN_IN_COOKIE)
    caller = find_caller(session, token) if token else None
    if caller is not None:
        return RedirectResponse(safe_next(next_page) or _home(caller), status_code=status.HTTP_303_SEE_OTHER)
    return sign_in_page(request, safe_next(next_page))


@router.post("/signin", summary="Sign in on the pages with a token, kept in an HttpOnly cookie")
def sign_in(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=512)],
    next_page: Annotated[str | None, Form(alias="next")] = None,
) -> Response:
    _check_same_origin(request)
    caller = find_caller(session, token.strip())
    if caller is None:
        # The token itself is never logged. The client address lets a reader spot repeated guessing.
        logger.info("sign-in rejected: unknown token from %s", request.client.host if request.client else "?")
        return sign_in_page(request, safe_next(next_page), status.HTTP_401_UNAUTHORIZED, failed=True)

    response = RedirectResponse(safe_next(next_page) or _home(caller), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token.strip(),
        max_age=SIGN_IN_MAX_AGE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    account = f"student {caller.student.student_id}" if caller.student is not None else f"TA {caller.ta_name}"
    logger.info("%s signed in on the pages", account)
    return response


@router.post("/signout", summary="Sign out of the pages by clearing the sign-in cookie")
def sign_out(request: Request) -> Response:
    _check_same_origin(request)
    response = RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(
        SIGN_IN_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="lax"
    )
    return response
