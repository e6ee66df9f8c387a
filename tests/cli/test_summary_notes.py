"""The terminal summary names a non-stationary tier and why a target is unreachable."""

from __future__ import annotations

import io

from rich.console import Console

from calib_async.cli.summary import print_summary


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
