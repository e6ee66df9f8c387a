"""The terminal summary names a non-stationary tier and why a target is unreachable."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from calib_async.cli.summary import print_summary
from calib_async.stats.record_arrays import LabelColumns
from calib_async.stats.tier_fit import fit_tier
from helpers.machine_runs import BUDGET_MS, machine_runs


def test_drift_and_unreachable_reasons_are_printed_under_the_table() -> None:
    export = {
        "noise_models": {
            "FAST": {
                "status": "load_burst",
                "status_reason": "the run is not stationary (p = 1e-06): the load average",
                "timeout_recommendations": {
                    0.05: {"timeout_s": 2.0, "reason": None},
                    0.01: {"timeout_s": None, "reason": "target 0.01 is below the floor"},
                },
            },
            "SLOW": {"status": "ok"},
        }
    }
    out = io.StringIO()
    print_summary(Console(file=out, width=200), export, tiers=["FAST", "SLOW"], log_lines=False)
    text = out.getvalue()
    assert "FAST: LOAD_BURST – the run is not stationary (p = 1e-06)" in text
    assert "FAST: 1% target unreachable – target 0.01 is below the floor" in text
    # an ok tier gets no note under the table (the verdict block above still names it)
    notes = [line for line in text.splitlines() if line.startswith("SLOW: ") and " – " in line]
    assert not notes and "5% target unreachable" not in text


def test_a_burst_in_the_load_average_is_named_in_the_terminal_summary() -> None:
    """End to end: runs with a mid-run burst the load average shows -> the tier's fit ->
    its export -> the summary printed under the table says load_burst and why."""
    rng = np.random.default_rng(5)
    runs = machine_runs("load_burst", rng)
    labels = LabelColumns(item=runs.item, outcome=runs.outcome, truth=np.ones(len(runs), np.int8))
    fit = fit_tier("FAST", BUDGET_MS / 1000, runs, labels, bootstrap=0, rng=rng)
    export = {"noise_models": {"FAST": fit.to_export()}}
    assert export["noise_models"]["FAST"]["status"] == "load_burst"
    out = io.StringIO()
    print_summary(Console(file=out, width=250), export, tiers=["FAST"], log_lines=False)
    note = next(line for line in out.getvalue().splitlines() if line.startswith("FAST: "))
    assert note.startswith("FAST: LOAD_BURST – the run is not stationary (p = "), note
    assert "the load average explains it" in note
