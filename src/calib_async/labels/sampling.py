"""Stage 3's pure parts: stratified sampling, the labelling methods' evidence, and merging.

Ground truth is a property of an item (a proof is valid or not whatever the tier), so the
methods label items; the sampled *records* then inherit their item's label.

Methods, in precedence order (the first that decides wins):

1. **manual** — a label file or the interactive labeller; confidence 1.0.
2. **axiom audit** — a consensus run whose ``#print axioms`` output shows ``sorryAx``, a
   ``native_decide`` axiom or any axiom outside the allowlist proves the item INVALID
   (confidence 1.0). A clean audit is not evidence of validity by itself.
3. **consensus** — each consensus profile checks the item (once, then more often for items
   left undetermined: :mod:`calib_async.labels.resolution`); the last rung of each check is
   its verdict; VERIFIED and PROOF_INVALID are votes, other outcomes abstain. The label is
   the majority of the votes cast, with confidence = the agreeing share of votes cast; a tie
   (or no vote) is undetermined.
4. **extended timeout** — the escalation ladder's last attempt for a timed-out record:
   VERIFIED gives VERIFIED (0.9), PROOF_INVALID gives INVALID (0.8); used
   only when the tier's check is at least as strict as the consensus
   (:func:`calib_async.labels.consensus.ladder_decides_validity`): a ladder otherwise settles
   termination, not validity.

A method's label is used only when its confidence is at least the threshold, 0.8.
Items where two deciding methods disagree are counted as conflicts in the export.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from calib_async.records import (
    ItemLabel,
    LabeledRecord,
    LabelMethod,
    Outcome,
    TelemetryRecord,
    Truth,
)

log = structlog.get_logger(__name__)

CONFIDENCE_THRESHOLD = 0.8
PRECEDENCE = (
    LabelMethod.MANUAL,
    LabelMethod.AXIOM_AUDIT,
    LabelMethod.CONSENSUS,
    LabelMethod.EXTENDED_TIMEOUT,
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One method's opinion about one item (optionally for one tier only)."""

    item_id: str
    method: LabelMethod
    truth: Truth
    confidence: float
    tier: str | None = None
    votes: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class SampledRecord:
    record: TelemetryRecord
    stratum: str
    weight: float  # N_h / n_h


def stratum_of(record: TelemetryRecord) -> str:
    return f"{record.tier}|{record.outcome}"


#: Labels every non-empty (tier, outcome) stratum gets before any other allocation.
LABEL_FLOOR = 3

#: Event outcome sets of the exported conditional rates (calib_async.stats.rates); the
#: timeout set counts twice (timeout given valid, timeout given invalid).
_RATE_EVENTS: tuple[frozenset[str], ...] = (
    frozenset({Outcome.PROOF_INVALID, Outcome.MEMORY_LIMIT_EXCEEDED, Outcome.VERIFIER_ERROR}),
    frozenset({Outcome.VERIFIER_TIMEOUT}),
    frozenset({Outcome.VERIFIER_TIMEOUT}),
    frozenset({Outcome.VERIFIED}),
)


def labels_needed(sizes: Mapping[str, int], floor: int = LABEL_FLOOR) -> int:
    """Labels the floor needs: min(size, floor) for every non-empty stratum."""
    return sum(min(size, floor) for size in sizes.values() if size > 0)


def training_floor(validation_split: float) -> int:
    """The per-stratum floor that leaves about LABEL_FLOOR labels on the training side: the
    held-out items take their share of every stratum, so the floor is LABEL_FLOOR / (1 - the
    held-out fraction), rounded up (4 at the default 0.2)."""
    return math.ceil(LABEL_FLOOR / max(1.0 - validation_split, 1e-9) - 1e-9)


def neyman_scores(sizes: Mapping[str, int]) -> dict[str, float]:
    """Neyman allocation scores N_h S_h of strata named ``"tier|outcome"`` (see allocate)."""
    tiers: dict[str, dict[str, int]] = defaultdict(dict)
    for h, size in sizes.items():
        if size > 0:
            tier, _, _ = h.rpartition("|")
            tiers[tier][h] = size
    scores: dict[str, float] = {}
    for members in tiers.values():
        total = sum(members.values())
        outcome = {h: h.rpartition("|")[2] for h in members}
        weight = dict.fromkeys(members, 0.0)
        for events in _RATE_EVENTS:
            n_event = sum(size for h, size in members.items() if outcome[h] in events)
            if n_event == 0:
                continue
            share = n_event / total
            for h in members:
                c = 1.0 - share if outcome[h] in events else share
                weight[h] += (c / n_event) ** 2
        for h, size in members.items():
            scores[h] = size * math.sqrt(weight[h]) if weight[h] > 0 else size / total
    return scores


def _tiebreak(h: str) -> str:
    """Order among exact ties that does not follow names (no alphabetical bias)."""
    return hashlib.sha256(h.encode()).hexdigest()


def allocate(sizes: Mapping[str, int], total: int, *, floor: int = LABEL_FLOOR) -> dict[str, int]:
    """How many records to label per stratum (keys ``"tier|outcome"``).

    1. **Floor.** Every non-empty stratum first gets min(its size, ``LABEL_FLOOR``) labels, so
       that no rate rests on a starved stratum. If ``total`` is below that need
       (:func:`labels_needed`), the floor is handed out in rounds of one label per stratum,
       the strata with the highest Neyman score first in each round.
    2. **Neyman allocation for the rest**, capped by each stratum's size: the final
       allocation is ``n_h = clip(lambda N_h S_h, floor_h, N_h)`` with lambda fixed by the
       total, rounded by largest remainder.

    Why Neyman and which S_h: the conditional rates are stratified ratios
    ``R = sum_{h in E} N_h p_h / sum_h N_h p_h``; linearised, ``var(R)`` is
    ``sum_h N_h^2 c_h^2 p_h (1 - p_h) / n_h / B^2`` with ``c_h = 1 - R`` for an event stratum
    and ``R`` otherwise. Before labelling p_h is unknown, so the design takes its worst case
    p_h = 1/2 and R at the tier's share of event outcomes, N_E / N. Summing the *relative*
    variances var(R) / R^2 of the four rates of every tier gives ``S_h^2 = sum_E c_h^2 /
    N_E^2``, and the allocation minimising that sum for a fixed total is Neyman's
    ``n_h ∝ N_h S_h``. Proportional allocation would give a 5 % timeout stratum 5 % of the
    labels although the timeout rates rest on it alone; equal shares waste labels on
    strata that every rate weighs little. Relative variance makes tiers count equally,
    whatever their names or order; exact ties are broken by a hash of the stratum name.
    Keys without ``|`` or with an unknown outcome get proportional scores within their tier.
    """
    alloc = dict.fromkeys(sizes, 0)
    live = [h for h, size in sizes.items() if size > 0]
    remaining = min(max(int(total), 0), sum(sizes[h] for h in live))
    scores = neyman_scores({h: sizes[h] for h in live})
    order = sorted(live, key=lambda h: (-scores[h], _tiebreak(h)))
    for level in range(floor):
        for h in order:
            if remaining and alloc[h] == level and sizes[h] > level:
                alloc[h] += 1
                remaining -= 1
    if remaining == 0:
        return alloc
    floors = {h: alloc[h] for h in live}
    target = _water_fill(
        scores, floors, {h: sizes[h] for h in live}, sum(floors.values()) + remaining
    )
    base = {h: max(floors[h], math.floor(target[h])) for h in live}
    left = sum(floors.values()) + remaining - sum(base.values())
    by_remainder = sorted(
        (h for h in live if base[h] < sizes[h]),
        key=lambda h: (-(target[h] - base[h]), -scores[h], _tiebreak(h)),
    )
    for h in by_remainder[:left]:
        base[h] += 1
    alloc.update(base)
    return alloc


def _water_fill(
    scores: Mapping[str, float], low: Mapping[str, int], high: Mapping[str, int], total: int
) -> dict[str, float]:
    """Continuous ``clip(lambda * score, low, high)`` summing to ``total`` (bisection)."""

    def fill(lam: float) -> dict[str, float]:
        return {h: min(max(lam * s, low[h]), high[h]) for h, s in scores.items()}

    lo, hi = 0.0, 1.0
    while sum(fill(hi).values()) < total and hi < 1e18:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if sum(fill(mid).values()) < total:
            lo = mid
        else:
            hi = mid
    return fill(hi)


def sample_for_labeling(
    records: Sequence[TelemetryRecord], total: int, seed: int, *, validation_split: float = 0.0
) -> list[SampledRecord]:
    """A seeded sample stratified by (tier, observed outcome), with Horvitz–Thompson weights.

    Nested: each stratum's records are put in one seeded order (its own generator, seeded by
    ``seed`` and the stratum) and the first ``k`` are taken, and :func:`allocate` never gives a
    stratum less for a larger ``total``; so a larger ``--label-sample`` labels a superset of
    the records a smaller one labelled, and ``--resume`` only adds label runs.
    Linear in the number of records, up to the sort. When
    ``total`` is below the floor's need (:func:`labels_needed`), one warning says how many are
    needed.
    """
    by_stratum: dict[str, list[TelemetryRecord]] = defaultdict(list)
    for record in records:
        by_stratum[stratum_of(record)].append(record)
    sizes = {h: len(rs) for h, rs in by_stratum.items()}
    floor = training_floor(validation_split)  # the floor applies to the training items
    needed = labels_needed(sizes, floor)
    if total < needed:
        log.warning(
            "label sample below the per-stratum floor; some rates will be low_labels or "
            "only bounded",
            label_sample=total,
            needed=needed,
            strata=len(sizes),
            floor=floor,
        )
    alloc = allocate(sizes, total, floor=floor)
    sampled: list[SampledRecord] = []
    for h in sorted(by_stratum):
        k = alloc[h]
        if k == 0:
            continue
        members = sorted(by_stratum[h], key=lambda r: r.task_key)
        random.Random(f"calib-async-label-sample-{seed}-{h}").shuffle(members)
        weight = len(by_stratum[h]) / k
        for record in members[:k]:
            sampled.append(SampledRecord(record=record, stratum=h, weight=weight))
    return sampled


def consensus_evidence(item_id: str, outcomes: Iterable[str]) -> Evidence:
    """Majority vote over the consensus runs of one item."""
    votes: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome == Outcome.VERIFIED:
            votes[Truth.VERIFIED.value] += 1
        elif outcome == Outcome.PROOF_INVALID:
            votes[Truth.INVALID.value] += 1
        else:
            votes["abstain"] += 1
    valid, invalid = votes[Truth.VERIFIED.value], votes[Truth.INVALID.value]
    cast = valid + invalid
    if cast == 0 or valid == invalid:
        truth, confidence = Truth.UNDETERMINED, 0.0 if cast == 0 else 0.5
    elif valid > invalid:
        truth, confidence = Truth.VERIFIED, valid / cast
    else:
        truth, confidence = Truth.INVALID, invalid / cast
    return Evidence(item_id, LabelMethod.CONSENSUS, truth, confidence, votes=dict(votes))


def axiom_evidence(
    item_id: str, audited: Iterable[Sequence[str] | None], allowlist: Sequence[str]
) -> Evidence | None:
    """INVALID when any audit printed a forbidden axiom; otherwise no evidence."""
    from calib_async.checkers.lean.profile import forbidden_axioms

    for axioms in audited:
        if axioms and forbidden_axioms(list(axioms), list(allowlist)):
            return Evidence(item_id, LabelMethod.AXIOM_AUDIT, Truth.INVALID, 1.0)
    return None


def extended_timeout_evidence(final: TelemetryRecord) -> Evidence | None:
    """What the last attempt of an escalation ladder says about its item (for its tier)."""
    if final.outcome == Outcome.VERIFIED:
        return Evidence(
            final.item_id, LabelMethod.EXTENDED_TIMEOUT, Truth.VERIFIED, 0.9, final.tier
        )
    if final.outcome == Outcome.PROOF_INVALID:
        return Evidence(final.item_id, LabelMethod.EXTENDED_TIMEOUT, Truth.INVALID, 0.8, final.tier)
    return None


def merge_labels(
    evidence: Iterable[Evidence], *, threshold: float = CONFIDENCE_THRESHOLD
) -> dict[tuple[str, str | None], ItemLabel]:
    """The last node of the labelling DAG: one label per item (and per tier where a method
    labelled per tier). Keys are ``(item_id, None)`` for item-wide labels and
    ``(item_id, tier)`` for tier-specific ones; use :func:`label_for` to look one up.
    """
    grouped: dict[str, list[Evidence]] = defaultdict(list)
    for ev in evidence:
        grouped[ev.item_id].append(ev)
    labels: dict[tuple[str, str | None], ItemLabel] = {}
    for item_id, evs in grouped.items():
        tiers = sorted({ev.tier for ev in evs if ev.tier is not None})
        for tier in (None, *tiers):
            relevant = [ev for ev in evs if ev.tier is None or ev.tier == tier]
            labels[(item_id, tier)] = _merge_one(item_id, tier, relevant, threshold)
    return labels


def _merge_one(item_id: str, tier: str | None, evs: list[Evidence], threshold: float) -> ItemLabel:
    deciding = [
        ev for ev in evs if ev.truth is not Truth.UNDETERMINED and ev.confidence >= threshold
    ]
    deciding.sort(key=lambda ev: PRECEDENCE.index(ev.method))
    votes = {}
    for ev in evs:
        if ev.method is LabelMethod.CONSENSUS and ev.votes:
            votes = dict(ev.votes)
    if not deciding:
        return ItemLabel(item_id, Truth.UNDETERMINED, LabelMethod.UNKNOWN, 0.0, tier, votes)
    winner = deciding[0]
    conflicts = sorted({ev.method.value for ev in deciding if ev.truth != winner.truth})
    return ItemLabel(
        item_id, winner.truth, winner.method, winner.confidence, tier, votes, conflicts
    )


def label_for(
    labels: Mapping[tuple[str, str | None], ItemLabel], item_id: str, tier: str
) -> ItemLabel | None:
    return labels.get((item_id, tier)) or labels.get((item_id, None))


def labeled_records(
    sample: Sequence[SampledRecord], labels: Mapping[tuple[str, str | None], ItemLabel]
) -> list[LabeledRecord]:
    """The sampled records with their item's merged label (UNDETERMINED where none)."""
    out = []
    for s in sample:
        label = label_for(labels, s.record.item_id, s.record.tier)
        if label is None:
            truth, method, conf = Truth.UNDETERMINED, LabelMethod.UNKNOWN, 0.0
        else:
            truth, method, conf = label.truth, label.method, label.confidence
        out.append(LabeledRecord(s.record, truth, method, conf, s.stratum, s.weight))
    return out


def label_summary(
    labels: Mapping[tuple[str, str | None], ItemLabel],
    reasons: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """Counts for the export: by method, by truth, conflicts, undetermined (and why, when
    ``reasons`` maps each undetermined item to its reason)."""
    item_labels = [lab for (item, tier), lab in labels.items() if tier is None]
    by_method = Counter(lab.method.value for lab in item_labels)
    by_truth = Counter(lab.truth.value for lab in item_labels)
    conflicts = Counter(m for lab in labels.values() for m in lab.conflicts)
    return {
        "items": len(item_labels),
        "by_method": dict(sorted(by_method.items())),
        "by_truth": dict(sorted(by_truth.items())),
        "conflicts": sum(1 for lab in labels.values() if lab.conflicts),
        "conflicts_by_method": dict(sorted(conflicts.items())),
        "undetermined": by_truth.get(Truth.UNDETERMINED.value, 0),
        "undetermined_by_reason": dict(sorted(Counter((reasons or {}).values()).items())),
        "confidence_threshold": CONFIDENCE_THRESHOLD,
    }
