"""Request and response bodies of the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from grader.scoring import TARGET_GAPS


class StudentCreate(BaseModel):
    student_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["2026123456"]
    )
    name: str = Field(min_length=1, max_length=200)
    section: str = Field(min_length=1, max_length=32, examples=["A"])

    @field_validator("name", "section")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class StudentCreated(BaseModel):
    student_id: str
    name: str
    section: str
    token: str = Field(description="The student's bearer token. It is shown only this once.")


class CodeBody(BaseModel):
    code: str = Field(description="The solution file's contents, defining solution(func, start_point).")


class LabPublic(BaseModel):
    lab_id: str
    title: str
    formula: str
    dimension: int
    start_point: list[float]
    budget: int = Field(description="Maximum number of func evaluations per run.")
    leaderboard: bool


class CaseScorePublic(BaseModel):
    """The score of the public case, which the student may see in full."""

    model_config = ConfigDict(from_attributes=True)

    final_point: list[float]
    final_f: float | None
    gap: float | None = Field(description="final_f - f*, the distance to the optimum in f.")
    distance: float | None = Field(description="Euclidean distance to the global minimiser.")
    evaluations: int
    evaluations_to_target: dict[str, int | None] = Field(
        description="Evaluations until the gap first fell below each target; null if it never did."
    )
    reached_global: bool
    budget_spent: bool
    scored_on: str = Field(
        description="'returned_point', or 'last_evaluation' if solution raised at the budget."
    )

    @field_validator("evaluations_to_target", mode="before")
    @classmethod
    def _label_targets(cls, value: object) -> object:
        if isinstance(value, list):
            return {f"{target:g}": count for target, count in zip(TARGET_GAPS, value)}
        return value


class SubmissionPublic(BaseModel):
    id: int
    url: str
    lab_id: str
    student_id: str
    status: str = Field(description="queued, running or done.")
    verdict: str | None
    detail: str
    score: CaseScorePublic | None = Field(description="The public case, in full.")
    feedback: FeedbackPublic | None = Field(description="What the trajectory on the public case shows.")
    hidden: HiddenSummary | None = Field(description="Aggregates over the hidden cases.")
    solved_fraction: float | None = Field(
        description="Fraction of all cases that reached the global minimum."
    )
    stdout: str
    stderr: str
    late: bool = Field(False, description="Submitted after the lab's deadline.")
    created_at: dt.datetime
    finished_at: dt.datetime | None


class SubmissionSummary(BaseModel):
    id: int
    url: str
    lab_id: str
    student_id: str
    section: str = ""
    status: str
    verdict: str | None
    late: bool = False
    final_f: float | None
    evaluations: int | None
    solved_fraction: float | None = None
    created_at: dt.datetime


class SubmissionPage(BaseModel):
    items: list[SubmissionSummary]
    total: int
    limit: int
    offset: int


class LeaderboardRow(BaseModel):
    rank: int
    display_name: str = Field(description="The name the student chose, or their generated pseudonym.")
    section: str
    submission_id: int
    gap: float = Field(description="The board's gap: the public case's, or the mean over the hidden cases.")
    expected_running_time: float | None = Field(
        description="Expected running time to the tightest target gap, in evaluations; null if never reached."
    )
    solved_fraction: float | None = Field(
        description="Fraction of all cases that reached the global minimum."
    )
    final_f: float | None = Field(description="Final f on the public case.")
    evaluations: int | None = Field(description="Evaluations used on the public case.")
    submitted_at: dt.datetime


class Leaderboard(BaseModel):
    lab_id: str
    board: str = Field(description="'public' (the public case) or 'private' (the hidden cases).")
    rule: str = Field(description="'best' or 'latest' accepted submission of each student.")
    deadline: dt.datetime | None
    rows: list[LeaderboardRow]


class CriticalPointPublic(BaseModel):
    kind: str
    point: list[float]
    value: float


class FeedbackPublic(BaseModel):
    kind: str
    message: str
    critical_point: CriticalPointPublic | None = Field(
        description="The critical point the run stopped at, when it is not the global minimum."
    )


class HiddenSummary(BaseModel):
    """Aggregates over the hidden cases; per-case values are never shown to students."""

    cases: int
    solved_fraction: float
    mean_gap: float | None
    expected_running_time: dict[str, float | None]
    feedback: dict[str, int] = Field(description="How many hidden cases ended in each feedback kind.")


class LabSettingsPublic(BaseModel):
    lab_id: str
    hidden_cases: int
    leaderboard: bool
    board_rule: str
    deadline: dt.datetime | None
    opens_at: dt.datetime | None = None
    late_policy: str = Field(
        "mark_late", description="'reject' or 'mark_late' for submissions after the deadline."
    )
    daily_quota: int | None = Field(
        None, description="Charged submissions per student per day; null: no limit."
    )
    time_zone: str = Field("", description="The course's time zone, where a quota day starts at midnight.")


class LabSettingsUpdate(BaseModel):
    # A misspelt setting must fail loudly rather than leave the lab unchanged with a 200.
    model_config = ConfigDict(extra="forbid")

    hidden_cases: int | None = Field(None, ge=0, le=64)
    leaderboard: bool | None = None
    board_rule: Literal["best", "latest"] | None = None
    deadline: dt.datetime | None = Field(
        None, description="ISO 8601 with a time zone, e.g. 2026-12-11T23:59:00+09:00; null removes it."
    )
    opens_at: dt.datetime | None = Field(
        None, description="ISO 8601 with a time zone; submissions before it are rejected; null removes it."
    )
    late_policy: Literal["reject", "mark_late"] | None = None
    daily_quota: int | None = Field(None, ge=1, le=10000, description="null removes the limit.")

    @field_validator("deadline", "opens_at")
    @classmethod
    def _require_zone(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(
                f"the time {value.isoformat()!r} needs a time zone, e.g. 2026-12-11T23:59:00+09:00"
            )
        return value


class RescoreReportPublic(BaseModel):
    submissions: int
    changed: list[int]
    rank_changes: dict[str, dict[str, list[int | None]]]
