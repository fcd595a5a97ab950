"""Per-lab statistics for TAs: verdicts, score distributions and submissions per hour."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.verdicts import Verdict
from server.course_schemas import HistogramBin, HourCount, LabStats
from server.models import Submission

MAX_HOURS = 24 * 120
"""``per_hour`` covers at most this many hours, ending at the last submission: a term of about 4 months."""

HISTOGRAM_BINS = 10


def lab_stats(
    session: Session, lab_id: str, zone: ZoneInfo, since: dt.datetime | None, until: dt.datetime | None
) -> LabStats:
    """Compute the statistics of ``lab_id``'s submissions created in ``[since, until)``."""
    query = select(
        Submission.student_pk,
        Submission.status,
        Submission.verdict,
        Submission.late,
        Submission.solved_fraction,
        Submission.public_gap,
        Submission.hidden_mean_gap,
        Submission.created_at,
    ).where(Submission.lab_id == lab_id)
    if since is not None:
        query = query.where(Submission.created_at >= since)
    if until is not None:
        query = query.where(Submission.created_at < until)
    rows = session.execute(query).all()

    accepted = [row for row in rows if row.verdict == Verdict.ACCEPTED.value]
    return LabStats(
        lab_id=lab_id,
        time_zone=zone.key,
        submissions=len(rows),
        students=len({row.student_pk for row in rows}),
        late=sum(1 for row in rows if row.late),
        statuses=dict(Counter(row.status for row in rows)),
        verdicts=dict(Counter(row.verdict for row in rows if row.verdict is not None)),
        solved_fraction=_histogram(
            [row.solved_fraction for row in accepted if row.solved_fraction is not None]
        ),
        public_gap_quantiles=_quantiles([row.public_gap for row in accepted]),
        hidden_mean_gap_quantiles=_quantiles([row.hidden_mean_gap for row in accepted]),
        per_hour=_per_hour([row.created_at for row in rows], zone),
    )


def _histogram(values: list[float]) -> list[HistogramBin]:
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return [
        HistogramBin(low=float(edges[i]), high=float(edges[i + 1]), count=int(counts[i]))
        for i in range(HISTOGRAM_BINS)
    ]


def _quantiles(values: list[float | None]) -> dict[str, float]:
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return {}
    points = np.quantile(finite, [0.0, 0.25, 0.5, 0.75, 1.0])
    return dict(zip(("min", "p25", "median", "p75", "max"), (float(p) for p in points), strict=True))


def _per_hour(times: list[dt.datetime], zone: ZoneInfo) -> list[HourCount]:
    """Count submissions per local hour, with zero for every empty hour in between."""
    if not times:
        return []
    counts = Counter(_hour_start(moment, zone) for moment in times)
    last = max(counts)
    first = max(min(counts), last - dt.timedelta(hours=MAX_HOURS - 1))
    # Stepping in UTC keeps each local hour once, also across a daylight-saving change.
    hours = []
    moment = first
    while moment <= last:
        hours.append(HourCount(hour=moment.astimezone(zone), submissions=counts.get(moment, 0)))
        moment += dt.timedelta(hours=1)
    return hours


def _hour_start(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    local = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return local.astimezone(dt.UTC)
