"""Times in the course's time zone: calendar days for quotas and times on pages.

Every time is stored in UTC. The course's zone (``GRADEDESCENT_TIME_ZONE``,
default Asia/Seoul) decides where a day starts and how a time is written for
people, always with the zone's name beside it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def day_bounds(now: dt.datetime, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC start and end of the course-zone calendar day that contains ``now``.

    The end is the next local midnight, so a day is 23 or 25 hours long across
    a daylight-saving change in zones that have one.
    """
    local = now.astimezone(zone)
    start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def format_local(moment: dt.datetime, zone: ZoneInfo) -> str:
    """Write ``moment`` in the course zone with the zone's abbreviation, e.g. ``2026-12-11 23:59:00 KST``."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def format_duration(seconds: float) -> str:
    """Write a wait for people: ``3 h 12 min``, ``12 min 5 s`` or ``40 s``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
