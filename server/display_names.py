"""Names that boards and pages show in place of a student's real name.

A student chooses a display name or keeps a generated pseudonym. A chosen name
is cleaned before it is stored. It is normalised to NFC, and control, format
(every bidirectional override and isolate among them), surrogate, private-use
and unassigned characters are removed. Whitespace is collapsed and combining
marks are limited to ``MAX_COMBINING_MARKS`` per character. The result must
contain a letter or digit and be at most ``MAX_LENGTH`` characters. Templates escape it again on
every page, so cleaning keeps the layout intact and escaping keeps the markup
intact.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable

from server.i18n import translatable

MAX_LENGTH = 32
"""Characters (code points after cleaning) in a display name."""

MAX_COMBINING_MARKS = 2
"""Combining marks kept after one character; more only stack up over neighbouring rows."""

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

_ADJECTIVES = (
    "Agile", "Bold", "Brave", "Bright", "Calm", "Careful", "Clever", "Curious", "Daring", "Eager",
    "Fast", "Fearless", "Gentle", "Happy", "Keen", "Kind", "Lively", "Lucky", "Merry", "Mighty",
    "Nimble", "Patient", "Plucky", "Polite", "Proud", "Quick", "Quiet", "Rapid", "Restless", "Silent",
    "Sly", "Smooth", "Steady", "Sturdy", "Sunny", "Swift", "Tidy", "Tireless", "Tranquil", "Vivid",
)  # fmt: skip
_NOUNS = (
    "Basin", "Compass", "Contour", "Curve", "Descent", "Epoch", "Gradient", "Heron", "Hessian", "Horizon",
    "Iterate", "Lagrange", "Lantern", "Ledge", "Meadow", "Minimum", "Momentum", "Newton", "Orbit", "Otter",
    "Pebble", "Pilot", "Plateau", "Quartic", "Raven", "Ridge", "River", "Saddle", "Slope", "Sparrow",
    "Summit", "Tangent", "Terrace", "Trail", "Valley", "Vector", "Voyager", "Walker", "Willow", "Zephyr",
)  # fmt: skip


class DisplayNameError(ValueError):
    """Raised when a requested display name is unusable after cleaning; the message is for the student."""


def empty_message() -> str:
    return translatable(
        "the display name is empty once control and formatting characters are removed: "
        "choose a name with at least one letter or digit"
    )


def too_long_message(name: str) -> str:
    return translatable(
        "the display name {name!r} is {length} characters long, over the limit of {limit}: choose a shorter one",
        name=name,
        length=len(name),
        limit=MAX_LENGTH,
    )


def taken_message(name: str) -> str:
    return translatable(
        "the display name {name!r} is taken by another student: choose another one", name=name
    )


def clean(raw: str) -> str:
    """Return ``raw`` cleaned as the module docstring describes, without checking its length."""
    kept: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", raw):
        if char.isspace():
            kept.append(" ")
            marks = 0
            continue
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES:
            continue
        if category in ("Mn", "Me"):
            marks += 1
            if marks > MAX_COMBINING_MARKS:
                continue
        else:
            marks = 0
        kept.append(char)
    # Removing a format character can bring a base and its mark together, so normalise once more.
    return unicodedata.normalize("NFC", " ".join("".join(kept).split()))


def validate(raw: str) -> str:
    """Return the cleaned name, or raise ``DisplayNameError`` if it is empty or too long."""
    name = clean(raw)
    if not any(unicodedata.category(char)[0] in "LN" for char in name):
        raise DisplayNameError(empty_message())
    if len(name) > MAX_LENGTH:
        raise DisplayNameError(too_long_message(name))
    return name


def name_key(name: str) -> str:
    """Return the form two names share when they read alike: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", name).casefold()


def new_pseudonym(taken: Callable[[str], bool]) -> str:
    """Draw a pseudonym such as ``Nimble Saddle 4821`` whose ``name_key`` is not ``taken``.

    The draw space contains 40 * 40 * 9000 = 14.4 million names, so a roster of a
    few thousand students rarely needs a second draw.
    """
    while True:
        name = f"{secrets.choice(_ADJECTIVES)} {secrets.choice(_NOUNS)} {1000 + secrets.randbelow(9000)}"
        if not taken(name_key(name)):
            return name


def shown_name(display_name: str | None, student_pk: int) -> str:
    """Return the name a board shows; a row stored without a display name gets a neutral label."""
    return display_name if display_name else f"Student {student_pk}"
