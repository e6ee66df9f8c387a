"""Fingerprints of a run: what differs between two, order and round trip, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from calib_async.checkers.simulated import default_synthetic_config
from calib_async.checkpoint.fingerprint import diff_fingerprints, make_fingerprint
from calib_async.checkpoint.opening import prepare_log
from helpers.checkpoint_log import fingerprint, items

# ---------------------------------------------------------------------------------------------
# Fingerprint


def test_identical_fingerprints_have_no_differences() -> None:
    assert diff_fingerprints(fingerprint(), fingerprint()) == []


def test_fingerprint_diff_names_the_corpus_change() -> None:
    old = fingerprint(corpus=items(3))
    new = fingerprint(corpus=items(5, changed=1))
    assert diff_fingerprints(old, new) == [
        "corpus differs: 2 items added, 1 item changed (e.g. added: M.t3, M.t4; changed: M.t1)"
    ]


def test_fingerprint_diff_names_tier_and_verifier_settings() -> None:
    config = default_synthetic_config()
    base = {
        "items": items(),
        "seed": 1,
        "n": 3,
        "label_sample": 2,
        "tool_version": "0.1.0",
    }
    old = make_fingerprint(tiers={"FAST": config.tiers["FAST"]}, verifiers=config.verifiers, **base)
    slow_fast = config.tiers["SLOW"].__class__(name="FAST", timeout_s=0.75, verifier="simulated")
    verifiers = dict(config.verifiers)
    verifiers["simulated"] = verifiers["simulated"].__class__(
        name="simulated", kind="simulated", options={"precision": "x"}
    )
    new = make_fingerprint(
        tiers={"FAST": slow_fast}, verifiers=verifiers, **{**base, "tool_version": "0.2.0"}
    )
    diffs = diff_fingerprints(old, new)
    assert "tier FAST: timeout_s: 0.5 -> 0.75" in diffs
    assert "verifier simulated: options.precision: (absent) -> 'x'" in diffs
    assert "tool version: '0.1.0' -> '0.2.0'" in diffs


def test_fingerprint_ignores_tier_order_and_survives_a_round_trip(tmp_path: Path) -> None:
    assert (
        diff_fingerprints(fingerprint(tiers=("FAST", "SLOW")), fingerprint(tiers=("SLOW", "FAST")))
        == []
    )
    path = tmp_path / "t.jsonl"
    prepare_log(path, fingerprint(tiers=("FAST", "SLOW")), resume=False, fresh=False)
    prepare_log(path, fingerprint(tiers=("SLOW", "FAST")), resume=True, fresh=False)


def test_fingerprint_rejects_a_tier_without_its_profile() -> None:
    config = default_synthetic_config()
    with pytest.raises(ValueError, match="uses verifier 'simulated', not given"):
        make_fingerprint(
            items=[], tiers=config.tiers, verifiers={}, seed=1, n=1, label_sample=1,
            tool_version="x",
        )  # fmt: skip
