"""Provenance keys, and what `compare` says when the checker or a timeout changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from calib_async.cli.compare import run_compare
from calib_async.config.schema import VerifierConfig
from calib_async.export.provenance import merge_provenance, provenance, setup_changes
from calib_async.records import Tier
from helpers import make_record

FIXTURES = Path(__file__).parents[1] / "fixtures" / "compare"


def test_provenance_names_checker_version_tier_settings_host_and_load() -> None:
    tiers = [Tier("FAST", 1.0, "coqc", args=("-w", "all"), options={"reject_sorry": True})]
    runs = [
        make_record(f"i{i}", "FAST", verifier="coqc", checker_version="8.18.0",
                    load_avg_1m=float(i), concurrency=i, host="box")
        for i in range(1, 6)
    ]  # fmt: skip
    profile = VerifierConfig("coqc", command=("coqc", "{file}"), version_command=("coqc", "-v"))
    keys = provenance(tiers=tiers, profiles={"coqc": profile}, telemetry=runs, confidence=0.9)
    meta: dict[str, Any] = {"tiers": {"FAST": {"timeout_s": 1.0, "verifier": "coqc"}}}
    merge_provenance(meta, keys)
    assert meta["confidence_level"] == 0.9
    assert meta["checkers"]["coqc"] == {
        "kind": "command",
        "command": ["coqc", "{file}"],
        "version": "8.18.0",
    }
    assert meta["tiers"]["FAST"] == {
        "timeout_s": 1.0,
        "verifier": "coqc",
        "args": ["-w", "all"],
        "options": {"reject_sorry": True},
    }
    assert meta["host"]["name"] == "box"
    assert meta["load"]["load_avg_1m"] == {"min": 1.0, "median": 3.0, "max": 5.0}
    assert meta["load"]["concurrency"]["max"] == 5 and meta["load"]["runs"] == 5


def test_disagreeing_versions_are_all_listed() -> None:
    runs = [make_record("a", checker_version="1"), make_record("b", checker_version="2"),
            make_record("c", checker_version="2")]  # fmt: skip
    keys = provenance(tiers=[Tier("FAST", 1.0, "sim")], profiles=None, telemetry=runs,
                      confidence=0.95)  # fmt: skip
    assert keys["checkers"]["sim"]["version"] == "2"
    assert keys["checkers"]["sim"]["versions"] == ["1", "2"]


def _with(doc: dict[str, Any], version: str, fast_timeout: float) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    meta = out["calibration_metadata"]
    meta["checkers"] = {"simulated": {"kind": "simulated", "command": [], "version": version}}
    meta["tiers"]["FAST"]["timeout_s"] = fast_timeout
    return out


def test_setup_changes_name_a_new_checker_version_and_timeout() -> None:
    doc = yaml.safe_load((FIXTURES / "demo_seed12345.yaml").read_text())
    a, b = _with(doc, "4.9.0", 0.5), _with(doc, "4.10.0", 1.0)
    assert setup_changes(a, b) == [
        "checker simulated: version '4.9.0' -> '4.10.0'",
        "tier FAST: timeout_s 0.5 -> 1",
    ]
    assert setup_changes(a, a) == []
    assert setup_changes(doc, b) == ["tier FAST: timeout_s 0.5 -> 1"]  # older file: no checkers


def test_compare_reports_the_changed_checker_version_and_timeout(tmp_path: Path, capsys) -> None:
    doc = yaml.safe_load((FIXTURES / "demo_seed12345.yaml").read_text())
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(_with(doc, "4.9.0", 0.5)))
    b.write_text(yaml.safe_dump(_with(doc, "4.10.0", 1.0)))
    for fmt in ("table", "markdown"):
        run_compare([str(a), str(b), "--format", fmt])
        out = capsys.readouterr().out
        assert "changed between A and B: checker simulated: version '4.9.0' -> '4.10.0'" in out
        assert "changed between A and B: tier FAST: timeout_s 0.5 -> 1" in out
    run_compare([str(a), str(b), "--format", "json"])
    assert '"tier FAST: timeout_s 0.5 -> 1"' in capsys.readouterr().out
