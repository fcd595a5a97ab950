"""Daily submission quotas, and the RateLimit header fields that report them.

A lab's ``daily_quota`` caps the submissions a student is charged for on one
calendar day of the course's time zone (a day starts at local midnight). A
submission is charged when it is stored, because its code is about to run,
and refunded when its final verdict is ``internal_error``: the grader's own
failure never costs the student an attempt. Rejected requests (a body that is
not valid code, a closed lab, a replayed Idempotency-Key) store nothing and
cost nothing. Regrades change no charge.

Every response to a submission request reports the quota in the fields of
the IETF draft "RateLimit header fields for HTTP"
(draft-ietf-httpapi-ratelimit-headers-10)::

    RateLimit-Policy: "daily";q=20;w=86400
    RateLimit: "daily";r=17;t=3600

``q`` is the quota, ``w`` the window in seconds, ``r`` the submissions left
and ``t`` the seconds until the quota resets at the next local midnight.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from grader.verdicts import Verdict
from server.course_time import day_bounds, format_duration, format_local
from server.i18n import translatable
from server.models import Submission

POLICY = "daily"


@dataclass(frozen=True)
class QuotaStatus:
    """One student's quota on one lab for the current course day.

    ``limit`` is None when the lab has no quota; ``day_start`` and ``resets_at``
    bound the day in UTC.
    """

    lab_id: str
    limit: int | None
    used: int
    day_start: dt.datetime
    resets_at: dt.datetime

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def seconds_to_reset(self, now: dt.datetime) -> int:
        """Whole seconds until the reset, rounded up, so a client that waits them is never early."""
        return max(1, math.ceil((self.resets_at - now).total_seconds()))


def charged(session: Session, student_pk: int, lab_id: str, start: dt.datetime, end: dt.datetime) -> int:
    """Count the student's charged submissions of the lab created in ``[start, end)``."""
    query = select(func.count(Submission.id)).where(
        Submission.student_pk == student_pk,
        Submission.lab_id == lab_id,
        Submission.created_at >= start,
        Submission.created_at < end,
        or_(Submission.verdict.is_(None), Submission.verdict != Verdict.INTERNAL_ERROR.value),
    )
    return session.scalar(query) or 0


def status(
    session: Session, student_pk: int, lab_id: str, limit: int | None, now: dt.datetime, zone: ZoneInfo
) -> QuotaStatus:
    """Return the student's quota on ``lab_id`` for the course day that contains ``now``."""
    start, end = day_bounds(now, zone)
    used = charged(session, student_pk, lab_id, start, end)
    return QuotaStatus(lab_id=lab_id, limit=limit, used=used, day_start=start, resets_at=end)


def headers(quota: QuotaStatus, now: dt.datetime) -> dict[str, str]:
    """Return the RateLimit-Policy and RateLimit fields; none when the lab has no quota."""
    if quota.limit is None:
        return {}
    window = round((quota.resets_at - quota.day_start).total_seconds())
    return {
        "RateLimit-Policy": f'"{POLICY}";q={quota.limit};w={window}',
        "RateLimit": f'"{POLICY}";r={quota.remaining};t={quota.seconds_to_reset(now)}',
    }


def exceeded_message(quota: QuotaStatus, now: dt.datetime, zone: ZoneInfo) -> str:
    """Say that the quota is spent and when the next submission is possible."""
    return translatable(
        "you have used all {limit} submissions for {lab_id} today: the next submission is possible "
        "at {resets_at} ({zone}), in {wait}",
        limit=quota.limit,
        lab_id=quota.lab_id,
        resets_at=format_local(quota.resets_at, zone),
        zone=zone.key,
        wait=format_duration(quota.seconds_to_reset(now)),
    )
