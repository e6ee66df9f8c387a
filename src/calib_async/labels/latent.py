"""The reference's own error: a two-class latent-class model (Dawid–Skene) of the votes.

Every labelled item has a latent truth T (valid or invalid). Each *source* j (a consensus
profile, or several profiles declared to share their errors: ``error_family``) casts votes
on it: one per consensus run that reached a verdict, so repeats give several votes. Given T,
votes are independent, with

* ``sensitivity[j]`` = P(vote VERIFIED | T valid),
* ``specificity[j]`` = P(vote INVALID | T invalid),
* ``prevalence`` = P(T valid) among the labelled items.

This is Dawid and Skene's (1979) model restricted to two classes, with repeated labels by the
same source allowed as in their paper. It is fitted by EM over distinct vote patterns, with
prior pseudo-votes per source (:data:`PSEUDO_RIGHT`, :data:`PSEUDO_WRONG`: a reference is
presumed better than a coin; a source that never errs gets an error rate near
1 / (votes + 5), not 0). Gold evidence (a manual label, a failed axiom
audit) fixes the item's truth.

The posterior P(T valid | votes) under the fitted model is the label's confidence.

**What the data identify.** With ``s`` sources, the vote patterns of items voted on once
by each have ``2^s - 1`` degrees of freedom and the model ``2 s + 1`` parameters: three
sources are the least that identify the error rates (then exactly, so conditional
independence itself cannot be tested). Repeats of one source identify only its *per-run*
error (its flips): an item it gets wrong every time looks like an item it gets right. So
the error is called identified only with at least :data:`MIN_SOURCES` sources each voting on
at least :data:`MIN_SOURCE_ITEMS` items; otherwise the rates that rest on the labels are
``unverified_labels`` (``calib_async.stats.rates``). Shared errors between sources declared
independent are not visible in the votes either; declare such profiles one
``error_family``.

**Uncertainty.** :func:`bootstrap_models` refits the model on items resampled with
replacement; the statistics draw each labelled item's truth from its posterior under each
refit (multiple imputation), which carries the error rates' uncertainty into every rate.

Pure Python: stage 3 runs it for the labels' confidences without numpy.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from calib_async.records import Truth

#: Independent sources needed before the reference's error counts as identified.
MIN_SOURCES = 3
#: Items a source must have voted on to count towards MIN_SOURCES.
MIN_SOURCE_ITEMS = 10
#: Prior pseudo-votes per source and class: right and wrong (a Beta(5, 2) prior, mode 0.8:
#: a reference is presumed better than a coin, and one that never errs in the data gets an
#: error rate near 1 / (votes + 5), not 0). Negligible once a source has cast 100 votes.
PSEUDO_RIGHT = 4.0
PSEUDO_WRONG = 1.0
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ItemEvidence:
    """One item's evidence: votes per source as (VERIFIED, INVALID) and gold truth if any."""

    votes: tuple[tuple[str, int, int], ...] = ()
    gold: Truth | None = None

    @staticmethod
    def of(votes: Mapping[str, tuple[int, int]], gold: Truth | None = None) -> ItemEvidence:
        kept = tuple(sorted((s, int(v), int(i)) for s, (v, i) in votes.items() if v + i > 0))
        return ItemEvidence(kept, gold if gold is not Truth.UNDETERMINED else None)

    @property
    def informative(self) -> bool:
        return bool(self.votes) or self.gold is not None


@dataclass(frozen=True, slots=True)
class ReferenceModel:
    """Fitted error rates of every source and the prevalence of valid items."""

    prevalence: float
    sensitivity: Mapping[str, float]
    specificity: Mapping[str, float]

    def posterior_valid(self, ev: ItemEvidence) -> float:
        """P(valid | the item's evidence); the prevalence for an item without evidence."""
        if ev.gold is Truth.VERIFIED:
            return 1.0
        if ev.gold is Truth.INVALID:
            return 0.0
        lv = math.log(max(self.prevalence, _EPS))
        li = math.log(max(1.0 - self.prevalence, _EPS))
        for source, v, i in ev.votes:
            se = min(max(self.sensitivity.get(source, 0.5), _EPS), 1 - _EPS)
            sp = min(max(self.specificity.get(source, 0.5), _EPS), 1 - _EPS)
            lv += v * math.log(se) + i * math.log(1 - se)
            li += v * math.log(1 - sp) + i * math.log(sp)
        m = max(lv, li)
        ev_, ei = math.exp(lv - m), math.exp(li - m)
        return ev_ / (ev_ + ei)

    def to_export(self) -> dict[str, object]:
        return {
            "prevalence": self.prevalence,
            "sensitivity": dict(sorted(self.sensitivity.items())),
            "specificity": dict(sorted(self.specificity.items())),
        }


@dataclass(frozen=True, slots=True)
class Identification:
    """Whether the votes identify the reference's error, and why not."""

    identified: bool
    sources: tuple[str, ...]  # sources with at least MIN_SOURCE_ITEMS items voted on
    reason: str | None = None
    repeats: bool = False  # some source voted more than once on an item (flips measurable)


def identification(evidence: Iterable[ItemEvidence]) -> Identification:
    """Identified with at least MIN_SOURCES sources each voting on MIN_SOURCE_ITEMS items."""
    per_source: Counter[str] = Counter()
    repeats = False
    for ev in evidence:
        for source, v, i in ev.votes:
            per_source[source] += 1
            repeats = repeats or v + i > 1
        if ev.gold is not None:
            per_source["gold"] += 1
    sources = tuple(sorted(s for s, n in per_source.items() if n >= MIN_SOURCE_ITEMS))
    if len(sources) >= MIN_SOURCES:
        return Identification(True, sources, repeats=repeats)
    if not sources:
        reason = "no consensus source voted on enough items"
    elif len(sources) == 1 and repeats:
        reason = (
            f"one reference source ({sources[0]}): its repeats measure its flips, not an "
            "error it makes on the same items every time"
        )
    elif len(sources) == 1:
        reason = f"one reference source ({sources[0]}) voting once per item"
    else:
        reason = f"{len(sources)} independent reference sources; {MIN_SOURCES} are needed"
    return Identification(False, sources, reason, repeats)


_Pattern = ItemEvidence


def _patterns(evidence: Iterable[ItemEvidence]) -> Counter[_Pattern]:
    return Counter(ev for ev in evidence if ev.informative)


def _majority(ev: ItemEvidence) -> float:
    if ev.gold is not None:
        return 1.0 if ev.gold is Truth.VERIFIED else 0.0
    v = sum(x for _, x, _ in ev.votes)
    i = sum(y for _, _, y in ev.votes)
    return (v + 0.5) / (v + i + 1.0)


def _m_step(weights: Mapping[_Pattern, float], q: Mapping[_Pattern, float]) -> ReferenceModel:
    total = sum(weights.values())
    prevalence = sum(w * q[p] for p, w in weights.items()) / total if total else 0.5
    tv: defaultdict[str, float] = defaultdict(float)
    nv: defaultdict[str, float] = defaultdict(float)
    ti: defaultdict[str, float] = defaultdict(float)
    ni: defaultdict[str, float] = defaultdict(float)
    for p, w in weights.items():
        for source, v, i in p.votes:
            tv[source] += w * q[p] * v
            nv[source] += w * q[p] * (v + i)
            ti[source] += w * (1 - q[p]) * i
            ni[source] += w * (1 - q[p]) * (v + i)
    sources = set(nv) | set(ni)
    prior = PSEUDO_RIGHT + PSEUDO_WRONG
    se = {s: (tv[s] + PSEUDO_RIGHT) / (nv[s] + prior) for s in sources}
    sp = {s: (ti[s] + PSEUDO_RIGHT) / (ni[s] + prior) for s in sources}
    prevalence = min(max(prevalence, 1e-6), 1 - 1e-6)
    return ReferenceModel(prevalence, se, sp)


def _em(
    weights: Mapping[_Pattern, float],
    start: ReferenceModel | None,
    *,
    max_iter: int,
    tol: float,
) -> ReferenceModel:
    model = _m_step(weights, {p: _majority(p) for p in weights}) if start is None else start
    for _ in range(max_iter):
        q = {p: model.posterior_valid(p) for p in weights}
        new = _m_step(weights, q)
        change = abs(new.prevalence - model.prevalence) + sum(
            abs(new.sensitivity[s] - model.sensitivity.get(s, 0.5))
            + abs(new.specificity[s] - model.specificity.get(s, 0.5))
            for s in new.sensitivity
        )
        model = new
        if change < tol:
            break
    return model


def fit_reference_model(
    evidence: Iterable[ItemEvidence], *, max_iter: int = 500, tol: float = 1e-9
) -> ReferenceModel:
    """EM fit (started from the majority vote) over the items with evidence."""
    weights = {p: float(n) for p, n in _patterns(evidence).items()}
    return _em(weights, None, max_iter=max_iter, tol=tol)


def bootstrap_models(
    evidence: Sequence[ItemEvidence],
    draws: int,
    seed: int,
    *,
    start: ReferenceModel | None = None,
    max_iter: int = 100,
) -> list[ReferenceModel]:
    """``draws`` refits on items resampled with replacement (seeded; warm-started)."""
    informative = [ev for ev in evidence if ev.informative]
    if not informative:
        return []
    start = start or fit_reference_model(informative)
    rng = random.Random(f"calib-async-reference-bootstrap-{seed}")
    out = []
    for _ in range(draws):
        sample = Counter(rng.choices(informative, k=len(informative)))
        weights = {p: float(n) for p, n in sample.items()}
        out.append(_em(weights, start, max_iter=max_iter, tol=1e-6))
    return out
