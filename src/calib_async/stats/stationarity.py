"""Did the machine change under the run? A tier's outcomes and durations against run order.

Every estimate of a tier assumes its runs are exchangeable: the same machine, load and
checker from the first run to the last. Stage 2 runs items and tiers in a seeded random
order (``calib_async.telemetry.stage``), so under that assumption a run's position in time
says nothing about its outcome or duration. Per tier, with the runs ordered by start time
(the record's timestamp, taken at the end, minus its duration):

* **Trend in timeouts.** Two-sided Cochran–Armitage test of "timed out" against the run's
  rank in time: the score test of the slope in a logistic regression on run order.
* **Trend in durations.** Spearman's rank correlation of the durations with run order,
  two-sided (a run killed at the budget counts as lasting the budget, as below): early
  against late, with the power of a trend test against a slow drift.
* **Durations by third.** Kruskal–Wallis test of the durations across the first, middle and
  last third of the run. A run killed at the budget counts as lasting the budget (every
  timed-out run ties at the top rank), so the test compares censored distributions without a
  model. It sees a drift (early against late) and a mid-run burst alike.
* **Decision.** Holm over the three p-values; ``drift`` when the smaller adjusted one is at most
  ``alpha`` (1 - confidence: 0.05 by default; Holm over three correlated tests keeps false
  alarms near 2 % on a steady machine, and scripts/drift_study.py measures power).
* **Load explains it** (``load_burst``). When the 1-minute load average varies, the
  durations' ranks are regressed on load and on the thirds (least squares on ranks, as in
  Quade's rank analysis of covariance). If load is associated with the ranks (Spearman,
  p <= alpha) and, given load, the thirds no longer differ (F test, p > alpha), load explains
  the change: status ``load_burst``. Then the timeout rate at baseline load is offered: the
  runs in the lowest third of ``load_avg_1m`` (a stratified estimate, Clopper–Pearson
  interval). The exported rates stay those over all runs; ``baseline.exported`` says so.
* Fewer than ``MIN_RUNS`` runs, or runs without distinct start times (records from a
  simulation that stamps one time), give ``not_tested``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.binomial import clopper_pearson
from calib_async.stats.load import cochran_armitage
from calib_async.stats.rates import holm
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns

STATIONARY = "stationary"
DRIFT = "drift"
LOAD_BURST = "load_burst"
NOT_TESTED = "not_tested"
DEFAULT_ALPHA = 0.05
MIN_RUNS = 30
THIRDS = ("first", "middle", "last")


@dataclass(frozen=True, slots=True)
class Stationarity:
    """One tier's stationarity check (module docstring)."""

    status: str
    alpha: float
    p_value: float | None = None  # the smaller Holm-adjusted p-value
    trend_z: float | None = None
    trend_p: float | None = None
    thirds_p: float | None = None
    duration_trend_rho: float | None = None
    duration_trend_p: float | None = None
    thirds: list[dict[str, Any]] = field(default_factory=list)
    load: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def broken(self) -> bool:
        return self.status in (DRIFT, LOAD_BURST)

    def message(self) -> str | None:
        """One line for the terminal and the report; None when nothing is wrong."""
        if not self.broken:
            return None
        rates = " / ".join(_fmt(t["timeout_rate"]) for t in self.thirds)
        medians = " / ".join(f"{t['median_duration_s']:.3g} s" for t in self.thirds)
        text = (
            f"the run is not stationary (p = {self.p_value:.2g}): timeout rate by third of the "
            f"run {rates}, median duration {medians}"
        )
        if self.status == LOAD_BURST and self.baseline is not None and self.load is not None:
            loads = " / ".join(f"{t['mean_load_avg_1m']:.3g}" for t in self.thirds)
            b = self.baseline
            lo, hi = b["timeout_rate_ci"]
            text += (
                f"; the load average explains it (load by third {loads}); at baseline load "
                f"(load_avg_1m <= {b['load_max']:.3g}, {b['runs']} runs) the timeout rate is "
                f"{b['timeout_rate']:.3g} [{lo:.3g}, {hi:.3g}], offered, not exported"
            )
        else:
            text += "; the rates average over a moving target"
        return text

    def to_export(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "alpha": self.alpha,
            "p_value": self.p_value,
            "tests": {
                "timeout_trend": {
                    "test": "cochran_armitage_two_sided_on_run_order",
                    "z": self.trend_z,
                    "p_value": self.trend_p,
                },
                "duration_trend": {
                    "test": "spearman_on_run_order_killed_runs_at_budget",
                    "rho": self.duration_trend_rho,
                    "p_value": self.duration_trend_p,
                },
                "durations_by_third": {
                    "test": "kruskal_wallis_killed_runs_at_budget",
                    "p_value": self.thirds_p,
                },
                "combined": "holm",
            },
            "thirds": self.thirds,
            "load": self.load,
            "baseline": self.baseline,
        }
        if self.reason:
            out["reason"] = self.reason
        message = self.message()
        if message:
            out["message"] = message
        return out


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def check_stationarity(runs: RunColumns, *, alpha: float = DEFAULT_ALPHA) -> Stationarity:
    """Test one tier's runs for a change over the run (module docstring)."""
    n = len(runs)
    started = runs.started_s
    if n < MIN_RUNS:
        return Stationarity(NOT_TESTED, alpha, reason=f"fewer than {MIN_RUNS} runs")
    if started is None or not np.all(np.isfinite(started)):
        return Stationarity(NOT_TESTED, alpha, reason="the runs carry no distinct start times")
    # A start is the record's end stamp minus its duration: records stamped with one time (a
    # simulation) would otherwise be ordered by their durations alone.
    ended_ms = np.round(started * 1000.0 + runs.duration_ms)
    if np.unique(started).size < 3 or np.unique(ended_ms).size < 3:
        return Stationarity(NOT_TESTED, alpha, reason="the runs carry no distinct start times")
    order = np.argsort(started, kind="stable")
    timed_out = (runs.outcome == TIMEOUT_CODE)[order]
    killed = runs.timed_out[order]
    budget = runs.timeout_ms[order]
    capped = np.where(killed, budget, np.minimum(runs.duration_ms[order], budget))
    load = runs.load_avg_1m[order]
    third = np.minimum((np.arange(n) * 3) // n, 2)
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(THIRDS):
        sel = third == i
        k = int(timed_out[sel].sum())
        rows.append(
            {
                "third": name,
                "runs": int(sel.sum()),
                "timeouts": k,
                "timeout_rate": k / int(sel.sum()),
                "median_duration_s": float(np.median(capped[sel])) / 1000.0,
                "mean_load_avg_1m": float(load[sel].mean()),
            }
        )
    trend = cochran_armitage(np.arange(n, dtype=np.float64), timed_out)
    trend_z = None if trend is None else trend[0]
    trend_p = None if trend is None else float(2 * stats.norm.sf(abs(trend[0])))
    thirds_p = rho = rho_p = None
    if np.unique(capped).size > 1:
        thirds_p = float(stats.kruskal(*(capped[third == i] for i in range(3))).pvalue)
        spearman = stats.spearmanr(np.arange(n), capped)
        rho, rho_p = float(spearman.statistic), float(spearman.pvalue)
    ps = [p for p in (trend_p, rho_p, thirds_p) if p is not None]
    if not ps:
        return Stationarity(
            NOT_TESTED, alpha, thirds=rows, reason="neither timeouts nor durations vary"
        )
    p_min = float(min(holm(ps)))
    result = partial(
        Stationarity,
        alpha=alpha,
        p_value=p_min,
        trend_z=trend_z,
        trend_p=trend_p,
        thirds_p=thirds_p,
        duration_trend_rho=rho,
        duration_trend_p=rho_p,
        thirds=rows,
    )
    if p_min > alpha:
        return result(STATIONARY)
    explained = _load_explains(capped, load, third, alpha)
    if explained is None or not explained["explains"]:
        return result(DRIFT, load=explained)
    return result(LOAD_BURST, load=explained, baseline=_baseline(timed_out, load))


def _load_explains(
    capped: np.ndarray, load: np.ndarray, third: np.ndarray, alpha: float
) -> dict[str, Any] | None:
    """Rank analysis of covariance: do the thirds still differ once load is accounted for?"""
    if np.unique(load).size < 3:
        return None
    y = stats.rankdata(capped)
    rho = stats.spearmanr(load, y)
    p_load = float(rho.pvalue) if math.isfinite(rho.pvalue) else 1.0
    n = y.size
    full = np.column_stack([np.ones(n), load, third == 1, third == 2]).astype(np.float64)
    reduced = full[:, :2]
    rss_full = _rss(full, y)
    rss_reduced = _rss(reduced, y)
    df = n - full.shape[1]
    f = ((rss_reduced - rss_full) / 2) / (rss_full / df) if rss_full > 0 else math.inf
    p_thirds = float(stats.f.sf(f, 2, df))
    return {
        "test": "spearman_load_vs_duration_ranks; thirds_given_load: rank_ancova_f",
        "spearman_rho": float(rho.statistic),
        "p_load": p_load,
        "p_thirds_given_load": p_thirds,
        "explains": p_load <= alpha and p_thirds > alpha,
    }


def _rss(x: np.ndarray, y: np.ndarray) -> float:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    return float(resid @ resid)


def _baseline(timed_out: np.ndarray, load: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Timeout rate of the runs in the lowest third of the load average."""
    cut = float(np.quantile(load, 1 / 3))
    sel = load <= cut
    k, m = int(timed_out[sel].sum()), int(sel.sum())
    return {
        "method": "stratified: runs with load_avg_1m in its lowest third",
        "load_max": cut,
        "runs": m,
        "timeouts": k,
        "timeout_rate": k / m,
        "timeout_rate_ci": list(clopper_pearson(k, m, confidence)),
        "exported": "timeout_rate is over all runs; this baseline rate is offered only",
    }


def stationarity_export(result: Stationarity | None) -> Mapping[str, Any]:
    return {} if result is None else result.to_export()
