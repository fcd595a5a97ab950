"""Languages for people: Accept-Language negotiation, message catalogues and translatable messages.

English is the source language and the fallback. A request gets Korean when
its ``Accept-Language`` prefers ``ko`` to every other language the service
has. The catalogues are ``server/locale/<language>/LC_MESSAGES/messages.po``
with their compiled ``.mo`` beside them; ``scripts/messages.py`` extracts,
updates and compiles them (``make messages``), see docs/pages.md.

Pages translate their text in the templates. An API error or any other
message built in Python is translated when it is a ``Translatable``: an
English ``str`` that keeps its template and values, so the text stays written
once, where the code raises it.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel import negotiate_locale
from babel.support import NullTranslations, Translations
from starlette.requests import Request

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
LOCALES = (DEFAULT_LOCALE, "ko")
"""Languages with a catalogue, the source language first."""

MAX_LANGUAGE_RANGES = 32
"""Ranges read from one Accept-Language header; browsers send fewer than ten."""


def parse_accept_language(header: str | None) -> list[str]:
    """Return the language ranges of an ``Accept-Language`` header, most preferred first.

    Each range keeps its header order among ranges of equal weight. A range
    with ``q=0`` means "not acceptable" (RFC 9110, section 12.5.4) and is
    dropped, and so is a malformed entry or weight.
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:MAX_LANGUAGE_RANGES]):
        language, *parameters = (part.strip() for part in item.split(";"))
        if not language or not all(
            (part.isascii() and part.isalnum()) or part == "*" for part in language.split("-")
        ):
            continue
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                weight = _weight(value.strip())
        if weight > 0:
            weighted.append((-weight, position, language))
    return [language for _, _, language in sorted(weighted)]


def _weight(value: str) -> float:
    """Read a q-value: 0 to 1 with at most three decimals; anything else counts as 0."""
    try:
        weight = float(value)
    except ValueError:
        return 0.0
    return weight if 0.0 <= weight <= 1.0 and len(value) <= 5 else 0.0


def negotiate(header: str | None) -> str:
    """Choose the locale for an ``Accept-Language`` header: ``"ko"`` or the default ``"en"``.

    ``ko-KR`` matches ``ko``. The wildcard ``*`` stands for the default
    language at its own weight, so ``ko;q=0.5, *`` gets English.
    """
    preferred = [
        DEFAULT_LOCALE if language == "*" else language for language in parse_accept_language(header)
    ]
    chosen = negotiate_locale(preferred, LOCALES, sep="-")
    return chosen.split("-")[0].lower() if chosen else DEFAULT_LOCALE


def request_locale(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


@cache
def translations(locale: str) -> NullTranslations:
    """Return the compiled catalogue of ``locale``; English and a missing catalogue return the source text."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    loaded = Translations.load(LOCALE_DIR, [locale], DOMAIN)
    if not isinstance(loaded, Translations):
        logger.error(
            "no compiled catalogue for %s in %s: run 'make messages'; English is shown", locale, LOCALE_DIR
        )
    return loaded


def language_headers(locale: str) -> dict[str, str]:
    """Headers of a response whose text depends on Accept-Language, so caches keep one copy per language."""
    return {"Content-Language": locale, "Vary": "Accept-Language"}


class Translatable(str):
    """An English message that keeps its template and values, so it can be shown in another language.

    It is the formatted English text wherever a ``str`` is expected; ``str()``
    returns the object itself, so the template survives ``str(error)``.
    """

    template: str
    params: Mapping[str, Any]

    def __new__(cls, template: str, params: Mapping[str, Any]) -> Translatable:
        message = super().__new__(cls, template.format(**params))
        message.template = template
        message.params = dict(params)
        return message

    def __str__(self) -> str:
        return self

    def translated(self, catalogue: NullTranslations) -> str:
        """Return the message in the catalogue's language, or the English text if the translation is unusable."""
        translated = catalogue.gettext(self.template)
        try:
            return translated.format(**self.params)
        except (KeyError, IndexError, ValueError) as error:
            logger.error("the translation of %r does not format (%s): English is shown", self.template, error)
            return str.__str__(self)


def translatable(template: str, /, **params: Any) -> Translatable:
    """Build an English message from a ``str.format`` template that a catalogue can translate.

    ``scripts/messages.py`` extracts the template, a string literal, from every
    call. The values are formatted into the translation as into the English.
    """
    return Translatable(template, params)


def localize(message: object, locale: str) -> object:
    """Translate ``message`` if it is a ``Translatable`` or a catalogue's exact English text; return anything else as is."""
    if locale == DEFAULT_LOCALE or not isinstance(message, str):
        return message
    catalogue = translations(locale)
    if isinstance(message, Translatable):
        return message.translated(catalogue)
    return catalogue.gettext(message)


def placeholders(template: str) -> set[str]:
    """Return the field names of a ``str.format`` template, so a check can compare a translation's with the source's."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
