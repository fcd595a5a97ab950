"""Run directories given as relative paths, as the default data directory "var" is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.grading import grade
from grader.sandbox import Limits, SandboxMode
from grader.verdicts import Verdict
from grader.warm_pool import Zygote
from reference.labs import get_lab
from tests.conftest import SANDBOX_MODE

ORDINARY = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"


@pytest.fixture
def inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cold_run_in_relative_work_root(inside: Path):
    lab = get_lab("lab1")
    (inside / "var" / "runs").mkdir(parents=True)

    result = grade(ORDINARY, lab, [lab.public], Limits(), SANDBOX_MODE, work_root=Path("var/runs"))

    assert result.verdict is Verdict.ACCEPTED, result.detail


@pytest.mark.skipif(SANDBOX_MODE is SandboxMode.NONE, reason="warm sandboxes need bwrap")
def test_warm_run_in_relative_files_dir(inside: Path):
    lab = get_lab("lab1")
    zygote = Zygote(1, Limits(), Path("var/runs/warm-1"))
    try:
        result = grade(ORDINARY, lab, [lab.public], Limits(), SandboxMode.BWRAP, slot=1, launcher=zygote)
    finally:
        zygote.stop()

    assert result.verdict is Verdict.ACCEPTED, result.detail
    assert os.path.isabs(zygote.files_dir)
