"""End-to-end: the six stages on the synthetic corpus, resume after SIGKILL, SIGINT."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from helpers import run_env
from helpers.slow_tiers import X4_TIERS, x4_config

TIERS = ["FAST", "BALANCED", "SLOW"]


def cmd(out: Path, *extra: str, n: int = 16, tiers: list[str] = TIERS, seed: int = 3) -> list[str]:
    return [
        sys.executable,
        "-m",
        "calib_async",
        "--tiers",
        *tiers,
        "--n",
        str(n),
        "--corpus",
        "synthetic",
        "--export",
        str(out / "calibration.yaml"),
        "--output-dir",
        str(out),
        "--workers",
        "6",
        "--seed",
        str(seed),
        "--bootstrap",
        "0",
        "--no-report",
        "--log-level",
        "WARNING",
        *extra,
    ]


def run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=run_env(), timeout=timeout)


def records(out: Path) -> list[dict]:
    lines = (out / "telemetry.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [r for r in rows if r.get("kind") != "header"]


def descendants_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def leftover_checkers(out: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if "simulated_checker.py" in cmdline and str(out) in cmdline:
            found.append(p)
    return found


def test_synthetic_run_exports_every_key(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run(cmd(out, n=24))
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((out / "calibration.yaml").read_text())
    assert {"calibration_metadata", "validation_report", "noise_models"} <= set(data)
    assert {"summary", "tier_monotonicity", "calibration_error", "coverage"} <= set(
        data["validation_report"]
    )
    assert data["calibration_metadata"]["seed"] == 3
    for tier in ("fast", "balanced", "slow"):
        model = data["noise_models"][tier]
        for key in (
            "timeout_rate",
            "timeout_rate_ci",
            "spurious_fail_rate",
            "spurious_fail_rate_ci",
            "spurious_pass_rate",
            "spurious_pass_rate_ci",
            "timeout_distribution",
            "training_samples",
        ):
            assert key in model, (tier, key)
        assert {"type", "params", "goodness_of_fit"} <= set(model["timeout_distribution"])
        assert model["training_samples"] > 0
        assert "youden_j" in model and "youden_j_ci" in model
    # provenance: what was calibrated, where, under what load (additive keys)
    meta = data["calibration_metadata"]
    assert meta["confidence_level"] == 0.95 and meta["tool_version"]
    sim = meta["checkers"]["simulated"]
    assert sim["kind"] == "simulated" and "simulated checker" in sim["version"]
    assert meta["tiers"]["FAST"]["options"] == {"precision": "fast"}
    assert meta["tiers"]["FAST"]["args"] == []
    assert meta["host"]["name"] and meta["host"]["cpus"] >= 1
    assert meta["load"]["runs"] == 3 * 24
    assert 0 <= meta["load"]["load_avg_1m"]["min"] <= meta["load"]["load_avg_1m"]["max"]
    rows = records(out)
    assert {r["phase"] for r in rows} == {"telemetry", "label"}
    assert len({r["task_key"] for r in rows}) == len(rows)
    labels = json.loads((out / "labels.json").read_text())
    assert labels["items"]


def test_existing_log_needs_resume_or_fresh_and_resume_checks_fingerprint(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(cmd(out, n=6, tiers=["FAST"])).returncode == 0
    again = run(cmd(out, n=6, tiers=["FAST"]))
    assert again.returncode == 2 and "--resume" in again.stderr and "--fresh" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    other_seed = run(cmd(out, "--resume", n=6, tiers=["FAST"], seed=4))
    assert other_seed.returncode == 2 and "seed" in other_seed.stderr
    other_tiers = run(cmd(out, "--resume", n=6, tiers=["FAST", "SLOW"]))
    assert other_tiers.returncode == 2 and "tiers" in other_tiers.stderr
    before = len(records(out))
    resumed = run(cmd(out, "--resume", n=6, tiers=["FAST"]))
    assert resumed.returncode == 0, resumed.stderr
    assert len(records(out)) == before  # nothing re-run
    fresh = run(cmd(out, "--fresh", n=6, tiers=["FAST"]))
    assert fresh.returncode == 0
    assert list(out.glob("telemetry.jsonl.*.bak"))


def expected_keys(rows: list[dict], *, seed: int = 3, label_sample: int = 1000) -> set[str]:
    """The task keys an uninterrupted run produces from these telemetry outcomes.

    Telemetry keys are fixed by (items, tiers). Label keys follow from the telemetry outcomes:
    the stratified sample, for each sampled timeout an escalation ladder up to its first
    non-timeout, and the consensus runs that adaptive resolution plans from the outcomes of
    earlier ones (replayed here from the log's own records, as a resume would). Outcomes near
    a timeout depend on machine load, so a run is compared with what its own outcomes imply.
    """
    import anyio

    from calib_async.checkers.lean.axioms import DEFAULT_AXIOM_ALLOWLIST
    from calib_async.checkers.simulated import default_synthetic_config
    from calib_async.labels.consensus import consensus_ladder, consensus_tier, top_timeout
    from calib_async.labels.resolution import run_consensus
    from calib_async.labels.sampling import sample_for_labeling
    from calib_async.labels.stage import manual_evidence
    from calib_async.records import CorpusItem, Phase, TelemetryRecord, task_key
    from calib_async.telemetry.scheduler import escalation_ladder

    by_key = {r["task_key"]: r for r in rows}
    telemetry = [TelemetryRecord.from_dict(r) for r in rows if r["phase"] == "telemetry"]
    keys = {r.task_key for r in telemetry}
    hashes = {r.item_id: r.content_hash for r in telemetry}
    sample = sample_for_labeling(telemetry, label_sample, seed)
    checker = default_synthetic_config()
    consensus = checker.consensus_verifiers
    tiers = [checker.tiers[t] for t in TIERS]
    for s in sample:
        r = s.record
        if r.outcome != "VERIFIER_TIMEOUT":
            continue
        item = CorpusItem(r.item_id, r.item_id, "", r.content_hash)
        for attempt, _ in enumerate(escalation_ladder(10), start=1):
            key = task_key(item, r.tier, Phase.LABEL, attempt, r.verifier)
            keys.add(key)
            if key not in by_key or by_key[key]["outcome"] != "VERIFIER_TIMEOUT":
                break

    class Replay:  # a runner that only replays the log (a missing run ends the plan there)
        async def run_all(self, tasks):  # type: ignore[no-untyped-def]
            for task in tasks:
                keys.add(task.key)
                if task.key in by_key:
                    yield TelemetryRecord.from_dict(by_key[task.key])

    items = [CorpusItem(i, i, "", hashes[i]) for i in sorted({s.record.item_id for s in sample})]
    top = top_timeout(tiers, 10.0)
    ladders = {
        p: consensus_ladder(consensus_tier(p, tiers, checker, 10.0).timeout_s, top)
        for p in consensus
    }
    manual = manual_evidence(manual_labels=None, output_dir=Path("/nonexistent"))
    anyio.run(
        lambda: run_consensus(
            items, consensus, lambda p, r: consensus_tier(p, tiers, checker, 10.0, r), Replay(),  # type: ignore[arg-type]
            other_evidence=manual, allowlist=DEFAULT_AXIOM_ALLOWLIST,
            ladders=ladders, budget=len(items) * len(consensus),
        )
    )  # fmt: skip
    return keys


def test_sigkill_at_random_moments_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    reference = tmp_path / "ref"
    assert run(cmd(reference)).returncode == 0
    ref_rows = records(reference)
    assert {r["task_key"] for r in ref_rows} == expected_keys(ref_rows)
    ref_telemetry = sorted(r["task_key"] for r in ref_rows if r["phase"] == "telemetry")
    rng = random.Random(0)
    for attempt in range(3):
        out = tmp_path / f"killed{attempt}"
        proc = subprocess.Popen(
            cmd(out),
            env=run_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        target = rng.randint(5, 90)
        deadline = time.monotonic() + 60
        log = out / "telemetry.jsonl"
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and log.read_bytes().count(b"\n") > target:
                break
            time.sleep(0.02)
        kids = descendants_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for k in kids:  # the driver died without cleanup: reap its orphans like a supervisor
            with contextlib.suppress(psutil.NoSuchProcess):
                k.kill()
        resumed = run(cmd(out, "--resume"))
        assert resumed.returncode == 0, resumed.stderr
        rows = records(out)
        keys = [r["task_key"] for r in rows]
        assert len(keys) == len(set(keys)), "duplicate task keys after resume"
        telemetry = sorted(r["task_key"] for r in rows if r["phase"] == "telemetry")
        assert telemetry == ref_telemetry
        assert set(keys) == expected_keys(rows)
        assert (out / "calibration.yaml").exists()


def test_sigint_exits_130_promptly_leaves_no_checker_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        cmd(out, n=40), env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    log = out / "telemetry.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if log.exists() and log.read_bytes().count(b"\n") > 10:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert not leftover_checkers(out)
    resumed = run(cmd(out, "--resume", n=40))
    assert resumed.returncode == 0, resumed.stderr
    keys = [r["task_key"] for r in records(out)]
    assert len(keys) == len(set(keys))


def test_same_seed_gives_identical_snapshots(tmp_path: Path) -> None:
    from calib_async.checkpoint.reading import snapshot

    cfg, x4 = x4_config(tmp_path), list(X4_TIERS)  # outcomes off the clock, whatever the load
    out = tmp_path / "out"
    assert run(cmd(out, "--config", str(cfg), n=12, tiers=x4)).returncode == 0
    first = snapshot(records(out))
    assert {r["outcome"] for r in first} >= {"VERIFIED", "PROOF_INVALID"}
    assert run(cmd(out, "--config", str(cfg), "--fresh", n=12, tiers=x4)).returncode == 0
    assert snapshot(records(out)) == first


@pytest.mark.skipif(os.cpu_count() is None, reason="needs cpu count")
def test_run_as_library_under_trio(tmp_path: Path) -> None:
    import anyio

    from calib_async.pipeline import RunConfig, run_calibration

    config = RunConfig(
        tiers=("FAST",),
        n=6,
        export=tmp_path / "c.yaml",
        corpus="synthetic",
        output_dir=tmp_path / "o",
        workers=4,
        bootstrap=0,
        report=False,
    )
    result = anyio.run(run_calibration, config, backend="trio")
    assert result.export_path.exists()
    assert "fast" in result.export["noise_models"]


def test_manual_labels_file_overrides_automatic_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(cmd(out, n=6, tiers=["FAST"])).returncode == 0
    before = json.loads((out / "labels.json").read_text())["items"]
    item, label = next(
        (i, lab) for i, lab in sorted(before.items()) if lab["truth"] != "UNDETERMINED"
    )
    flipped = "INVALID" if label["truth"] == "VERIFIED" else "VERIFIED"
    manual = tmp_path / "manual.csv"
    manual.write_text(f"item_id,label\n{item},{flipped}\n")
    again = run(cmd(out, "--resume", "--manual-labels", str(manual), n=6, tiers=["FAST"]))
    assert again.returncode == 0, again.stderr
    after = json.loads((out / "labels.json").read_text())["items"]
    assert after[item]["truth"] == flipped and after[item]["method"] == "manual"
    assert after[item]["conflicts"]  # the automatic method disagreed and is counted
    others = {i: lab["truth"] for i, lab in after.items() if i != item}
    assert others == {i: lab["truth"] for i, lab in before.items() if i != item}


def test_relative_output_dir_still_reaches_the_audit_copies(tmp_path: Path) -> None:
    """Regression: checkers run in their own {workdir}, so the audit copies of an auditing
    tier (SLOW) must be written under an absolute path even when --output-dir is relative."""
    args = [
        sys.executable, "-m", "calib_async", "--tiers", "SLOW", "--n", "6",
        "--corpus", "synthetic", "--export", "c.yaml", "--output-dir", "out",
        "--label-sample", "6", "--bootstrap", "0", "--no-report", "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, env=run_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [r for r in records(tmp_path / "out") if r.get("phase") == "telemetry"]
    assert len(rows) == 6
    assert not [r for r in rows if "file not found" in (r.get("first_error") or "")]
    assert {r["outcome"] for r in rows} != {"VERIFIER_ERROR"}
