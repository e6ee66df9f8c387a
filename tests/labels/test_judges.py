"""A checker is never silently its own judge; profiles of one error family are one source."""

from __future__ import annotations

from dataclasses import replace

from calib_async.checkers.lean import default_lean_config
from calib_async.checkers.simulated import default_synthetic_config
from calib_async.config.schema import load_checker_config
from calib_async.labels.judges import item_votes, own_judge_tiers
from calib_async.profiles import CheckerConfig, VerifierConfig
from helpers import EXAMPLES, make_record


def _tiers(checker: CheckerConfig) -> dict[str, str]:
    return {name: t.verifier for name, t in checker.tiers.items()}


def test_default_lean_consensus_is_the_tiers_own_check() -> None:
    checker = default_lean_config()
    own = own_judge_tiers(_tiers(checker), checker.consensus_verifiers, checker)
    assert set(own) == {"FAST", "BALANCED", "SLOW"}
    assert "its own judge" in own["FAST"]


def test_a_copy_of_the_tiers_profile_under_another_name_is_still_its_own_judge() -> None:
    checker = default_lean_config()
    twin = replace(checker.verifiers["lean"], name="lean2", options={"timeout_s": 300})
    checker = replace(checker, verifiers={**checker.verifiers, "lean2": twin})
    assert set(own_judge_tiers(_tiers(checker), ("lean2",), checker)) == set(checker.tiers)


def test_the_shipped_coq_example_has_a_stronger_reference() -> None:
    checker = load_checker_config(EXAMPLES / "coq.yaml", default_lean_config())
    assert checker.consensus_verifiers == ("coqc-audit",)
    assert own_judge_tiers(_tiers(checker), checker.consensus_verifiers, checker) == {}


def test_synthetic_reference_profiles_are_not_the_tiers_check() -> None:
    checker = default_synthetic_config()
    assert own_judge_tiers(_tiers(checker), checker.consensus_verifiers, checker) == {}


def test_votes_are_grouped_by_error_family() -> None:
    checker = default_synthetic_config()
    family = {"error_family": "sim"}
    verifiers = {
        n: replace(v, options={**v.options, **family}) if n.startswith("sim-reference") else v
        for n, v in checker.verifiers.items()
    }
    grouped = replace(checker, verifiers=verifiers)
    chains = {
        ("sim-reference-a", 0): [make_record(outcome="VERIFIED")],
        ("sim-reference-b", 0): [make_record(outcome="PROOF_INVALID")],
        ("sim-reference-c", 0): [make_record(outcome="VERIFIER_TIMEOUT")],  # abstains
    }
    assert item_votes(chains, checker).votes == (
        ("sim-reference-a", 1, 0),
        ("sim-reference-b", 0, 1),
    )
    assert item_votes(chains, grouped).votes == (("sim", 1, 1),)


def test_unknown_profiles_are_ignored() -> None:
    checker = CheckerConfig(verifiers={"a": VerifierConfig(name="a", command=("x",))}, tiers={})
    assert own_judge_tiers({"T": "ghost"}, ("a",), checker) == {}
