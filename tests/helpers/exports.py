"""Export dictionaries (calibration.yaml's content) for report and summary tests.

:func:`export_with_warnings` holds one of every warning a reader must see: a misfit duration
model with its reasons, a runaway share, a partial rate with bounds, a low-labels rate, an
unreachable target with its reason, a recommendation beyond the tier's budget, canaries that
passed, and text that rich would read as markup (``[runaway 0.059, MISFIT]``).
"""

from __future__ import annotations

from typing import Any


def tier_model(
    *,
    timeout_s: float,
    timeout_rate: float,
    spurious_fail: float,
    spurious_pass: float,
    pass_ci: tuple[float, float],
    budget_5: float | None,
    budget_5_ci: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    rec_5: dict[str, Any] = {
        "timeout_s": budget_5,
        "method": "model" if budget_5 is not None else "unreachable",
        "extrapolated": budget_5 is not None and budget_5 > timeout_s,
        "bounded_by_observed": False,
        "reason": None if budget_5 is not None else "target 0.05 is below the floor 0.0904",
    }
    if budget_5_ci is not None:
        rec_5["timeout_s_ci"] = list(budget_5_ci)
    return {
        "timeout_s": timeout_s,
        "training_samples": 80,
        "timeout_rate": timeout_rate,
        "timeout_rate_ci": [max(0.0, timeout_rate - 0.05), timeout_rate + 0.06],
        "spurious_fail_rate": spurious_fail,
        "spurious_fail_rate_ci": [max(0.0, spurious_fail - 0.03), spurious_fail + 0.08],
        "spurious_pass_rate": spurious_pass,
        "spurious_pass_rate_ci": list(pass_ci),
        "youden_j": 1 - spurious_fail - spurious_pass,
        "youden_j_ci": [0.4, 0.9],
        "timeout_distribution": {
            "type": "fisk",
            "params": {"shape": 7.6, "scale": 700.0, "loc": 0.0},
            "cure_fraction": 0.059,
            "status": "ok",
            "predictor": "model",
        },
        "timeout_for_rate": {0.05: budget_5, 0.01: None},
        "timeout_recommendations": {
            0.05: rec_5,
            0.01: {
                "timeout_s": None,
                "method": "unreachable",
                "extrapolated": False,
                "bounded_by_observed": False,
                "reason": "target 0.01 is below the floor 0.0904",
            },
        },
        "status": "ok",
        "counts": {"spurious_pass_rate": {"status": "ok", "n_labelled": 20}},
    }


def export_with_warnings() -> dict[str, Any]:
    fast = tier_model(
        timeout_s=0.5,
        timeout_rate=0.54,
        spurious_fail=0.10,
        spurious_pass=0.38,
        pass_ci=(0.21, 0.56),
        budget_5=None,
    )
    fast["timeout_distribution"].update(
        status="misfit",
        predictor="kaplan_meier",
        status_reasons=["goodness-of-fit bootstrap rejects (p = 0.01)"],
    )
    fast["spurious_fail_rate_bounds"] = [0.10, 0.14]
    fast["counts"]["spurious_fail_rate"] = {"status": "partial"}
    fast["canaries"] = {
        "sorry": {"run": 20, "passed": 20, "spurious_pass_rate": 1.0,
                  "spurious_pass_rate_ci": [0.84, 1.0], "status": "ok"},
        "axiom": {"run": 20, "passed": 5, "spurious_pass_rate": 0.25,
                  "spurious_pass_rate_ci": [0.11, 0.47], "status": "ok"},
        "statement": {"run": 0, "passed": 0, "spurious_pass_rate": None, "not_applicable": 20,
                      "status": "not_applicable"},
    }  # fmt: skip
    slow = tier_model(
        timeout_s=2.0,
        timeout_rate=0.06,
        spurious_fail=0.02,
        spurious_pass=0.0,
        pass_ci=(0.0, 0.04),
        budget_5=2.6,
        budget_5_ci=(1.6, None),
    )
    slow["counts"]["spurious_fail_rate"] = {"status": "low_labels"}
    slow["canaries"] = {
        "sorry": {"run": 20, "passed": 0, "spurious_pass_rate": 0.0,
                  "spurious_pass_rate_ci": [0.0, 0.03], "status": "ok"},
    }  # fmt: skip
    return {
        "calibration_metadata": {
            "schema_version": "calib-async/1",
            "tool_version": "0.1.0",
            "corpus": "synthetic",
            "n": 200,
            "confidence_level": 0.9,
            "tiers": {
                "FAST": {"timeout_s": 0.5, "verifier": "sim", "args": [], "options": {}},
                "SLOW": {"timeout_s": 2.0, "verifier": "sim", "args": ["-w", "all"],
                         "options": {"precision": "slow"}},
            },
            "checkers": {"sim": {"kind": "command", "command": ["sim", "{file}"],
                                 "version": "sim 4.0 [beta]"}},
        },
        "validation_report": {"passed": True, "summary": "PASSED (WEAK: median power 0.03): ok"},
        "noise_models": {"fast": fast, "slow": slow},
    }
