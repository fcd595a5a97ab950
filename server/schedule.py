"""When a lab takes submissions: its opening time, deadline and late policy.

A submission is on time when it arrives at or before the deadline, to the
microsecond of the server's clock, and late when it arrives after it. Under
the late policy ``reject`` a late submission is refused; under ``mark_late``
it is stored with ``late`` set. Before the opening time every submission is
refused. Times are compared in UTC, so the course's time zone changes only
how they are written in messages.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from server.course_time import format_local
from server.i18n import translatable
from server.models import LabSettings

LATE_POLICIES = ("reject", "mark_late")


class ClosedError(Exception):
    """Raised when a lab takes no submissions at this time; the message is for the student."""


def not_open_message(lab_id: str, opens_at: dt.datetime, zone: ZoneInfo) -> str:
    return translatable(
        "{lab_id} opens for submissions at {opens_at} ({zone}): submit then",
        lab_id=lab_id,
        opens_at=format_local(opens_at, zone),
        zone=zone.key,
    )


def deadline_passed_message(lab_id: str, deadline: dt.datetime, zone: ZoneInfo) -> str:
    return translatable(
        "the deadline for {lab_id} passed at {deadline} ({zone}) "
        "and late submissions are not accepted: ask a TA if you need an extension",
        lab_id=lab_id,
        deadline=format_local(deadline, zone),
        zone=zone.key,
    )


def is_late(settings: LabSettings, now: dt.datetime) -> bool:
    return settings.deadline is not None and now > settings.deadline


def check(settings: LabSettings, now: dt.datetime, zone: ZoneInfo) -> bool:
    """Return whether a submission arriving at ``now`` is late, or raise ``ClosedError``."""
    if settings.opens_at is not None and now < settings.opens_at:
        raise ClosedError(not_open_message(settings.lab_id, settings.opens_at, zone))
    late = is_late(settings, now)
    if late and settings.late_policy == "reject":
        assert settings.deadline is not None  # is_late is False without a deadline.
        raise ClosedError(deadline_passed_message(settings.lab_id, settings.deadline, zone))
    return late
