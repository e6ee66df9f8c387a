"""Label-error scenarios of the recovery study: references that are checkers too (issue 26).

The simulation of ``calib_async.stats.simulate`` labels every sampled run with its true
truth; here a simulated reference replaces that with *votes*, wrong in one of three ways:

* ``random``: every vote is wrong with probability ``p_wrong`` (a flaky reference), drawn
  afresh per run (``p_wrong`` may be a range: each run draws its own error rate in it);
* ``fixed``: each profile is wrong on its own set of items (each item with probability
  ``p_wrong``), on every run (a deterministic reference with blind spots);
* ``shared``: every profile is wrong on one common set of items, on every run.

The labelled items get the votes as evidence (``calib_async.labels.latent.ItemEvidence``),
their label the majority vote, and the rates are computed as the pipeline does: error model
fitted, rates corrected by imputation (``calib_async.stats.label_error``), status
``unverified_labels`` where the votes do not identify the reference's error. ``one_family``
declares the profiles one error source (the README's ``error_family``), as profiles of one
checker are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calib_async.labels.latent import ItemEvidence
from calib_async.records import LabeledRecord, LabelMethod, Truth
from calib_async.stats.label_error import LabelErrorModel
from calib_async.stats.rates import binomial_rate
from calib_async.stats.record_arrays import OUTCOMES, TIMEOUT_CODE, to_columns
from calib_async.stats.scenarios import RATES, ScenarioResult
from calib_async.stats.simulate import SimModel, simulate
from calib_async.stats.soft_rates import conditional_rates


@dataclass(frozen=True, slots=True)
class ReferenceSim:
    """How the simulated reference votes (module docstring)."""

    profiles: int = 1
    repeats: int = 1
    p_wrong: tuple[float, float] = (0.10, 0.10)  # per run (random) or per item (fixed, shared)
    mode: str = "random"  # random | fixed | shared
    one_family: bool = False


#: label error only: every sampled timeout gets votes too
_NO_UNDETERMINED = SimModel(p_undetermined_timeout=0.0)


@dataclass(frozen=True, slots=True)
class LabelErrorScenario:
    name: str
    description: str
    reference: ReferenceSim
    items: int = 1000
    labels_per_tier: int = 300
    model: SimModel = dataclasses.field(
        default_factory=lambda: SimModel(p_undetermined_timeout=0.0)
    )


LABEL_ERROR_SCENARIOS: dict[str, LabelErrorScenario] = {
    s.name: s
    for s in (
        LabelErrorScenario(
            "one_random", "one profile, wrong at random on 10 % of runs", ReferenceSim()
        ),
        LabelErrorScenario(
            "one_random_repeats",
            "one profile, wrong at random on 10 % of runs, 3 runs per item",
            ReferenceSim(repeats=3),
        ),
        LabelErrorScenario(
            "one_fixed",
            "one profile, wrong on the same 10 % of items every time (3 runs per item)",
            ReferenceSim(repeats=3, mode="fixed"),
        ),
        LabelErrorScenario(
            "three_independent",
            "three independent profiles, each wrong at random on 10 % of runs",
            ReferenceSim(profiles=3),
        ),
        LabelErrorScenario(
            "three_independent_fixed",
            "three independent profiles, each wrong on its own 10 % of items",
            ReferenceSim(profiles=3, mode="fixed"),
        ),
        LabelErrorScenario(
            "three_shared",
            "three profiles of one checker, wrong on the same 10 % of items (one family)",
            ReferenceSim(profiles=3, mode="shared", one_family=True),
        ),
        LabelErrorScenario(
            "three_shared_undeclared",
            "three profiles wrong on the same 10 % of items, declared independent "
            "(not identifiable: shows the limit)",
            ReferenceSim(profiles=3, mode="shared"),
        ),
        LabelErrorScenario(
            "scale_10k",
            "10 000 items, one randomised reference wrong 2-5 % per run (issue 26's case)",
            ReferenceSim(p_wrong=(0.02, 0.05)),
            items=10000,
            labels_per_tier=330,
        ),
        LabelErrorScenario(
            "scale_10k_three",
            "10 000 items, three randomised references wrong 2-5 % per run",
            ReferenceSim(profiles=3, p_wrong=(0.02, 0.05)),
            items=10000,
            labels_per_tier=330,
        ),
    )
}


def reference_votes(
    labeled: Sequence[LabeledRecord], ref: ReferenceSim, rng: np.random.Generator
) -> tuple[list[LabeledRecord], dict[str, ItemEvidence]]:
    """Votes for every determined labelled item; labels become the majority vote."""
    truth = {lr.record.item_id: lr.truth for lr in labeled if lr.truth is not Truth.UNDETERMINED}
    ids = sorted(truth)
    lo, hi = ref.p_wrong
    shared = rng.random(len(ids)) < lo if ref.mode == "shared" else None
    evidence: dict[str, ItemEvidence] = {}
    majority: dict[str, Truth] = {}
    fixed = [rng.random(len(ids)) < lo for _ in range(ref.profiles)]
    for n, item in enumerate(ids):
        valid = truth[item] is Truth.VERIFIED
        votes: dict[str, tuple[int, int]] = {}
        for j in range(ref.profiles):
            v = i = 0
            for _ in range(ref.repeats):
                if ref.mode == "random":
                    wrong = rng.random() < rng.uniform(lo, hi)
                elif ref.mode == "fixed":
                    wrong = bool(fixed[j][n])
                else:
                    wrong = bool(shared[n]) if shared is not None else False
                says_valid = valid != wrong
                v, i = v + says_valid, i + (not says_valid)
            source = "reference" if ref.one_family else f"reference-{j}"
            pv, pi = votes.get(source, (0, 0))
            votes[source] = (pv + v, pi + i)
        evidence[item] = ItemEvidence.of(votes)
        total_v = sum(v for v, _ in votes.values())
        total_i = sum(i for _, i in votes.values())
        majority[item] = (
            Truth.VERIFIED
            if total_v > total_i
            else Truth.INVALID
            if total_i > total_v
            else Truth.UNDETERMINED
        )
    out = []
    for lr in labeled:
        t = majority.get(lr.record.item_id)
        if t is None:
            out.append(lr)
        else:
            out.append(dataclasses.replace(lr, truth=t, method=LabelMethod.CONSENSUS))
    return out, evidence


def run_label_error_scenario(
    scenario: LabelErrorScenario, reps: int, rng: np.random.Generator, *, seed: int = 0
) -> ScenarioResult:
    """``reps`` simulated label sets scored against the truth (rates on all records)."""
    model = scenario.model
    out = ScenarioResult(truth=model.truth())
    names = [t.name for t in model.tiers]
    for r in range(reps):
        telemetry, labeled = simulate(model, scenario.items, scenario.labels_per_tier, rng)
        labeled, evidence = reference_votes(labeled, scenario.reference, rng)
        cols = to_columns(telemetry, labeled, names)
        error_model = LabelErrorModel.fit(
            evidence, cols.items, np.zeros(len(cols.items), dtype=bool), seed + r
        )
        for tier in names:
            runs, labels = cols.runs[tier], cols.labels[tier]
            counts = np.bincount(runs.outcome, minlength=len(OUTCOMES))
            rates, _ = conditional_rates(
                counts, labels, draws=2000, rng=rng, soft=error_model.soft(labels, cols.items)
            )
            k = int(counts[TIMEOUT_CODE])
            estimates = {"timeout_rate": binomial_rate("timeout_rate", k, len(runs)), **rates}
            for rate in RATES:
                est, t, key = estimates[rate], out.truth[tier][rate], (tier, rate)
                out.statuses[key][est.status] += 1
                reason = est.counts.get("unverified_reason")
                if reason and reason not in out.reasons:
                    out.reasons.append(str(reason))
                if est.ci is None:
                    out.no_ci[key] += 1
                    continue
                hit = est.ci[0] <= t <= est.ci[1]
                out.covered[key].append(hit)
                out.widths[key].append(est.ci[1] - est.ci[0])
                if est.status == "ok":
                    out.ok_covered[key].append(hit)
                if est.bounds is not None:
                    out.in_bounds[key].append(est.bounds[0] <= t <= est.bounds[1])
                if est.rate is not None:
                    out.estimates[key].append(est.rate)
    return out
