"""Runs of one tier on a machine that changes under the run (drift, bursts), as RunColumns."""

from __future__ import annotations

import numpy as np

from calib_async.records import Outcome
from calib_async.stats.record_arrays import OUTCOME_CODE, RunColumns

BUDGET_MS = 4000.0


def machine_runs(
    slow: str, rng: np.random.Generator, n: int = 400, *, times: bool = True
) -> RunColumns:
    """``n`` runs in random order; ``slow``: steady, drift (1x to 2x), burst (3x in the middle
    third) or load_burst (the same burst, with the load average at 15 instead of 2 then)."""
    position = rng.permutation(n) / n
    factor = {
        "steady": np.ones(n),
        "drift": 1.0 + position,
        "burst": np.where((position >= 1 / 3) & (position < 2 / 3), 3.0, 1.0),
        "load_burst": np.where((position >= 1 / 3) & (position < 2 / 3), 3.0, 1.0),
    }[slow]
    duration = np.exp(rng.normal(np.log(1000.0), 0.8, n)) * factor
    killed = duration > BUDGET_MS
    load = rng.normal(2.0, 0.3, n) + (13.0 * (factor > 1) if slow == "load_burst" else 0.0)
    return RunColumns(
        item=np.arange(n),
        outcome=np.where(
            killed,
            OUTCOME_CODE[Outcome.VERIFIER_TIMEOUT.value],
            OUTCOME_CODE[Outcome.VERIFIED.value],
        ).astype(np.int8),
        timed_out=killed,
        duration_ms=np.where(killed, BUDGET_MS + 20.0, duration),
        timeout_ms=np.full(n, BUDGET_MS),
        load_avg_1m=load,
        concurrency=np.full(n, 2.0),
        started_s=position * n * 0.5 if times else np.zeros(n),
    )
