"""The report's verdict sentence and where it says the held-out ids are."""

from __future__ import annotations

import json
from pathlib import Path

from calib_async.export.report_sections import labels_held_out_key
from calib_async.export.report_verdict import self_check as verdict


def test_a_weak_pass_reads_weak_and_keeps_its_reason() -> None:
    summary = (
        "PASSED (WEAK: median power 0.03 against a doubled rate; 0 of 18 tests reach 0.8): "
        "none of 21 tests rejects at family-wise 0.05 (Holm)"
    )
    html = verdict({"validation_report": {"passed": True, "summary": summary}})
    assert "Validation passed (weak: median power 0.03 against a doubled rate; 0 of 18" in html
    assert "reach 0.8): none of 21 tests rejects at family-wise 0.05 (Holm).</span>" in html


def test_a_failure_names_what_failed() -> None:
    html = verdict({"validation_report": {"passed": False, "summary": "FAILED: duration BALANCED"}})
    assert 'class="badge fail">FAILED<' in html
    assert "Validation failed: duration BALANCED.</span>" in html


def test_held_out_ids_are_found_where_stage_6_writes_them(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text(
        json.dumps({"items": {}, "validation_split": {"count": 1, "held_out": ["a"]}})
    )
    assert labels_held_out_key(tmp_path / "report.html") == "validation_split.held_out"
    (tmp_path / "labels.json").write_text(json.dumps({"items": {}}))
    assert labels_held_out_key(tmp_path / "report.html") is None
