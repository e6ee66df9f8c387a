"""The per-tier verdict and the recommendation (export/verdict.py), and their intervals."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from calib_async.export.verdict import Safety, verdict
from calib_async.stats.verdict_intervals import budget_interval, quantile_ranks, youden_j
from helpers import run_env
from helpers.exports import export_with_warnings

SCRIPTS = Path(__file__).parents[2] / "scripts"


def test_a_tier_that_passes_canaries_is_not_safe_and_names_them() -> None:
    answer = verdict(export_with_warnings())
    fast, slow = answer.tiers
    assert fast.safety is Safety.NOT_SAFE and slow.safety is Safety.SAFE
    assert fast.sentence.startswith("FAST: not safe as a reward: passes 100 % [84, 100] of sorry")
    assert "also axiom 5/20" in fast.sentence
    assert slow.sentence.startswith("SLOW: safe as a reward: spurious pass 0 % [0, 4]")
    assert answer.recommendation == (
        "use SLOW at 2.6 s [1.6, > 2] (extrapolated beyond the longest budget watched) "
        "for ≤ 5 % timeouts"
    )
    assert answer.confidence == 0.9


def test_wide_intervals_are_not_shown_safe_and_the_advice_says_so() -> None:
    doc = export_with_warnings()
    slow = doc["noise_models"]["slow"]
    slow["spurious_pass_rate_ci"] = [0.0, 0.11]
    del slow["canaries"]
    answer = verdict(doc)
    assert answer.tiers[1].safety is Safety.NOT_SHOWN
    assert "not shown safe as a reward (its interval reaches above 5 %)" in answer.tiers[1].sentence
    assert answer.recommendation.startswith("no tier is shown safe as a reward; for ≤ 5 % ")
    assert "use SLOW at 2.6 s [1.6, > 2]" in answer.recommendation


def test_every_status_that_is_not_ok_carries_its_reason() -> None:
    doc = export_with_warnings()
    doc["noise_models"]["slow"]["counts"]["spurious_pass_rate"] = {
        "status": "unverified_labels", "reason": "labels from one checker only"
    }  # fmt: skip
    answer = verdict(doc)
    text = " ".join([answer.tiers[1].sentence, *answer.tiers[1].details])
    assert "(unverified labels: labels from one checker only)" in text
    assert "(low labels: a stratum has fewer than 3 determined labels" in text
    fast = " ".join(answer.tiers[0].details)
    assert "(partial: undetermined labels; bounds 10–14 %)" in fast
    assert "duration model misfit: goodness-of-fit bootstrap rejects (p = 0.01)" in fast


def test_nothing_reachable_names_the_tier_with_fewest_timeouts() -> None:
    doc = copy.deepcopy(export_with_warnings())
    for model in doc["noise_models"].values():
        model["timeout_recommendations"][0.05].update(timeout_s=None, reason="below the floor")
        model["timeout_for_rate"][0.05] = None
    answer = verdict(doc)
    assert answer.recommendation.endswith(
        "no budget watched keeps timeouts at ≤ 5 %; the fewest: SLOW at its 2 s budget, "
        "6 % [1, 12]"
    )


def test_youden_j_mover_interval() -> None:
    j, ci = youden_j(0.1, (0.05, 0.2), 0.2, (0.1, 0.35))
    assert j == pytest.approx(0.7)
    assert ci is not None
    low, high = ci
    assert low == pytest.approx(1 - 0.3 - ((0.1**2 + 0.15**2) ** 0.5))
    assert high == pytest.approx(1 - 0.3 + ((0.05**2 + 0.1**2) ** 0.5))
    assert youden_j(None, None, 0.1, (0.0, 0.2)) == (None, None)
    assert youden_j(0.1, None, 0.1, (0.0, 0.2)) == (pytest.approx(0.8), None)


def test_budget_interval_ranks_and_censoring() -> None:
    from scipy import stats

    low, high = quantile_ranks(100, 0.95, 0.95)
    assert (low, high) == (90, 100)
    b = stats.binom(100, 0.95)  # P(D_(l) <= xi <= D_(u)) = P(l <= B <= u - 1), each tail <= 2.5 %
    assert b.cdf(low - 1) <= 0.025 < b.cdf(low) and b.sf(high - 1) <= 0.025 < b.sf(high - 2)
    runs: list[float | None] = [float(i) for i in range(1, 96)] + [None] * 5
    assert budget_interval(runs, 0.05, 0.95) == (90.0, None)  # upper end among the timeouts
    assert budget_interval([], 0.05, 0.95) is None
    assert budget_interval([1.0, 2.0], 0.05, 0.95) == (1.0, None)  # two runs: no upper end


def test_study_script_runs_with_tiny_arguments() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "verdict_intervals_study.py"), "--reps", "5"],
        capture_output=True, text=True, env=run_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("coverage") == 9
