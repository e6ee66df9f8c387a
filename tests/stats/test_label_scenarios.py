"""The label-error study runs (tiny arguments) and its scenarios do what they say."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from calib_async.stats.label_scenarios import (
    LABEL_ERROR_SCENARIOS,
    ReferenceSim,
    reference_votes,
)
from calib_async.stats.simulate import SimModel, simulate
from helpers import TESTS, run_env


def test_label_error_study_runs_with_tiny_arguments() -> None:
    script = TESTS.parent / "scripts" / "label_error_study.py"
    done = subprocess.run(
        [sys.executable, str(script), "--reps", "1", "--scenario", "one_random"],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| one_random |" in done.stdout
    assert "status unverified_labels: one reference source" in done.stdout


def test_shared_errors_hit_the_same_items_for_every_profile() -> None:
    rng = np.random.default_rng(0)
    _, labeled = simulate(SimModel(p_undetermined_timeout=0.0), 300, 60, rng)
    _, evidence = reference_votes(labeled, ReferenceSim(profiles=3, mode="shared"), rng)
    patterns = {tuple(v + 2 * i for _, v, i in ev.votes) for ev in evidence.values()}
    assert patterns <= {(1, 1, 1), (2, 2, 2)}  # all agree, wrong or right
    assert "three_shared" in LABEL_ERROR_SCENARIOS
