from __future__ import annotations

from typing import Any

import pytest

from calib_async.export.report_headline import headline, held_out_note, tier_table
from calib_async.export.report_verdict import self_check as verdict


def model(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "timeout_s": 0.5,
        "training_samples": 80,
        "timeout_rate": 0.05,
        "timeout_rate_ci": [0.02, 0.12],
        "spurious_fail_rate": 0.1234,
        "spurious_fail_rate_ci": [0.05, 0.25],
        "timeout_for_rate": {0.05: 0.33, 0.01: 0.9},
        "counts": {"timeout_rate": {"n": 80, "k": 4, "status": "ok"},
                   "spurious_fail_rate": {"n_labelled": 48, "status": "ok"}},
        "status": "ok",
    }  # fmt: skip
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("report", "badge", "sentence"),
    [
        (
            {"passed": True, "summary": "PASSED: none of 21 tests rejects at family-wise 0.05"},
            "PASSED",
            "Validation passed: none of 21 tests rejects at family-wise 0.05.",
        ),
        (
            {"passed": False, "summary": "FAILED: 1 of 21 tests reject (Holm): FAST x"},
            "FAILED",
            "Validation failed: 1 of 21 tests reject (Holm): FAST x.",
        ),
        (
            {"passed": False, "status": "not_evaluated", "summary": "NOT EVALUATED: no held-out"},
            "NOT EVALUATED",
            "Validation not evaluated: no held-out.",
        ),
        (None, "NOT EVALUATED", "the export holds no validation report."),
    ],
)
def test_verdict_is_a_badge_and_one_sentence(report: Any, badge: str, sentence: str) -> None:
    html = verdict({"validation_report": report} if report is not None else {})
    assert html.startswith('<section id="self-check"')
    assert f">{badge}</span>" in html and sentence in html


def test_headline_table_shows_rates_cis_ns_and_marks_extrapolated_timeouts() -> None:
    html = tier_table("FAST", model())
    assert "<caption>FAST · timeout 0.5 s · n = 80 training runs</caption>" in html
    assert 'data-key="spurious_fail_rate" data-value="0.1234">0.123</td>' in html
    assert "[0.050, 0.250]" in html and ">48 valid</td>" in html and ">80 runs</td>" in html
    rows = html.split("<tr>")
    at_5 = next(r for r in rows if "timeout for ≤ 5%<" in r)
    at_1 = next(r for r in rows if "timeout for ≤ 1%<" in r)
    assert "0.33 s" in at_5 and "extrapolated" not in at_5
    assert "0.9 s" in at_1 and '<span class="flag">extrapolated</span>' in at_1  # 0.9 > 0.5
    assert html.index("≤ 5%") < html.index("≤ 1%")


def test_other_versions_keys_render_when_present_and_nothing_when_absent() -> None:
    extra = model(
        status="low_labels",
        status_reason="8 labelled invalid runs",
        spurious_pass_rate=None,
        spurious_pass_rate_bounds=[0.0, 0.4],
        timeout_for_rate={0.05: 0.3, 0.01: None, 0.001: {"seconds": 0.45, "extrapolated": True}},
        canaries={"sorry": {"run": 5, "passed": 4, "spurious_pass_rate": 0.8}},
        drift={"status": "drift", "reason": "timeouts rose over the run", "slope": 0.1},
        flip_rate=0.02,
        load_sensitivity={"flagged": True, "load_avg_1m": {"p_holm": 0.01}},
    )
    html = tier_table("SLOW", extra)
    assert '<span class="flag" data-key="status">low_labels</span> – 8 labelled invalid' in html
    assert "bounds [0.000, 0.400]" in html
    assert "unreachable" in next(r for r in html.split("<tr>") if "≤ 1%<" in r)
    assert html.count("extrapolated") == 1
    assert "4/5 passed (sorry 4/5)" in html and "flip rate" in html and "0.02" in html
    # a block a newer version adds: its status with the reason, never a dump
    assert "drift: timeouts rose over the run; slope 0.1" in html and "{" not in html
    assert "timeouts rise with load (flagged) (load avg p=0.01)" in html
    bare = tier_table("X", {})
    assert bare.startswith('<table class="headline" data-tier="X"><caption>X</caption>')
    assert "<tbody></tbody>" in bare  # nothing made up
    assert headline({}, {}).count("No tier") == 1


def test_held_out_note_says_how_many_and_where_the_ids_are() -> None:
    export = {
        "calibration_metadata": {"n": 100, "seed": 7, "validation_split": 0.2},
        "validation_report": {"held_out": {"items": 20, "records": 60, "labelled": 41}},
    }
    note = held_out_note(export)
    assert "Validation held out 20 items of 100 (60 records, 41 labelled)" in note
    assert "end of this page" in note and "--seed 7 and --validation-split 0.2" in note
    export["validation_report"]["held_out"]["ids"] = ["a", "b"]
    assert "in the YAML (validation_report.held_out)" in held_out_note(export)
    assert held_out_note({}) == ""
