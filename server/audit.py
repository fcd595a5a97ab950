"""The audit log: one row per action a TA takes that changes data or exports grades.

An entry is added in the same transaction as the change it records, so the
log never names a change that was rolled back. Entries hold ids and setting
values, never a token or a student's code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.deps import Caller
from server.models import AuditEntry


def record(session: Session, caller: Caller, action: str, target: str = "", **details: Any) -> None:
    """Add an entry for ``caller``'s ``action`` on ``target``; the caller's transaction commits it."""
    session.add(
        AuditEntry(
            ta_account_id=caller.ta_account_id,
            ta_name=caller.ta_name,
            action=action,
            target=target[:200],
            details=details,
        )
    )


def page(
    session: Session,
    action: str | None,
    ta_name: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AuditEntry], int]:
    """Return one page of entries, newest first, and the number of entries that match."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if ta_name is not None:
        query = query.where(AuditEntry.ta_name == ta_name)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return list(entries), total
