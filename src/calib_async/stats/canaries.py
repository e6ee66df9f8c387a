"""Spurious-pass rates per tier and exploit class, from canary runs (pure).

A canary is invalid by construction, so every run is a draw from P(VERIFIED | this exploit):
``spurious_pass_rate = passed / run`` with a Clopper–Pearson interval
(``calib_async.stats.binomial``: its coverage is at least the confidence for every true rate,
where Wilson's drops to about 0.84 near 0 and 1 at 20 canaries). A run that timed out
or failed for resources is counted in ``run`` and not in ``passed`` (the reward was not
granted); ``outcomes`` keeps the breakdown. ``not_applicable`` counts the drawn items the
class could not rewrite (never run). With no run the rate is None and ``status`` says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from calib_async.records import Outcome, Phase, Tier
from calib_async.stats.binomial import clopper_pearson
from calib_async.telemetry.canaries import CanaryRuns


def canary_rates(
    runs: CanaryRuns, tiers: Sequence[Tier], confidence: float = 0.95
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{tier name: {class: {run, passed, spurious_pass_rate, _ci, not_applicable, ...}}}``."""
    exploit_of = runs.exploit_of
    counts: dict[tuple[str, str], Counter[str]] = {}
    for record in runs.records:
        exploit = exploit_of.get(record.item_id)
        if exploit is None or record.phase != Phase.CANARY.value:
            continue
        counts.setdefault((record.tier, exploit), Counter())[record.outcome] += 1
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for tier in tiers:
        per_class: dict[str, dict[str, Any]] = {}
        for exploit in runs.canary_set.classes:
            outcomes = counts.get((tier.name, exploit), Counter())
            per_class[exploit] = class_rate(
                outcomes, runs.canary_set.not_applicable.get(exploit, 0), confidence
            )
        out[tier.name] = per_class
    return out


def class_rate(
    outcomes: Mapping[str, int], not_applicable: int, confidence: float = 0.95
) -> dict[str, Any]:
    """One tier x class entry from the outcome counts of its canary runs."""
    run = sum(outcomes.values())
    passed = int(outcomes.get(Outcome.VERIFIED.value, 0))
    entry: dict[str, Any] = {
        "run": run,
        "passed": passed,
        "spurious_pass_rate": passed / run if run else None,
        "spurious_pass_rate_ci": list(clopper_pearson(passed, run, confidence)) if run else None,
        "not_applicable": int(not_applicable),
        "outcomes": {k: int(v) for k, v in sorted(outcomes.items())},
        "status": "ok" if run else ("not_applicable" if not_applicable else "no_data"),
    }
    return entry
