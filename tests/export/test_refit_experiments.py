"""``refit`` reproduces every block of the export: canaries, flips, load and the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from calib_async.export.document import write_export
from calib_async.model import CalibrationDocument
from helpers import run_env

BLOCKS = ("canaries", "flips", "load")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calib_async", *args],
        capture_output=True,
        text=True,
        env=run_env(),
        timeout=300,
    )


def _without_run_identity(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    del doc["calibration_metadata"]["date"], doc["calibration_metadata"]["run_id"]
    return doc


def _assert_round_trips(path: Path, again: Path) -> None:
    """The main job's YAML read into the typed model and written again is byte-identical."""
    text = path.read_text()
    write_export(again, CalibrationDocument.read(yaml.safe_load(text)).to_dict())
    assert again.read_text() == text


def test_refit_reproduces_canaries_flips_and_load(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run(
        "--tiers", "FAST", "BALANCED", "--n", "8", "--corpus", "synthetic", "--seed", "5",
        "--workers", "2", "--bootstrap", "20", "--no-report", "--no-progress",
        "--log-level", "WARNING", "--output-dir", str(out),
        "--export", str(tmp_path / "calibration.yaml"),
        "--canaries", "all", "--canary-sample", "2",
        "--replicates", "2", "--replicate-sample", "3",
        "--load-levels", "1,2", "--load-sample", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _assert_round_trips(tmp_path / "calibration.yaml", tmp_path / "round_trip.yaml")
    original = _without_run_identity(tmp_path / "calibration.yaml")
    for model in original["noise_models"].values():
        assert set(BLOCKS) <= set(model), sorted(model)
    recorded = json.loads((out / "labels.json").read_text())["experiments"]
    assert recorded["replicates"] and recorded["load"] and recorded["canaries"]["runs"]

    again = _run(
        "refit", "--output-dir", str(out), "--export", str(tmp_path / "again.yaml"), "--no-report"
    )
    assert again.returncode == 0, again.stderr
    _assert_round_trips(tmp_path / "again.yaml", tmp_path / "round_trip.yaml")
    refitted = _without_run_identity(tmp_path / "again.yaml")
    assert set(refitted) == set(original)
    for tier, model in original["noise_models"].items():
        assert set(refitted["noise_models"][tier]) == set(model)
        for block in BLOCKS:  # no bootstrap in these blocks: equal value for value
            assert refitted["noise_models"][tier][block] == model[block], (tier, block)
    # the bootstrap is seeded too, so the whole document is the same
    assert refitted == original
