"""Turn case scores into what is stored: per-case rows and a submission summary.

The same functions serve a fresh grade and a rescore, so both apply the
scoring rules in force.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.evaluator import CaseRecord
from grader.feedback import Feedback, diagnose
from grader.scoring import TARGET_GAPS, CaseScore, aggregate, expected_running_time, score_case
from reference.labs import Instance

RANKING_TARGET = len(TARGET_GAPS) - 1
"""Boards break ties in gap by the expected running time to the tightest target."""


@dataclass(frozen=True)
class CaseOutcome:
    """One scored case with its diagnosis, and the seed of its instance (None for the public case)."""

    score: CaseScore
    feedback: Feedback
    hidden: bool
    seed: int | None


def score_cases(
    instances: list[Instance], records: list[CaseRecord], seeds: list[int | None]
) -> list[CaseOutcome]:
    """Score and diagnose every case; a case with a seed is hidden."""
    outcomes = []
    for instance, record, seed in zip(instances, records, seeds, strict=True):
        score = score_case(instance, record)
        outcomes.append(CaseOutcome(score, diagnose(instance, record, score), seed is not None, seed))
    return outcomes


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def summarize(outcomes: list[CaseOutcome]) -> dict[str, Any]:
    """Return the submission's score columns and its ``summary`` JSON.

    Public measures come from case 0; hidden ones aggregate every other case.
    Only aggregates of hidden cases appear, never a per-case value.
    """
    public = outcomes[0]
    hidden = [outcome for outcome in outcomes if outcome.hidden]
    everything = aggregate([outcome.score for outcome in outcomes])
    columns: dict[str, Any] = {
        "public_gap": finite_or_none(public.score.gap),
        "public_ert": expected_running_time([public.score], RANKING_TARGET),
        "hidden_mean_gap": None,
        "hidden_ert": None,
        "solved_fraction": everything.solved_fraction,
    }
    summary: dict[str, Any] = {
        "cases": everything.cases,
        "solved_fraction": everything.solved_fraction,
        "public_feedback": public.feedback.kind,
        "hidden": None,
    }
    if hidden:
        hidden_scores = aggregate([outcome.score for outcome in hidden])
        columns["hidden_mean_gap"] = finite_or_none(hidden_scores.mean_gap)
        columns["hidden_ert"] = hidden_scores.expected_running_time[RANKING_TARGET]
        summary["hidden"] = {
            "cases": hidden_scores.cases,
            "solved_fraction": hidden_scores.solved_fraction,
            "mean_gap": finite_or_none(hidden_scores.mean_gap),
            "expected_running_time": {
                f"{target:g}": ert
                for target, ert in zip(TARGET_GAPS, hidden_scores.expected_running_time, strict=True)
            },
            "feedback": dict(Counter(outcome.feedback.kind for outcome in hidden)),
        }
    return {**columns, "summary": summary}


def trajectory_bytes(record: CaseRecord) -> bytes:
    """Pack a trajectory as float64 little-endian rows: the point's coordinates, then ``f``."""
    if not record.values:
        return b""
    points = np.asarray(record.points, dtype="<f8").reshape(len(record.values), -1)
    return np.column_stack([points, np.asarray(record.values, dtype="<f8")]).astype("<f8").tobytes()


def trajectory_record(data: bytes, dimension: int) -> CaseRecord:
    """Unpack ``trajectory_bytes`` into the points and values of a ``CaseRecord``."""
    rows = np.frombuffer(data, dtype="<f8").reshape(-1, dimension + 1)
    return CaseRecord(
        points=[tuple(float(v) for v in row[:dimension]) for row in rows],
        values=[float(v) for v in rows[:, dimension]],
    )
