"""refit.py and ``calibrate_noise refit``: stages 4-6 from the log and labels.json, no checker;
and the exported held-out split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from calib_async.checkpoint.binding import header_digest
from calib_async.labels.store import split_digest
from calib_async.stats.record_arrays import split_items
from helpers import run_env
from helpers.checkers import calibrate, starts, write_config, write_corpus

TIERS = {
    "LAX": {"timeout_s": 2.0, "verifier": "lax"},
    "STRICT": {"timeout_s": 2.0, "verifier": "strict"},
}


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("refit")
    corpus = write_corpus(d, {"valid": 10, "invalid": 10})
    config, started = write_config(d, tiers=TIERS, consensus=["strict"])
    done = calibrate(d, config, corpus, "--validation-split", "0.25", tiers=list(TIERS), n=20)
    assert done.returncode == 0, done.stderr
    return d, started


def refit(d: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    args = [
        sys.executable, "-m", "calib_async", "refit", "--output-dir", str(d / "out"),
        "--export", str(d / name), "--no-report", *extra,
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, env=run_env(), timeout=300)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_refit_with_unchanged_flags_reproduces_the_export_and_starts_nothing(
    calibrated: tuple[Path, Path],
) -> None:
    d, started = calibrated
    launched = starts(started)
    done = refit(d, "same.yaml")
    assert done.returncode == 0, done.stderr
    assert starts(started) == launched
    original, again = load(d / "calibration.yaml"), load(d / "same.yaml")
    for doc in (original, again):
        del doc["calibration_metadata"]["date"], doc["calibration_metadata"]["run_id"]
    assert again == original

    # byte for byte too, apart from those two lines
    def strip(p: Path) -> list[str]:
        return [x for x in p.read_text().splitlines() if not x.startswith(("  date:", "  run_id:"))]

    assert strip(d / "same.yaml") == strip(d / "calibration.yaml")


def test_refit_with_changed_flags_changes_the_figures_as_expected(
    calibrated: tuple[Path, Path],
) -> None:
    d, started = calibrated
    launched = starts(started)
    done = refit(d, "other.yaml", "--validation-split", "0.5", "--confidence", "0.8")
    assert done.returncode == 0, done.stderr
    assert starts(started) == launched
    original, other = load(d / "calibration.yaml"), load(d / "other.yaml")
    assert original["validation_report"]["held_out_items"]["count"] == 5
    assert other["validation_report"]["held_out_items"]["count"] == 10
    assert other["calibration_metadata"]["validation_split"] == 0.5
    for tier in ("lax", "strict"):
        a, b = original["noise_models"][tier], other["noise_models"][tier]
        assert a["training_samples"] == 15 and b["training_samples"] == 10
        # a lower confidence level on fewer items: the timeout-rate interval (0 timeouts
        # here) still narrows, since 0.8 needs less than 0.95
        assert b["timeout_rate_ci"][1] < a["timeout_rate_ci"][1]
    assert other["noise_models"] != original["noise_models"]


def test_held_out_ids_in_labels_json_match_the_split_the_statistics_used(
    calibrated: tuple[Path, Path],
) -> None:
    d, _ = calibrated
    labels = json.loads((d / "out" / "labels.json").read_text())
    exported = load(d / "calibration.yaml")["validation_report"]
    digest = exported["held_out_items"]["sha256"]
    split = {"sha256": digest, **labels["validation_splits"][digest]}  # refits add their own
    rows = (d / "out" / "telemetry.jsonl").read_text().splitlines()[1:]
    items = sorted({json.loads(x)["item_id"] for x in rows})
    mask = split_items(items, 0.25, 12345)
    assert split["held_out"] == [i for i, held in zip(items, mask, strict=True) if held]
    assert exported["held_out_items"] == {"count": split["count"], "sha256": split["sha256"]}
    assert split["sha256"] == split_digest(split["held_out"])
    assert exported["held_out"]["items"] == split["count"]  # the validator's own count
    assert labels["validation_split"]["sha256"] in labels["validation_splits"]  # the latest


def test_refit_refuses_in_one_line_when_a_needed_run_is_missing(
    calibrated: tuple[Path, Path], tmp_path: Path
) -> None:
    d, _ = calibrated
    out = tmp_path / "out"
    out.mkdir()
    (out / "labels.json").write_text((d / "out" / "labels.json").read_text())
    lines = (d / "out" / "telemetry.jsonl").read_text().splitlines(keepends=True)
    kept = lines[:1] + [x for x in lines[1:] if '"LAX"' not in x or '"phase":"label"' in x]
    (out / "telemetry.jsonl").write_text("".join(kept))
    done = refit(tmp_path, "x.yaml")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "not in" in done.stderr and "--resume" in done.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_refit_refuses_another_log_format_and_accepts_another_tool_version(
    calibrated: tuple[Path, Path], tmp_path: Path
) -> None:
    d, _ = calibrated
    lines = (d / "out" / "telemetry.jsonl").read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    for case, change, ok in (("version", ("tool_version", "0.0.9"), True), ("format", None, False)):
        out = tmp_path / case / "out"
        out.mkdir(parents=True)
        h = json.loads(json.dumps(header))
        if change is None:
            h["format"] = 99
        else:
            h["fingerprint"][change[0]] = change[1]
        (out / "telemetry.jsonl").write_text(json.dumps(h) + "\n" + "".join(lines[1:]))
        labels = json.loads((d / "out" / "labels.json").read_text())
        labels["run"]["log"] = header_digest(json.dumps(h).encode())  # that version's pair
        (out / "labels.json").write_text(json.dumps(labels))
        done = refit(tmp_path / case, "x.yaml")
        if ok:
            assert done.returncode == 0, done.stderr
        else:
            assert done.returncode == 2 and done.stderr.count("\n") == 1
            assert "log format 99" in done.stderr


def test_refit_writes_its_own_report_and_leaves_the_runs_alone(
    calibrated: tuple[Path, Path],
) -> None:
    d, _ = calibrated
    original = d / "out" / "report.html"
    before = original.read_bytes() if original.exists() else None
    args = [
        sys.executable, "-m", "calib_async", "refit", "--output-dir", str(d / "out"),
        "--export", str(d / "ninety.yaml"), "--confidence", "0.9",
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, env=run_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    own = d / "out" / "report.ninety.html"
    assert f"report written to {own}" in done.stdout
    assert (original.read_bytes() if original.exists() else None) == before
    page = own.read_text(encoding="utf-8")
    assert "90% CI" in page and "95% CI" not in page
    assert load(d / "ninety.yaml")["calibration_metadata"]["confidence_level"] == 0.9
