"""Simulated runs of one tier with runaways and checker-reported timeouts (known truth).

For the recovery study's duration scenarios and the tests: each run is, independently,

* with probability ``reported``: a timeout the checker reports itself (outcome
  VERIFIER_TIMEOUT, ``timed_out`` False) at a uniform moment before the budget;
* else with probability ``cure``: a runaway that never finishes;
* else a draw from ``family(params)`` (ms);

and a run still going at the budget is killed: VERIFIER_TIMEOUT, ``timed_out``, with the kill
landing ``grace_ms`` (uniform) after the budget. So
``P(timeout at budget t) = h + (1 - h) (pi + (1 - pi) S_b(t))``.

``simulate_ladders`` adds the ground-truth stage's escalation ladders: a stratified label
sample (``calib_async.labels.sampling.allocate``) picks timeouts, and each picked killed run
is re-run at 2x, 4x ... up to ``multiplier`` x the budget until an attempt finishes. A
duration is a property of the item: the re-run takes the killed run's own latent duration
(drawn from the law of a run still going at the budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from calib_async.labels.sampling import allocate
from calib_async.stats.durations import frozen
from calib_async.stats.record_arrays import OUTCOME_CODE, TIMEOUT_CODE, RunColumns

_VERIFIED = OUTCOME_CODE["VERIFIED"]


@dataclass(frozen=True, slots=True)
class DurationScenario:
    """One tier's latent timeout model (durations in ms)."""

    name: str
    family: str = "weibull_min"
    params: Mapping[str, float] = field(default_factory=lambda: {"shape": 1.5, "scale": 300.0})
    cure: float = 0.0  # runaway share pi
    reported: float = 0.0  # checker-reported timeout share h
    timeout_ms: float = 800.0
    grace_ms: float = 50.0

    def timeout_rate(self, t_ms: float) -> float:
        """The true P(timeout at budget t)."""
        s = float(frozen(self.family, self.params).sf(t_ms))
        h = self.reported
        return h + (1.0 - h) * (self.cure + (1.0 - self.cure) * s)

    @property
    def floor(self) -> float:
        return self.reported + (1.0 - self.reported) * self.cure


def simulate_runs(scenario: DurationScenario, n: int, rng: np.random.Generator) -> RunColumns:
    """``n`` runs of one tier under ``scenario`` (module docstring)."""
    budget = scenario.timeout_ms
    u = rng.random(n)
    reported = u < scenario.reported
    runaway = ~reported & (u < scenario.reported + (1 - scenario.reported) * scenario.cure)
    draws = frozen(scenario.family, scenario.params).rvs(size=n, random_state=rng)
    draws = np.where(runaway, np.inf, draws)
    killed = ~reported & (draws > budget)
    duration = np.where(killed, budget + rng.uniform(0, scenario.grace_ms, n), draws)
    duration = np.where(reported, rng.uniform(0, budget, n), duration)
    outcome = np.where(reported | killed, TIMEOUT_CODE, _VERIFIED).astype(np.int8)
    return RunColumns(
        item=np.arange(n, dtype=np.int64),
        outcome=outcome,
        timed_out=killed,
        duration_ms=duration.astype(np.float64),
        timeout_ms=np.full(n, budget),
        load_avg_1m=np.zeros(n),
        concurrency=np.ones(n),
    )


def ladder_factors(multiplier: float) -> list[float]:
    """2, 4, 8, ... below ``multiplier``, then ``multiplier`` (the scheduler's ladder)."""
    out, f = [], 2.0
    while f < multiplier:
        out.append(f)
        f *= 2.0
    return [*out, multiplier] if multiplier > 1 else []


def simulate_ladders(
    scenario: DurationScenario,
    runs: RunColumns,
    label_total: int,
    rng: np.random.Generator,
    *,
    multiplier: float = 10.0,
) -> RunColumns:
    """Escalation attempts of the sampled timeouts of ``runs`` (module docstring)."""
    timeout = runs.outcome == TIMEOUT_CODE
    sizes = {"T|VERIFIER_TIMEOUT": int(timeout.sum()), "T|VERIFIED": int((~timeout).sum())}
    k = allocate(sizes, label_total)["T|VERIFIER_TIMEOUT"]
    picked = rng.choice(np.nonzero(timeout)[0], size=k, replace=False) if k else np.zeros(0, int)
    killed = picked[runs.timed_out[picked]]
    budget = scenario.timeout_ms
    rv = frozen(scenario.family, scenario.params)
    pi, s_t = scenario.cure, float(rv.sf(budget))
    runaway = rng.random(killed.size) < pi / (pi + (1 - pi) * s_t)
    latent = np.where(runaway, np.inf, rv.isf(rng.random(killed.size) * s_t))
    rows: list[tuple[int, int, bool, float, float]] = []
    for item, d in zip(runs.item[killed], latent, strict=True):
        for f in ladder_factors(multiplier):
            b = budget * f
            if d <= b:
                rows.append((int(item), _VERIFIED, False, float(d), b))
                break
            rows.append((int(item), TIMEOUT_CODE, True, b + float(rng.uniform(0, 50.0)), b))
    cols: list[tuple[float, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 5
    m = len(rows)
    return RunColumns(
        item=np.asarray(cols[0], dtype=np.int64),
        outcome=np.asarray(cols[1], dtype=np.int8),
        timed_out=np.asarray(cols[2], dtype=bool),
        duration_ms=np.asarray(cols[3], dtype=np.float64),
        timeout_ms=np.asarray(cols[4], dtype=np.float64),
        load_avg_1m=np.zeros(m),
        concurrency=np.ones(m),
    )


#: The recovery study's scenarios (issue 13): runaways, reported timeouts, both, neither.
SCENARIOS: tuple[DurationScenario, ...] = (
    DurationScenario("plain"),
    DurationScenario("runaway_5pct", cure=0.05),
    DurationScenario("reported_4pct", reported=0.04),
    DurationScenario("runaway_and_reported", cure=0.05, reported=0.03),
    DurationScenario("lognorm_runaway_7pct", "lognorm", {"shape": 0.7, "scale": 150.0}, cure=0.07),
)
