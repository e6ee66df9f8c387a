"""In-process simulation of telemetry and labels with known truth (tests, recovery study, bench).

The latent generative model mirrors the bundled simulated checker (``calib_async.corpus.synthetic``)
in structure, simplified so that the true value of every exported quantity is known:

* each item is valid with probability ``p_valid`` (truth is a property of the item);
* each (item, tier) run draws a duration from one family (``family``, ``params``, in ms),
  independently of validity, optionally stretched by load (``load_effect``: the duration is
  multiplied by ``1 + load_effect * load_avg_1m``);
* a run longer than the tier's timeout is killed: outcome VERIFIER_TIMEOUT, ``timed_out``,
  duration = timeout + a small kill latency;
* a valid item's finished run fails spuriously with probability ``p_spurious_fail``
  (PROOF_INVALID / MEMORY_LIMIT_EXCEEDED / VERIFIER_ERROR), else VERIFIED; an invalid item's
  finished run passes spuriously with ``p_spurious_pass``, else fails;
* labelling samples ``label_per_tier`` runs per tier stratified by (tier, outcome) with
  ``calib_async.labels.sampling.allocate`` (floor of 3, then Neyman) and HT weights N_h / n_h; a
  sampled timeout is UNDETERMINED with probability ``p_undetermined_timeout`` (missing at
  random);
* a share ``p_crash_invalid`` of the invalid items crash every checker: VERIFIER_ERROR in
  every tier and UNDETERMINED when labelled (missing not at random).

So, with S the family's survival function and T a tier's timeout in ms:
timeout_rate = timeout_given_valid = timeout_given_invalid = S(T),
spurious_fail_rate = (1 - S(T)) p_spurious_fail, spurious_pass_rate = (1 - S(T)) p_spurious_pass
(with crashing items, see ``SimModel.truth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from calib_async.labels.sampling import allocate
from calib_async.records import (
    LabeledRecord,
    LabelMethod,
    Outcome,
    Phase,
    TelemetryRecord,
    Tier,
    TimeoutKind,
    Truth,
)
from calib_async.stats.durations import frozen


@dataclass(frozen=True, slots=True)
class SimTier:
    name: str
    timeout_s: float
    p_spurious_fail: float
    p_spurious_pass: float


DEFAULT_TIERS = (
    SimTier("FAST", 0.45, 0.06, 0.20),
    SimTier("BALANCED", 0.6, 0.04, 0.08),
    SimTier("SLOW", 0.8, 0.02, 0.03),
)


@dataclass(frozen=True, slots=True)
class SimModel:
    tiers: tuple[SimTier, ...] = DEFAULT_TIERS
    family: str = "weibull_min"
    params: Mapping[str, float] = field(default_factory=lambda: {"shape": 1.5, "scale": 300.0})
    p_valid: float = 0.6
    p_undetermined_timeout: float = 0.2
    load_effect: float = 0.0
    #: share of invalid items that crash every checker (VERIFIER_ERROR in every tier, a few
    #: ms) and so stay UNDETERMINED when labelled: missing *not* at random
    p_crash_invalid: float = 0.0

    def config_tiers(self) -> list[Tier]:
        return [Tier(name=t.name, timeout_s=t.timeout_s, verifier="sim") for t in self.tiers]

    def truth(self) -> dict[str, dict[str, float]]:
        """True value of every exported rate, per tier (no load effect)."""
        out = {}
        for t in self.tiers:
            s = float(frozen(self.family, self.params).sf(t.timeout_s * 1000.0))
            c = self.p_crash_invalid
            out[t.name] = {
                "timeout_rate": s * (1 - (1 - self.p_valid) * c),
                "timeout_given_valid": s,
                "timeout_given_invalid": s * (1 - c),
                "spurious_fail_rate": (1 - s) * t.p_spurious_fail,
                "spurious_pass_rate": (1 - c) * (1 - s) * t.p_spurious_pass,
            }
        return out


_FAILS = (Outcome.PROOF_INVALID, Outcome.MEMORY_LIMIT_EXCEEDED, Outcome.VERIFIER_ERROR)


def _record(
    item: int, tier: SimTier, outcome: Outcome, duration: float, killed: bool, load: float
) -> TelemetryRecord:
    item_id = f"item{item:07d}"
    return TelemetryRecord(
        verification_id=f"{item_id}-{tier.name}",
        timestamp="2024-01-01T00:00:00Z",
        context="simulation",
        metadata={},
        task_key=f"{item_id}|sim|{tier.name}|telemetry|sim|0",
        item_id=item_id,
        content_hash="0" * 64,
        module_name=item_id,
        tier=tier.name,
        verifier="sim",
        phase=Phase.TELEMETRY,
        attempt=0,
        timeout_s=tier.timeout_s,
        outcome=outcome,
        exit_code=None if killed else (0 if outcome is Outcome.VERIFIED else 1),
        signal=9 if killed else None,
        duration_ms=duration,
        cpu_time_ms=duration,
        memory_peak_mb=10.0,
        memory_final_mb=10.0,
        timed_out=killed,
        timeout_kind=TimeoutKind.WALL if killed else None,
        load_avg_1m=load,
        concurrency=1 + int(load),
    )


def simulate(
    model: SimModel, n_items: int, label_per_tier: int, rng: np.random.Generator
) -> tuple[list[TelemetryRecord], list[LabeledRecord]]:
    """Telemetry for ``n_items`` items in every tier, and a stratified labelled sample."""
    valid = rng.random(n_items) < model.p_valid
    crash = ~valid & (rng.random(n_items) < model.p_crash_invalid)
    rv = frozen(model.family, model.params)
    telemetry: list[TelemetryRecord] = []
    labeled: list[LabeledRecord] = []
    for tier in model.tiers:
        limit = tier.timeout_s * 1000.0
        load = rng.uniform(0.0, 4.0, n_items)
        dur = rv.rvs(size=n_items, random_state=rng) * (1.0 + model.load_effect * load)
        killed = dur > limit
        u = rng.random(n_items)
        fail_kind = rng.choice(3, size=n_items, p=[0.6, 0.25, 0.15])
        records = []
        for i in range(n_items):
            if crash[i]:
                outcome, duration = Outcome.VERIFIER_ERROR, 2.0 + float(u[i]) * 5.0
                killed[i] = False
            elif killed[i]:
                outcome = Outcome.VERIFIER_TIMEOUT
                duration = limit + float(u[i]) * 20.0
            elif valid[i]:
                sf = u[i] < tier.p_spurious_fail
                outcome = _FAILS[fail_kind[i]] if sf else Outcome.VERIFIED
                duration = float(dur[i])
            else:
                sp = u[i] < tier.p_spurious_pass
                outcome = Outcome.VERIFIED if sp else _FAILS[fail_kind[i]]
                duration = float(dur[i])
            records.append(_record(i, tier, outcome, duration, bool(killed[i]), float(load[i])))
        telemetry.extend(records)
        labeled.extend(_label(records, valid, label_per_tier, model, rng, crash))
    return telemetry, labeled


def _label(
    records: list[TelemetryRecord],
    valid: np.ndarray,
    total: int,
    model: SimModel,
    rng: np.random.Generator,
    crash: np.ndarray,
) -> list[LabeledRecord]:
    strata: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        strata.setdefault(f"{r.tier}|{r.outcome}", []).append(i)
    keys = sorted(strata)
    alloc = allocate({h: len(strata[h]) for h in keys}, total)  # the labelling stage's own
    out = []
    for h in keys:
        k = alloc[h]
        members = strata[h]
        if k == 0:
            continue
        weight = len(members) / k
        for i in rng.choice(members, size=k, replace=False):
            r = records[int(i)]
            truth = Truth.VERIFIED if valid[int(i)] else Truth.INVALID
            method = LabelMethod.CONSENSUS
            if crash[int(i)]:  # every checker crashes: consensus abstains
                truth, method = Truth.UNDETERMINED, LabelMethod.UNKNOWN
            elif r.outcome == Outcome.VERIFIER_TIMEOUT.value:
                method = LabelMethod.EXTENDED_TIMEOUT
                if rng.random() < model.p_undetermined_timeout:
                    truth, method = Truth.UNDETERMINED, LabelMethod.UNKNOWN
            out.append(LabeledRecord(r, truth, method, 1.0, h, weight))
    return out
