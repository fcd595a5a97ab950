"""Request and response bodies of course management: roster, accounts, quotas, names and the TA dashboard."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from server.course_time import format_local
from server.quota import QuotaStatus


class QuotaPublic(BaseModel):
    """A student's daily quota on one lab; every count is null when the lab has no quota."""

    lab_id: str
    limit: int | None = Field(description="Submissions charged per day; null means no limit.")
    used: int = Field(
        description="Submissions charged today: stored ones, less those ending in internal_error."
    )
    remaining: int | None
    resets_at: dt.datetime = Field(description="The next midnight of the course's time zone, in UTC.")
    resets_at_local: str = Field(description="The same time in the course's time zone, with the zone's name.")


def quota_public(status: QuotaStatus, zone: ZoneInfo) -> QuotaPublic:
    return QuotaPublic(
        lab_id=status.lab_id,
        limit=status.limit,
        used=status.used,
        remaining=status.remaining,
        resets_at=status.resets_at,
        resets_at_local=f"{format_local(status.resets_at, zone)} ({zone.key})",
    )


class LabQuotaPublic(BaseModel):
    """A student's quota left today on a lab, with the lab's schedule."""

    quota: QuotaPublic
    opens_at: dt.datetime | None
    deadline: dt.datetime | None
    late_policy: str = Field(
        description="'reject' rejects late submissions; 'mark_late' stores them marked late."
    )
    time_zone: str


class Profile(BaseModel):
    student_id: str
    name: str
    section: str
    email: str | None
    display_name: str = Field(description="The name boards show instead of the real name.")
    display_name_chosen: bool = Field(description="False while the display name is a generated pseudonym.")


class DisplayNameUpdate(BaseModel):
    # The bound only limits the request; the cleaned name must fit display_names.MAX_LENGTH.
    display_name: str = Field(max_length=1000, examples=["Nesterov Fan"])


class RosterStudentCreated(BaseModel):
    student_id: str
    name: str
    section: str
    email: str | None
    token: str | None = Field(
        description="The student's bearer token, shown only this once; null on a dry run."
    )


class RosterImportResult(BaseModel):
    dry_run: bool
    created: list[RosterStudentCreated]
    updated: list[str] = Field(description="Student ids whose name, section or e-mail changed.")
    unchanged: list[str]
    not_in_file: list[str] = Field(description="Students on the roster the file did not name; they are kept.")


class RosterStudent(BaseModel):
    student_id: str
    name: str
    section: str
    email: str | None
    display_name: str
    has_token: bool = Field(description="False once a TA revoked the student's token.")
    created_at: dt.datetime


class RosterPage(BaseModel):
    items: list[RosterStudent]
    total: int
    limit: int
    offset: int


class TokenIssued(BaseModel):
    token: str = Field(description="The new bearer token, shown only this once; the old one no longer works.")


class StudentTokenIssued(TokenIssued):
    student_id: str


class TAAccountCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .@-]+$", examples=["kim.ta"])


class TAAccountPublic(BaseModel):
    id: int
    name: str
    bootstrap: bool = Field(description="The account of GRADEDESCENT_TA_TOKEN, managed outside the API.")
    active: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class TAAccountCreated(TAAccountPublic):
    token: str = Field(description="The account's bearer token, shown only this once.")


class CaseDetail(BaseModel):
    """One case of a submission with everything stored about it, hidden cases included."""

    case_index: int
    hidden: bool
    seed: int | None
    final_point: list[float]
    final_f: float | None
    gap: float | None
    distance: float | None
    evaluations: int
    evaluations_to_target: list[int | None]
    reached_global: bool
    budget_spent: bool
    scored_on: str
    feedback: str
    trajectory: list[list[float]] | None = Field(
        None, description="Rows of the point's coordinates and then f, one per evaluation, when requested."
    )


class SubmissionDetail(BaseModel):
    """A submission with its code, output and every case, for TAs."""

    id: int
    url: str
    lab_id: str
    student_id: str
    student_name: str
    section: str
    status: str
    verdict: str | None
    detail: str
    late: bool
    attempts: int
    code: str
    stdout: str
    stderr: str
    public_gap: float | None
    hidden_mean_gap: float | None
    solved_fraction: float | None
    summary: dict[str, object] | None
    cpu_seconds: float | None
    wall_seconds: float | None
    student_cpu_seconds: float | None = Field(
        None,
        description="CPU seconds inside solution() over all cases, as the sandboxed runner reports them.",
    )
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cases: list[CaseDetail]


class RegradeResult(BaseModel):
    queued: list[int] = Field(description="Submissions put back in the queue, their old results deleted.")
    skipped: list[int] = Field(description="Submissions already queued or running, left as they are.")


class HistogramBin(BaseModel):
    low: float
    high: float
    count: int


class HourCount(BaseModel):
    hour: dt.datetime = Field(description="Start of the hour, in the course's time zone.")
    submissions: int


class LabStats(BaseModel):
    lab_id: str
    time_zone: str
    submissions: int
    students: int = Field(description="Students with at least one submission.")
    late: int
    statuses: dict[str, int] = Field(description="Submissions per status: queued, running, done.")
    verdicts: dict[str, int] = Field(description="Graded submissions per verdict.")
    solved_fraction: list[HistogramBin] = Field(
        description="Accepted submissions per tenth of solved fraction; the last bin includes 1."
    )
    public_gap_quantiles: dict[str, float] = Field(
        description="min, p25, median, p75 and max of the public gap over accepted submissions with a finite gap."
    )
    hidden_mean_gap_quantiles: dict[str, float]
    per_hour: list[HourCount] = Field(
        description="Submissions per hour, every hour from the first to the last."
    )


class AuditEntryPublic(BaseModel):
    id: int
    at: dt.datetime
    ta_name: str
    action: str
    target: str
    details: dict[str, object]


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int
