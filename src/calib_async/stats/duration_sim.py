"""Simulated runs of one tier with runaways and checker-reported timeouts (known truth).

For the recovery study's duration scenarios and the tests: each run is, independently,

* with probability ``reported``: a timeout the checker reports itself (outcome
  VERIFIER_TIMEOUT, ``timed_out`` False) at a uniform moment before the budget;
* else with probability ``cure``: a runaway that never finishes;
* else a draw from ``family(params)`` (ms);

and a run still going at the budget is killed: VERIFIER_TIMEOUT, ``timed_out``, with the kill
landing ``grace_ms`` (uniform) after the budget. So
``P(timeout at budget t) = h + (1 - h) (pi + (1 - pi) S_b(t))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

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


#: The recovery study's scenarios (issue 13): runaways, reported timeouts, both, neither.
SCENARIOS: tuple[DurationScenario, ...] = (
    DurationScenario("plain"),
    DurationScenario("runaway_5pct", cure=0.05),
    DurationScenario("reported_4pct", reported=0.04),
    DurationScenario("runaway_and_reported", cure=0.05, reported=0.03),
    DurationScenario("lognorm_runaway_7pct", "lognorm", {"shape": 0.7, "scale": 150.0}, cure=0.07),
)
