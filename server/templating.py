"""The Jinja2 environment of every page and plot: autoescaping, translations, filters and the page context."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from babel.support import NullTranslations
from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.responses import HTMLResponse

from server import i18n
from server.course_time import format_local
from server.deps import Caller
from server.display_names import shown_name

TEMPLATE_DIR = Path(__file__).with_name("templates")

environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    # SVG plots are templates too: names ending in .svg are escaped like HTML.
    autoescape=select_autoescape(("html", "htm", "xml", "svg")),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _catalogue(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return _catalogue(context).ngettext(singular, plural, count)


def _catalogue(context: Context) -> NullTranslations:
    # A template rendered without a locale, such as one written before translations existed, shows English.
    return i18n.translations(context.get("locale", i18n.DEFAULT_LOCALE))


# newstyle: {{ _("%(n)s cases", n=3) }} formats and escapes its values, so translations stay markup-safe.
environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
# Pages write every time in the course's zone: {{ moment | local_time(zone) }}, with the zone named nearby.
environment.filters["local_time"] = format_local
environment.filters["localize"] = i18n.localize

templates = Jinja2Templates(env=environment)


def page_context(request: Request, caller: Caller | None, **values: Any) -> dict[str, Any]:
    """Return what every page template uses: the language, the course zone and who is signed in."""
    visitor_name = None
    if caller is not None:
        student = caller.student
        visitor_name = shown_name(student.display_name, student.id) if student is not None else caller.ta_name
    return {
        "locale": i18n.request_locale(request),
        "zone": request.app.state.settings.zone,
        "caller": caller,
        "visitor_name": visitor_name,
        "now": dt.datetime.now(dt.UTC),
        **values,
    }


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    private: bool = False,
) -> HTMLResponse:
    """Render a page in the request's language; ``private`` pages are never stored by a cache."""
    headers = i18n.language_headers(context["locale"])
    if private:
        headers["Cache-Control"] = "private, no-store"
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)
