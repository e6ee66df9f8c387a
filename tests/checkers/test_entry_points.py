"""A checker kind installed through the entry-point group ``calib_async.checkers`` (the toy kind
in tests/fixtures/toy_kind: a package and its dist-info, put on the path of a subprocess) is
used by ``calibrate_noise --config`` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from helpers import FIXTURES, run_env
from helpers.checkers import write_corpus

SITE = FIXTURES / "toy_kind"


def toy_env() -> dict[str, str]:
    env = run_env()
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_toy_kind_is_found_through_its_entry_point() -> None:
    code = (
        "from calib_async.checkers.registry import kind_for, kind_names;"
        "k = kind_for('toy'); print(k.name, sorted(k.profile_keys), kind_names()[-1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=toy_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["toy", "['marker']", "toy"]


def test_without_the_package_the_kind_is_unknown_with_a_fix_it_message(tmp_path: Path) -> None:
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump({"verifiers": {"t": {"kind": "toy", "marker": "Qed"}}}))
    args = [
        sys.executable, "-m", "calib_async", "--config", str(config), "--corpus", "synthetic",
        "--tiers", "FAST", "--n", "2", "--export", str(tmp_path / "c.yaml"),
        "--output-dir", str(tmp_path / "out"), "--no-progress",
    ]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, env=run_env(), timeout=120)
    assert out.returncode == 2
    assert "unknown checker kind 'toy'" in out.stderr and "calib_async.checkers" in out.stderr
    assert "Traceback" not in out.stderr


def test_calibrate_noise_runs_a_toy_kind_end_to_end(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, {"valid": 4, "invalid": 3})
    config = tmp_path / "toy.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "verifiers": {"toy": {"kind": "toy", "marker": "Qed"}},
                "tiers": {
                    "QUICK": {"timeout_s": 5, "verifier": "toy"},
                    "CAREFUL": {"timeout_s": 10, "verifier": "toy"},
                },
                "consensus_verifiers": ["toy"],
            }
        )
    )
    export = tmp_path / "calibration.yaml"
    args = [
        sys.executable, "-m", "calib_async", "--config", str(config), "--corpus", "custom",
        "--corpus-path", str(corpus), "--tiers", "QUICK", "CAREFUL", "--n", "7",
        "--export", str(export), "--output-dir", str(tmp_path / "out"), "--workers", "2",
        "--bootstrap", "0", "--no-report", "--no-progress", "--log-level", "WARNING",
    ]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, env=toy_env(), timeout=300)
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(export.read_text())
    meta = doc["calibration_metadata"]
    assert {name: t["verifier"] for name, t in meta["tiers"].items()} == {
        "QUICK": "toy",
        "CAREFUL": "toy",
    }
    models = doc["noise_models"]
    assert set(models) == {"quick", "careful"}
    assert all(models[t].get("status") != "no_data" for t in models)
    lines = (tmp_path / "out" / "telemetry.jsonl").read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines[1:]]
    telemetry = [r for r in records if r["phase"] == "telemetry"]
    assert len(telemetry) == 14
    by_item = {(r["item_id"], r["tier"]): r for r in telemetry}
    for (item, _), record in by_item.items():
        valid = item.startswith("valid")
        assert record["outcome"] == ("VERIFIED" if valid else "PROOF_INVALID")
        assert record["checker"]["marker_count"] == (1 if valid else 0)
        assert record["checker_version"] == "toy 0.1"
    # one checker per profile for the whole run: its count of checks reaches every run
    assert max(r["checker"]["checks"] for r in records) == len(records)
