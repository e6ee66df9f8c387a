"""The escalation ladders' re-runs as longer observations of killed runs (issue 27)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calib_async.records import Outcome, Phase
from calib_async.stats.duration_sim import DurationScenario, simulate_ladders, simulate_runs
from calib_async.stats.escalations import extend_with_ladders, ladder_ends
from calib_async.stats.record_arrays import OUTCOME_CODE, TIMEOUT_CODE, RunColumns, to_columns
from calib_async.stats.simulate import SimModel, simulate
from calib_async.stats.timeouts import fit_tier_timeouts

VERIFIED = OUTCOME_CODE["VERIFIED"]


def _runs(rows: list[tuple[int, int, bool, float, float]]) -> RunColumns:
    item, outcome, killed, duration, budget = zip(*rows, strict=True)
    n = len(rows)
    return RunColumns(
        item=np.asarray(item, dtype=np.int64),
        outcome=np.asarray(outcome, dtype=np.int8),
        timed_out=np.asarray(killed, dtype=bool),
        duration_ms=np.asarray(duration, dtype=np.float64),
        timeout_ms=np.asarray(budget, dtype=np.float64),
        load_avg_1m=np.zeros(n),
        concurrency=np.ones(n),
    )


WALL = _runs(
    [
        (0, VERIFIED, False, 300.0, 800.0),
        (1, TIMEOUT_CODE, True, 830.0, 800.0),  # ladder finishes at 2500 ms
        (2, TIMEOUT_CODE, True, 810.0, 800.0),  # ladder never finishes
        (3, TIMEOUT_CODE, True, 820.0, 800.0),  # no ladder
        (4, TIMEOUT_CODE, True, 805.0, 800.0),  # re-run finishes within the budget
    ]
)
LADDERS = _runs(
    [
        (1, TIMEOUT_CODE, True, 1620.0, 1600.0),
        (1, VERIFIED, False, 2500.0, 3200.0),
        (2, TIMEOUT_CODE, True, 1610.0, 1600.0),
        (2, TIMEOUT_CODE, True, 3210.0, 3200.0),
        (2, TIMEOUT_CODE, True, 6420.0, 6400.0),
        (2, TIMEOUT_CODE, True, 8030.0, 8000.0),
        (4, VERIFIED, False, 700.0, 1600.0),
        (9, VERIFIED, False, 100.0, 1600.0),  # an item without a killed run: left out
    ]
)


def test_a_ladder_extends_the_killed_run_it_re_runs() -> None:
    ext = extend_with_ladders(WALL, LADDERS, resolution_ms=1.0)
    assert sorted(ext.data.events.tolist()) == [300.0, 801.0, 2500.0]
    assert sorted(ext.data.right.tolist()) == [800.0, 8000.0]
    assert (ext.n_extended, ext.n_still_running, ext.watched_to_ms) == (3, 1, 8000.0)
    assert ext.identified


def test_without_ladders_the_runs_are_censored_at_their_budget() -> None:
    ext = extend_with_ladders(WALL, None)
    assert sorted(ext.data.right.tolist()) == [800.0] * 4
    assert not ext.identified and ext.watched_to_ms == 800.0


def test_ladder_ends_keep_the_largest_budget_per_item() -> None:
    ends = ladder_ends(LADDERS)
    assert dict(zip(ends.item.tolist(), ends.timeout_ms.tolist(), strict=True)) == {
        1: 3200.0,
        2: 8000.0,
        4: 1600.0,
        9: 1600.0,
    }


def test_to_columns_puts_the_tiers_escalation_attempts_in_ladders_only() -> None:
    telemetry, labeled = simulate(SimModel(), 200, 60, np.random.default_rng(4))
    first = next(r for r in telemetry if r.outcome == Outcome.VERIFIER_TIMEOUT.value)
    rerun = dataclasses.replace(
        first, phase=Phase.LABEL, attempt=1, timeout_s=first.timeout_s * 2,
        outcome=Outcome.VERIFIED, timed_out=False, duration_ms=first.timeout_s * 1500,
    )  # fmt: skip
    consensus = dataclasses.replace(rerun, tier=f"label:{first.tier}")
    plain = to_columns(telemetry, labeled, [first.tier])
    cols = to_columns([*telemetry, rerun, consensus], labeled, [first.tier])
    assert len(cols.runs[first.tier]) == len(plain.runs[first.tier])
    ladder = cols.ladders[first.tier]
    assert len(ladder) == 1 and cols.items[int(ladder.item[0])] == first.item_id
    assert ladder.timeout_ms[0] == pytest.approx(first.timeout_s * 2000)


def test_ladders_tell_a_heavy_tail_from_runaways() -> None:
    heavy = DurationScenario("heavy", "fisk", {"shape": 2.0, "scale": 300.0})
    rng = np.random.default_rng(5)
    runs = simulate_runs(heavy, 600, rng)
    fit = fit_tier_timeouts(
        runs, 0.8, bootstrap=0, rng=rng, ladders=simulate_ladders(heavy, runs, 300, rng),
        replicates=0,
    )  # fmt: skip
    assert fit.floor_identified and fit.floor < 0.01
    assert {r.target: r.timeout_s for r in fit.recommendations}[0.01] is not None
    export = fit.distribution_export()
    assert export["escalations"]["watched_beyond_budget"] == fit.n_escalated > 0
    assert 0.8 < export["max_observed_budget_s"] <= 8.0


def test_ten_percent_runaways_make_the_five_percent_target_unreachable() -> None:
    runaway = DurationScenario("runaway", cure=0.10)
    rng = np.random.default_rng(6)
    runs = simulate_runs(runaway, 600, rng)
    fit = fit_tier_timeouts(
        runs, 0.8, bootstrap=19, rng=rng, ladders=simulate_ladders(runaway, runs, 300, rng),
        replicates=0,
    )  # fmt: skip
    five = {r.target: r for r in fit.recommendations}[0.05]
    assert five.timeout_s is None and "runaway" in (five.reason or "")
    lo, hi = fit.floor_ci or (0.0, 0.0)
    assert lo > 0.05 and lo <= 0.10 <= hi


def test_without_ladders_the_floor_is_not_identified_beyond_the_budget() -> None:
    runaway = DurationScenario("runaway", cure=0.10)
    runs = simulate_runs(runaway, 600, np.random.default_rng(7))
    fit = fit_tier_timeouts(runs, 0.8, bootstrap=0, rng=np.random.default_rng(0), replicates=0)
    export = fit.distribution_export()
    assert not fit.floor_identified
    assert export["floor_note"] == "not identified beyond the observed budget"
    lo, hi = fit.floor_ci or (1.0, 0.0)
    share = float(runs.timed_out.mean())
    assert lo == 0.0 and hi >= share


def test_fit_and_validate_reads_the_ladders_among_the_ground_truth_runs() -> None:
    from calib_async.stats.fit import fit_and_validate

    model = SimModel()
    telemetry, labeled = simulate(model, 300, 90, np.random.default_rng(9))
    killed = [r for r in telemetry if r.timed_out][:20]
    ladders = [
        dataclasses.replace(
            r, phase=Phase.LABEL, attempt=1, timeout_s=r.timeout_s * 2, timed_out=False,
            outcome=Outcome.VERIFIED, duration_ms=r.timeout_s * 1200,
        )
        for r in killed
    ]  # fmt: skip
    fit = fit_and_validate(
        telemetry, labeled, tiers=model.config_tiers(), validation_split=0.0, seed=1,
        bootstrap=0, ladders=ladders,
    )  # fmt: skip
    timeouts = [t.timeouts for t in fit.tiers.values() if t.timeouts is not None]
    assert sum(t.n_escalated for t in timeouts) == len(killed)
    assert all(t.floor_identified for t in timeouts if t.n_escalated)
