"""``gradedescent try``: grade a solution on the lab's public case on this machine.

The run goes through the same code as the server's workers:
``grader.grading.grade`` with the lab's public instance, the default
``Limits`` (the server's defaults too, unless its TA set
``GRADEDESCENT_TIME_LIMIT``) and the sandbox named by ``GRADEDESCENT_SANDBOX``.
So the verdict, the score and the feedback are the ones the server would give
on the public case. Hidden cases are not run: their instances are the
server's secret.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from client import messages
from client.errors import CliError, ExitCode
from grader import sandbox
from grader.errors import GraderError, SandboxError
from grader.grading import grade
from grader.results import finite_or_none
from grader.scoring import TARGET_GAPS, aggregate
from grader.verdicts import Verdict
from reference.labs import LABS, Lab, get_lab

logger = logging.getLogger(__name__)

SANDBOX_VARIABLE = "GRADEDESCENT_SANDBOX"


def find_lab(lab_id: str) -> Lab:
    try:
        return get_lab(lab_id)
    except KeyError:
        raise CliError(
            messages.UNKNOWN_LAB.format(lab=lab_id, labs=", ".join(LABS)), ExitCode.USAGE
        ) from None


def sandbox_mode(environ: Mapping[str, str]) -> sandbox.SandboxMode:
    """Return the mode from ``GRADEDESCENT_SANDBOX`` (default bwrap), checked to work on this machine."""
    value = environ.get(SANDBOX_VARIABLE, sandbox.SandboxMode.BWRAP.value)
    try:
        mode = sandbox.SandboxMode(value)
    except ValueError:
        modes = ", ".join(repr(mode.value) for mode in sandbox.SandboxMode)
        raise CliError(messages.INVALID_SANDBOX.format(value=value, modes=modes), ExitCode.USAGE) from None
    try:
        sandbox.check_available(mode)
    except SandboxError as error:
        raise CliError(messages.SANDBOX_UNAVAILABLE.format(reason=error), ExitCode.USAGE) from None
    return mode


def run_locally(code: str, lab: Lab, mode: sandbox.SandboxMode) -> dict[str, Any]:
    """Grade ``code`` on the lab's public case and return it shaped like the server's submission body.

    Raises
    ------
    CliError
        With ``ExitCode.SERVER`` if the grader or the sandbox failed.
    """
    logger.info("local run of %s started in sandbox mode %s", lab.lab_id, mode.value)
    try:
        result = grade(code, lab, [lab.public], sandbox.Limits(), mode)
    except (GraderError, OSError) as error:
        logger.error("local run of %s failed in the grader: %s", lab.lab_id, error)
        raise CliError(messages.GRADER_FAILED.format(error=error), ExitCode.SERVER) from None
    logger.info("local run of %s done: %s", lab.lab_id, result.verdict.value)

    body: dict[str, Any] = {
        "id": None,
        "lab_id": lab.lab_id,
        "status": "done",
        "verdict": result.verdict.value,
        "detail": result.detail,
        "score": None,
        "feedback": None,
        "hidden": None,
        "solved_fraction": None,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }
    if result.verdict is Verdict.ACCEPTED:
        outcome = result.outcomes[0]
        score = outcome.score
        body["score"] = {
            "final_point": list(score.final_point),
            "final_f": finite_or_none(score.final_f),
            "gap": finite_or_none(score.gap),
            "distance": finite_or_none(score.distance),
            "evaluations": score.evaluations,
            "evaluations_to_target": {
                f"{target:g}": count
                for target, count in zip(TARGET_GAPS, score.evaluations_to_target, strict=True)
            },
            "reached_global": score.reached_global,
            "budget_spent": score.budget_spent,
            "scored_on": score.scored_on,
        }
        feedback = outcome.feedback
        critical = feedback.critical_point
        body["feedback"] = {
            "kind": feedback.kind,
            "message": feedback.message,
            "critical_point": None
            if critical is None
            else {"kind": critical.kind, "point": list(critical.point), "value": critical.value},
        }
        body["solved_fraction"] = aggregate(result.scores).solved_fraction
    return body
