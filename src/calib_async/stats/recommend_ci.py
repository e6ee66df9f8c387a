"""Intervals of recommended timeouts: a bootstrap over items (``stats.timeouts``).

Each replicate draws the tier's items with replacement (one multinomial draw of item counts
per replicate, all replicates at once with numpy), so every run of a drawn item, its ladder
included, comes along. For each replicate:

* the reported-timeout share h* and the Kaplan–Meier curve of the wall-clock runs are
  recomputed as weighted sums, all replicates together: the runs are sorted once, at-risk
  weights are reverse cumulative sums, and the survival is a cumulative product (tied events
  telescope to the usual ``1 - d / n`` factor);
* when the tier's predictor is the model (status ``ok``), the chosen family (with its runaway
  share if it has one) is refitted on the drawn runs with ``stats.censored_likelihood``,
  started at the point estimate;
* each target's budget follows the point estimate's rule (``stats.timeouts.recommend``):
  infinite (unreachable) at or below the floor h* + (1 - h*) pi*, or where the observed rate
  still exceeds the target at the largest watched budget while the model says less; else
  the model's quantile, never below the smallest observed budget that meets the target.
  Under ``misfit`` the Kaplan–Meier budget alone.

The interval is the percentile interval ``[q_{alpha/2}, q_{1-alpha/2}]`` of the replicate
budgets (the lower order statistic at the lower end, the higher at the upper: no
interpolation across an infinite budget). An infinite upper end means the target is
unreachable in more than ``alpha/2`` of the replicates: the recommendation is not stable.
Each replicate's budgets are monotone in the target (every piece of the rule is), so the
interval ends are too. ``unreachable_share`` is the share of replicates with no budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from calib_async.stats.censored_likelihood import refit
from calib_async.stats.censoring import DEFAULT_RESOLUTION_MS, CensoredDurations
from calib_async.stats.durations import frozen
from calib_async.stats.escalations import Extended
from calib_async.stats.record_arrays import RunColumns

#: Replicates used when the caller asks for more (the cost is one refit per replicate).
MAX_REPLICATES = 199
DEFAULT_REPLICATES = 99


@dataclass(frozen=True, slots=True)
class BudgetInterval:
    """A recommended budget's bootstrap interval in seconds (``math.inf``: no budget)."""

    low_s: float
    high_s: float
    unreachable_share: float
    replicates: int


@dataclass(frozen=True, slots=True)
class TierRuns:
    """One tier's runs for the bootstrap, the wall-clock ones with their ladders applied."""

    item: np.ndarray  # int64, every run
    reported: np.ndarray  # bool, every run: a timeout the checker reported
    duration_ms: np.ndarray  # float64, every run (wall-clock runs: after the ladders)
    timed_out: np.ndarray  # bool, every run: still running when last watched
    budget_ms: np.ndarray  # float64, every run: the budget it was watched to


@dataclass(frozen=True, slots=True)
class Chosen:
    """The predictor whose rule the replicates follow."""

    family: str | None  # None: Kaplan–Meier only (status not ok)
    params: Mapping[str, float] | None
    cure: bool
    cure_fraction: float


def tier_runs(runs: RunColumns, reported: np.ndarray, ext: Extended) -> TierRuns:
    """Every run of the tier, the wall-clock ones (not ``reported``) with ``ext``'s ladders."""
    duration = runs.duration_ms.astype(np.float64).copy()
    timed_out = runs.timed_out.copy()
    budget = runs.timeout_ms.astype(np.float64).copy()
    wall = ~reported
    duration[wall], timed_out[wall], budget[wall] = ext.duration_ms, ext.timed_out, ext.budget_ms
    return TierRuns(runs.item, reported, duration, timed_out, budget)


def _kinds(runs: TierRuns, resolution_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per wall-clock run: censored time (ms), event flag, zero (interval-censored) flag."""
    wall = ~runs.reported
    d = runs.duration_ms[wall]
    b = runs.budget_ms[wall]
    killed = runs.timed_out[wall]
    done = np.minimum(d, b)
    zero = ~killed & (done <= 0.0)
    time = np.where(killed, np.maximum(done, resolution_ms), np.where(zero, resolution_ms, done))
    return time, ~killed, zero


def _km_bounds(
    time: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    h: np.ndarray,
    targets: Sequence[float],
    up_to_ms: float,
) -> np.ndarray:
    """(B, targets) smallest event time with h + (1 - h) S_KM <= target (NaN: none)."""
    order = np.lexsort((~event, time))  # events before censorings at a tie
    t, ev, w = time[order], event[order], weights[:, order]
    at_risk = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(ev & (at_risk > 0), 1.0 - w / np.where(at_risk > 0, at_risk, 1.0), 1.0)
    surv = np.cumprod(factor, axis=1)
    rates = h[:, None] + (1.0 - h[:, None]) * surv
    usable = ev & (t <= up_to_ms)
    out = np.full((weights.shape[0], len(targets)), np.nan)
    for j, r in enumerate(targets):
        meets = usable[None, :] & (rates <= r + 1e-12)
        first = np.argmax(meets, axis=1)
        found = meets[np.arange(meets.shape[0]), first]
        out[found, j] = t[first[found]]
    return out


def _model_budgets(
    chosen: Chosen,
    time: np.ndarray,
    event: np.ndarray,
    zero: np.ndarray,
    counts: np.ndarray,
    h: float,
    targets: Sequence[float],
) -> np.ndarray:
    """Per target, the refitted model's budget (ms; inf at or below its floor; NaN: failed)."""
    assert chosen.family is not None and chosen.params is not None
    data = CensoredDurations(
        events=np.repeat(time[event & ~zero], counts[event & ~zero]),
        right=np.repeat(time[~event], counts[~event]),
        interval=np.column_stack(
            [np.zeros(int(counts[zero].sum())), np.repeat(time[zero], counts[zero])]
        ),
    )
    got = refit(
        chosen.family,
        data,
        chosen.params,
        cure=max(chosen.cure_fraction, 1e-3) if chosen.cure else None,
    )
    out = np.full(len(targets), np.nan)
    if got is None:
        return out
    pi = got.pop("cure_fraction", 0.0)
    rv = frozen(chosen.family, got)
    for j, r in enumerate(targets):
        if r <= h + (1.0 - h) * pi:
            out[j] = math.inf
            continue
        base = ((r - h) / (1.0 - h) - pi) / (1.0 - pi)
        out[j] = float(rv.isf(min(base, 1.0)))
    return out


def recommendation_intervals(
    runs: TierRuns,
    chosen: Chosen,
    *,
    targets: Sequence[float],
    up_to_ms: float,
    replicates: int,
    confidence: float,
    rng: np.random.Generator,
    resolution_ms: float = DEFAULT_RESOLUTION_MS,
) -> dict[float, BudgetInterval]:
    """Bootstrap intervals of the recommended budgets per target (module docstring)."""
    b = min(max(int(replicates), 0), MAX_REPLICATES)
    if b == 0 or runs.item.size == 0:
        return {}
    items, run_item = np.unique(runs.item, return_inverse=True)
    counts = rng.multinomial(items.size, np.full(items.size, 1.0 / items.size), size=b)
    weights = counts[:, run_item]  # (B, runs)
    total = weights.sum(axis=1)
    h = weights[:, runs.reported].sum(axis=1) / np.maximum(total, 1)
    time, event, zero = _kinds(runs, resolution_ms)
    wall_w = weights[:, ~runs.reported]
    km = _km_bounds(time, event, wall_w, h, targets, up_to_ms)
    budgets = np.where(np.isnan(km), math.inf, km)
    if chosen.family is not None:
        for i in range(b):
            model = _model_budgets(chosen, time, event, zero, wall_w[i], float(h[i]), targets)
            contradicted = np.isnan(km[i]) & (model <= up_to_ms)
            rule = np.where(np.isnan(km[i]), model, np.maximum(model, km[i]))
            budgets[i] = np.where(contradicted, math.inf, rule)
    budgets = budgets[~np.isnan(budgets).any(axis=1)]  # failed refits are left out
    if budgets.shape[0] == 0:
        return {}
    tail = (1.0 - confidence) / 2.0
    out: dict[float, BudgetInterval] = {}
    for j, r in enumerate(targets):
        col = np.sort(budgets[:, j])
        low = float(np.quantile(col, tail, method="lower"))
        high = float(np.quantile(col, 1.0 - tail, method="higher"))
        out[float(r)] = BudgetInterval(
            low / 1000.0, high / 1000.0, float(np.mean(np.isinf(col))), int(col.size)
        )
    return out
