"""fingerprint_parts.py: --resume extends labelling and never repeats a run; statistics-only
changes run no checker; telemetry-defining changes are refused as before."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from calib_async.checkpoint.fingerprint_parts import resume_refusals, split_fingerprint
from helpers.checkers import calibrate, starts, write_config, write_corpus

TIERS = {
    "LAX": {"timeout_s": 2.0, "verifier": "lax"},
    "STRICT": {"timeout_s": 2.0, "verifier": "strict"},
}


def log_rows(d: Path) -> list[dict]:
    return [json.loads(x) for x in (d / "out" / "telemetry.jsonl").read_text().splitlines()[1:]]


def by_phase(d: Path) -> Counter[str]:
    return Counter(r["phase"] for r in log_rows(d))


def export(d: Path) -> dict:
    return yaml.safe_load((d / "calibration.yaml").read_text())


def test_resume_extends_labels_reuses_runs_and_stats_only_changes_start_no_checker(
    tmp_path: Path,
) -> None:
    corpus = write_corpus(tmp_path, {"valid": 6, "invalid": 6})
    config, started = write_config(tmp_path, tiers=TIERS, consensus=["strict"])

    def run(*extra: str, n: int = 12):  # type: ignore[no-untyped-def]
        return calibrate(tmp_path, config, corpus, *extra, tiers=list(TIERS), n=n)

    first = run("--label-sample", "3", "--validation-split", "0.25")
    assert first.returncode == 0, first.stderr
    phases, launched = by_phase(tmp_path), starts(started)
    assert phases["telemetry"] == 24 and launched == sum(phases.values())
    labelled_before = export(tmp_path)["calibration_metadata"]["labels"]["items"]

    # a larger label sample: every finished run is reused, only label runs are added
    larger = run("--resume", "--label-sample", "12", "--validation-split", "0.25")
    assert larger.returncode == 0, larger.stderr
    after = by_phase(tmp_path)
    assert after["telemetry"] == phases["telemetry"]
    assert after["label"] > phases["label"]
    assert starts(started) - launched == after["label"] - phases["label"]
    keys = [r["task_key"] for r in log_rows(tmp_path)]
    assert len(keys) == len(set(keys))
    meta = export(tmp_path)["calibration_metadata"]
    assert meta["label_sample"] == 12 and meta["labels"]["items"] > labelled_before

    # another consensus profile: only its runs are added
    phases, launched = after, starts(started)
    other = run("--resume", "--label-sample", "12", "--consensus-verifiers", "strict", "strict2")
    assert other.returncode == 0, other.stderr
    added = [r for r in log_rows(tmp_path)[sum(phases.values()) :]]
    assert added and {r["verifier"] for r in added} == {"strict2"}
    assert starts(started) - launched == len(added)

    # statistics only: no checker starts at all, and the export follows the new split
    launched, before = starts(started), by_phase(tmp_path)
    stats = run(
        "--resume", "--label-sample", "12", "--consensus-verifiers", "strict", "strict2",
        "--validation-split", "0.5",
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    assert starts(started) == launched and by_phase(tmp_path) == before
    assert export(tmp_path)["validation_report"]["held_out_items"]["count"] == 6

    # telemetry-defining settings are refused as before, with the same clear message
    refused = run("--resume", "--label-sample", "12", n=6)
    assert refused.returncode == 2
    # one error line (start-up warnings, e.g. a single reference source, may precede it)
    errors = [line for line in refused.stderr.splitlines() if "cannot resume" in line]
    assert len(errors) == 1 and "corpus differs" in errors[0], refused.stderr
    assert "Traceback" not in refused.stderr
    assert starts(started) == launched


def test_validation_split_changed_on_resume_starts_no_checker(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, {"valid": 3, "invalid": 3})
    config, started = write_config(tmp_path, tiers=TIERS, consensus=["strict"])
    assert calibrate(tmp_path, config, corpus, tiers=list(TIERS), n=6).returncode == 0
    launched = starts(started)
    resumed = calibrate(
        tmp_path, config, corpus, "--resume", "--validation-split", "0.3", tiers=list(TIERS), n=6
    )
    assert resumed.returncode == 0, resumed.stderr
    assert starts(started) == launched
    assert export(tmp_path)["calibration_metadata"]["validation_split"] == 0.3


def test_labelling_changes_that_would_reinterpret_finished_runs_are_refused() -> None:
    base = {
        "corpus": {"count": 0, "digest": "d", "items": {}},
        "tiers": {"T": {"verifier": "v"}},
        "verifiers": {"v": {"kind": "command"}},
        "seed": 1, "n": 1, "tool_version": "x", "extra": {"corpus": "custom"},
        "labelling": {
            "label_sample": 5, "label_budget": None, "timeout_multiplier": 10.0,
            "consensus_verifiers": ["c"], "consensus_profiles": {"c": {"command": ["a"]}},
        },
    }  # fmt: skip
    more = json.loads(json.dumps(base))
    more["labelling"].update(label_sample=50, label_budget=99, consensus_verifiers=["c", "d"])
    more["labelling"]["consensus_profiles"]["d"] = {"command": ["b"]}
    assert resume_refusals(base, more) == []
    redefined = json.loads(json.dumps(base))
    redefined["labelling"]["consensus_profiles"]["c"] = {"command": ["other"]}
    assert resume_refusals(base, redefined) == [
        "consensus profile c was redefined; give it a new name"
    ]
    ladder = json.loads(json.dumps(base))
    ladder["labelling"]["timeout_multiplier"] = 20.0
    assert resume_refusals(base, ladder)[0].startswith("--timeout-multiplier: 10.0 -> 20.0")


def test_a_header_from_before_the_split_reads_as_the_same_parts() -> None:
    old = {
        "corpus": {"count": 0, "digest": "d", "items": {}},
        "tiers": {"T": {"verifier": "v"}},
        "verifiers": {"v": {"kind": "command"}, "c": {"command": ["a"]}},
        "seed": 1, "n": 1, "label_sample": 5, "tool_version": "x",
        "extra": {"corpus": "custom", "timeout_multiplier": 10.0, "consensus_verifiers": ["c"]},
    }  # fmt: skip
    telemetry, labelling = split_fingerprint(old)
    assert telemetry["verifiers"] == {"v": {"kind": "command"}}
    assert telemetry["extra"] == {"corpus": "custom"}
    assert labelling["consensus_profiles"] == {"c": {"command": ["a"]}}
    assert labelling["label_sample"] == 5
