"""HTTP errors in the caller's language: JSON details for the API, an HTML page for a browser.

Every ``HTTPException`` passes through ``http_error``. A detail that is a
``Translatable``, or a catalogue's exact English text, is translated when
Accept-Language prefers a language the service has. Any other detail, such as
a TA route's, stays English. Headers such as ``WWW-Authenticate``,
``Retry-After`` and the quota's ``RateLimit`` fields are kept.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import Response

from server import i18n
from server.templating import page_context, render


def _wants_html(request: Request) -> bool:
    # API routes always respond with JSON. Elsewhere a browser, which accepts text/html, gets a page.
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def http_error(request: Request, error: Exception) -> Response:
    """Build the response to an ``HTTPException``, with its detail in the request's language."""
    assert isinstance(error, HTTPException)
    locale = i18n.request_locale(request)
    detail = i18n.localize(error.detail, locale)
    if _wants_html(request) and error.status_code >= 400:
        # The error may come from the visitor lookup itself, so the page does not say who is signed in.
        context = page_context(
            request, None, status_code=error.status_code, detail=detail, account_known=False
        )
        response: Response = render(request, "error.html", context, status_code=error.status_code)
        response.headers.update(error.headers or {})
        return response
    translated = HTTPException(error.status_code, detail, error.headers)  # type: ignore[arg-type]
    response = await http_exception_handler(request, translated)
    response.headers.update(i18n.language_headers(locale))
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
