"""consensus.py: a tier's ladder settles termination; validity comes from strict checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calib_async.config.schema import CheckerConfig, VerifierConfig
from calib_async.labels.consensus import consensus_ladder, ladder_decides_validity
from calib_async.records import Tier
from helpers.checkers import calibrate, write_config, write_corpus

KINDS = {"valid": 2, "invalid": 2, "slow_invalid": 3}


def labels_of(d: Path) -> dict[str, dict]:
    return json.loads((d / "out" / "labels.json").read_text())["items"]


@pytest.mark.parametrize(
    ("tiers", "strict_timeout_s"),
    [
        # an exit-code-only tier and a strict one; the strict consensus has time enough
        (
            {
                "LAX": {"timeout_s": 0.3, "verifier": "lax"},
                "STRICT": {"timeout_s": 0.3, "verifier": "strict"},
            },
            5.0,
        ),
        # the consensus profile is the only strict check, and it too times out at first:
        # it climbs its own ladder (0.3 s x 2, x 4, x 8) instead of trusting the lax one's
        ({"LAX": {"timeout_s": 0.3, "verifier": "lax"}}, 0.3),
    ],
    ids=["strict-tier-too", "consensus-only-strict"],
)
def test_lax_tier_passing_on_a_longer_ladder_never_labels_an_invalid_item_verified(
    tmp_path: Path, tiers: dict, strict_timeout_s: float
) -> None:
    corpus = write_corpus(tmp_path, KINDS)
    config, _ = write_config(
        tmp_path, tiers=tiers, consensus=["strict"], strict_timeout_s=strict_timeout_s
    )
    done = calibrate(tmp_path, config, corpus, "--timeout-multiplier", "8", tiers=list(tiers), n=7)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "telemetry.jsonl").read_text().splitlines()]
    lax_ladder = [
        r for r in rows[1:] if r["phase"] == "label" and r["tier"] == "LAX" and r["attempt"] > 0
    ]
    # the premise: the exit-code-only tier's ladder passes the slow invalid items
    assert {r["item_id"] for r in lax_ladder if r["outcome"] == "VERIFIED"} == {
        f"slow_invalid{i}" for i in range(3)
    }
    labels = labels_of(tmp_path)
    assert len(labels) == 7
    for item, label in labels.items():
        expected = "VERIFIED" if item.startswith("valid") else "INVALID"
        assert label["truth"] == expected, (item, label)
        assert label["method"] != "extended_timeout"
    # ... and so is every labelled record the statistics use (per-tier labels included)
    sample = json.loads((tmp_path / "out" / "labels.json").read_text())["sample"]
    assert sample
    for entry in sample:
        item = entry["task_key"].split("|")[0]
        assert entry["truth"] == ("VERIFIED" if item.startswith("valid") else "INVALID"), entry


def test_ladder_counts_only_for_a_consensus_profile_with_no_weakening() -> None:
    checker = CheckerConfig(
        verifiers={
            "lean": VerifierConfig(name="lean", kind="lean"),
            "coq": VerifierConfig(name="coq", command=("coqc", "{file}")),
            "coq-lax": VerifierConfig(name="coq-lax", command=("coqc", "{file}")),
        },
        tiers={},
    )
    strict = {"reject_sorry": True, "audit_axioms": True}
    assert ladder_decides_validity(Tier("S", 1, "lean", options=strict), ["lean"], checker)
    fast = Tier("F", 1, "lean", options={"reject_sorry": False, "audit_axioms": False})
    assert not ladder_decides_validity(fast, ["lean"], checker)
    assert not ladder_decides_validity(Tier("S", 1, "lean", options=strict), ["coq"], checker)
    assert ladder_decides_validity(Tier("C", 1, "coq"), ["coq"], checker)
    assert not ladder_decides_validity(
        Tier("C", 1, "coq", args=("-type-in-type",)), ["coq"], checker
    )
    assert not ladder_decides_validity(Tier("C", 1, "coq-lax"), ["coq"], checker)


def test_consensus_ladder_climbs_to_the_top_only() -> None:
    assert consensus_ladder(6.0, 20.0) == pytest.approx([12.0, 20.0])
    assert consensus_ladder(0.3, 2.4) == pytest.approx([0.6, 1.2, 2.4])
    assert consensus_ladder(20.0, 20.0) == []
