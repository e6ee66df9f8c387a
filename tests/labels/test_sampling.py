from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from calib_async.labels.sampling import (
    LABEL_FLOOR,
    Evidence,
    allocate,
    consensus_evidence,
    extended_timeout_evidence,
    label_for,
    label_summary,
    labeled_records,
    labels_needed,
    merge_labels,
    sample_for_labeling,
)
from calib_async.records import LabelMethod, Outcome, TelemetryRecord, Truth
from helpers import make_record


def rec(item: str, tier: str, outcome: str, attempt: int = 0) -> TelemetryRecord:
    return make_record(item, tier, outcome, attempt=attempt, task_key=f"{item}|{tier}|{attempt}")


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 50)), st.integers(0, 300))
def test_allocate_respects_sizes_and_total(sizes: dict[str, int], total: int) -> None:
    alloc = allocate(sizes, total)
    assert all(0 <= alloc[h] <= sizes[h] for h in sizes)
    assert sum(alloc.values()) == min(total, sum(sizes.values()))
    if total >= len([s for s in sizes.values() if s]):
        assert all(alloc[h] >= 1 for h, s in sizes.items() if s)
    if total >= labels_needed(sizes):  # the floor: min(size, 3) for every stratum
        assert all(alloc[h] >= min(s, LABEL_FLOOR) for h, s in sizes.items())


SIZES = {"VERIFIED": 600, "PROOF_INVALID": 300, "VERIFIER_ERROR": 30, "VERIFIER_TIMEOUT": 50}


def _tiered(*tiers: str) -> dict[str, int]:
    return {f"{t}|{o}": n for t in tiers for o, n in SIZES.items()}


def test_allocation_ignores_tier_names_and_order() -> None:
    # regression (issue 13): equal shares in alphabetical order starved the last tier
    for total in (9, 17, 30, 200):
        a = allocate(_tiered("FAST", "SLOW", "ZZZ"), total)
        b = allocate(_tiered("ZZZ", "AAA", "MMM"), total)
        ours = sorted(sum(v for h, v in a.items() if h.startswith(t)) for t in ("FAST", "SLOW"))
        assert max(ours) - min(ours) <= 1
        assert sorted(a.values()) == sorted(b.values())


def test_the_rest_goes_where_the_rates_need_it_neyman() -> None:
    alloc = allocate(_tiered("FAST"), 200)
    assert all(n >= LABEL_FLOOR for n in alloc.values())
    # the 5 % timeout stratum carries both timeout rates: far more than its 5 % share
    assert alloc["FAST|VERIFIER_TIMEOUT"] >= 30
    assert sum(alloc.values()) == 200


def test_a_label_sample_below_the_floor_says_how_many_are_needed() -> None:
    records = [rec(f"i{i}", t, o) for t in ("A", "B") for i, o in enumerate(["VERIFIED"] * 5)]
    records += [rec(f"j{i}", t, "PROOF_INVALID") for t in ("A", "B") for i in range(5)]
    assert labels_needed({"A|VERIFIED": 5, "A|PROOF_INVALID": 5, "B|X": 1}) == 7
    with capture_logs() as logs:
        sample = sample_for_labeling(records, 5, seed=0)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["needed"] == 12 and warnings[0]["label_sample"] == 5
    assert len(sample) == 5 and len({s.stratum for s in sample}) == 4  # one round first
    with capture_logs() as logs:
        sample_for_labeling(records, 12, seed=0)
    assert not [e for e in logs if e["log_level"] == "warning"]


def test_sample_weights_are_horvitz_thompson() -> None:
    records = [rec(f"i{i}", "FAST", "VERIFIED") for i in range(90)]
    records += [rec(f"j{i}", "FAST", "VERIFIER_TIMEOUT") for i in range(10)]
    sample = sample_for_labeling(records, 20, seed=1)
    by = Counter(s.stratum for s in sample)
    assert by == {"FAST|VERIFIED": 10, "FAST|VERIFIER_TIMEOUT": 10}
    weights = {s.stratum: s.weight for s in sample}
    assert weights == {"FAST|VERIFIED": 9.0, "FAST|VERIFIER_TIMEOUT": 1.0}
    # seeded: the same seed gives the same sample
    again = sample_for_labeling(records, 20, seed=1)
    assert [s.record.task_key for s in sample] == [s.record.task_key for s in again]


def test_consensus_majority_confidence_and_ties() -> None:
    ev = consensus_evidence("a", ["VERIFIED", "VERIFIED", "PROOF_INVALID"])
    assert ev.truth is Truth.VERIFIED and abs(ev.confidence - 2 / 3) < 1e-9
    tie = consensus_evidence("a", ["VERIFIED", "PROOF_INVALID"])
    assert tie.truth is Truth.UNDETERMINED
    abstain = consensus_evidence("a", ["VERIFIER_TIMEOUT", "VERIFIER_TIMEOUT"])
    assert abstain.truth is Truth.UNDETERMINED and abstain.votes == {"abstain": 2}
    unanimous = consensus_evidence("a", ["PROOF_INVALID"] * 3 + ["VERIFIER_TIMEOUT"])
    assert unanimous.truth is Truth.INVALID and unanimous.confidence == 1.0


def test_merge_precedence_threshold_and_conflicts() -> None:
    evidence = [
        Evidence("a", LabelMethod.CONSENSUS, Truth.VERIFIED, 1.0),
        Evidence("a", LabelMethod.MANUAL, Truth.INVALID, 1.0),
        Evidence("b", LabelMethod.CONSENSUS, Truth.VERIFIED, 0.67),  # below 0.8
        Evidence("c", LabelMethod.EXTENDED_TIMEOUT, Truth.VERIFIED, 0.9, tier="FAST"),
    ]
    labels = merge_labels(evidence)
    a = labels[("a", None)]
    assert a.truth is Truth.INVALID and a.method is LabelMethod.MANUAL
    assert a.conflicts == ["consensus"]
    assert labels[("b", None)].truth is Truth.UNDETERMINED
    assert label_for(labels, "c", "FAST").truth is Truth.VERIFIED
    assert label_for(labels, "c", "SLOW").truth is Truth.UNDETERMINED
    summary = label_summary(labels)
    assert summary["conflicts"] == 1 and summary["undetermined"] == 2


def test_extended_timeout_evidence_follows_plan_confidences() -> None:
    assert extended_timeout_evidence(rec("a", "FAST", Outcome.VERIFIED)).confidence == 0.9
    assert extended_timeout_evidence(rec("a", "FAST", Outcome.PROOF_INVALID)).truth is Truth.INVALID
    assert extended_timeout_evidence(rec("a", "FAST", Outcome.VERIFIER_TIMEOUT)) is None


def test_labeled_records_inherit_item_label() -> None:
    records = [rec("a", "FAST", "VERIFIED"), rec("b", "FAST", "VERIFIED")]
    sample = sample_for_labeling(records, 10, seed=0)
    labels = merge_labels([Evidence("a", LabelMethod.CONSENSUS, Truth.INVALID, 1.0)])
    out = {lr.record.item_id: lr for lr in labeled_records(sample, labels)}
    assert out["a"].truth is Truth.INVALID and out["a"].weight == 1.0
    assert out["b"].truth is Truth.UNDETERMINED
