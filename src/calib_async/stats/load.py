"""Load sensitivity: does a tier's timeout rate rise with the machine's load?

Wall-clock timeouts under load are the noise source Lean users report most often, so every
record carries the load at launch: ``load_avg_1m`` (the machine's 1-minute load average) and
``concurrency`` (runs of this calibration in flight). Per tier and per load variable:

* **Table.** The timeout rate (outcome VERIFIER_TIMEOUT) per load level: one level per
  distinct value when there are at most ``max_levels`` of them, else quantile bins.
* **Trend test.** One-sided Cochran–Armitage test for a rising trend, with each run's own
  load value as its score. This is exactly the score test of the slope in a logistic
  regression of timeout on load, so it needs no iterative fit, stays defined with few
  timeouts, and does not depend on how the table is binned.
* **Flag.** ``flagged`` is True when either variable's trend is significant at ``alpha``
  after Holm correction over the two variables.

This is a diagnostic over all telemetry-phase runs of the tier; it is not part of the
validation gate. A constant load variable gives status ``"no_load_variation"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.rates import holm
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns

VARIABLES = ("load_avg_1m", "concurrency")


def cochran_armitage(scores: np.ndarray, events: np.ndarray) -> tuple[float, float] | None:
    """(z, one-sided p for a rising trend), or None when scores or events do not vary."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(events, dtype=np.float64)
    n = x.size
    if n < 2:
        return None
    p = y.mean()
    sxx = float(np.sum((x - x.mean()) ** 2))
    if sxx <= 0 or p <= 0 or p >= 1:
        return None
    t = float(np.sum((x - x.mean()) * y))
    z = t / math.sqrt(p * (1 - p) * sxx)
    return z, float(stats.norm.sf(z))


def _levels(x: np.ndarray, max_levels: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    distinct = np.unique(x)
    if distinct.size <= max_levels:
        return np.searchsorted(distinct, x), [(float(v), float(v)) for v in distinct]
    edges = np.unique(np.quantile(x, np.linspace(0, 1, max_levels + 1)))
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    return idx, [(float(edges[i]), float(edges[i + 1])) for i in range(edges.size - 1)]


def load_sensitivity(
    runs: RunColumns, *, alpha: float = 0.05, max_levels: int = 4
) -> dict[str, Any]:
    """Timeout rate by load level and a trend test per load variable (see module docstring)."""
    timeouts = runs.outcome == TIMEOUT_CODE
    out: dict[str, Any] = {"test": "cochran_armitage_one_sided", "alpha": alpha}
    p_values: dict[str, float] = {}
    for name in VARIABLES:
        x = getattr(runs, name)
        entry: dict[str, Any] = {"levels": [], "z": None, "p_value": None}
        if x.size == 0:
            entry["status"] = "insufficient_data"
            out[name] = entry
            continue
        idx, bounds = _levels(x, max_levels)
        for i, (lo, hi) in enumerate(bounds):
            sel = idx == i
            n, k = int(sel.sum()), int(timeouts[sel].sum())
            entry["levels"].append(
                {"low": lo, "high": hi, "n": n, "timeouts": k, "rate": k / n if n else None}
            )
        trend = cochran_armitage(x, timeouts)
        if np.unique(x).size < 2:
            entry["status"] = "no_load_variation"
        elif trend is None:
            entry["status"] = "no_timeout_variation"
        else:
            entry["status"] = "ok"
            entry["z"], entry["p_value"] = trend
            p_values[name] = trend[1]
        out[name] = entry
    names = list(p_values)
    adjusted = holm([p_values[k] for k in names])
    for name, p_adj in zip(names, adjusted, strict=True):
        out[name]["p_holm"] = p_adj
    out["flagged"] = any(p <= alpha for p in adjusted)
    return out
