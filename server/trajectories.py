"""Public-case trajectories read back from the database for plots.

Only case 0, the lab's public case, is ever read here: hidden cases must not
be drawn on any page, because their paths would show the hidden instances.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.results import trajectory_record
from server.models import CaseResult

PUBLIC_CASE = 0


def public_trajectories(
    session: Session, submission_ids: Collection[int], dimension: int
) -> dict[int, np.ndarray]:
    """Return each submission's public-case trajectory as rows of coordinates then ``f``, by submission id.

    A submission without a stored public case (one that never ran) is left out;
    one that never called ``func`` has zero rows.
    """
    if not submission_ids:
        return {}
    rows = session.execute(
        select(CaseResult.submission_id, CaseResult.trajectory).where(
            CaseResult.submission_id.in_(list(submission_ids)),
            CaseResult.case_index == PUBLIC_CASE,
            CaseResult.hidden.is_(False),
        )
    ).all()
    found = {}
    for submission_id, data in rows:
        record = trajectory_record(data, dimension)
        points = np.asarray(record.points, dtype=float).reshape(len(record.values), dimension)
        found[submission_id] = np.column_stack([points, np.asarray(record.values, dtype=float)])
    return found
