"""The load experiment's fit: a tier's timeout rate against the concurrency level.

**Model.** logit P(timeout | level k) = a + b log k, fitted by Firth's penalised maximum
likelihood (Jeffreys prior), with profile penalised-likelihood intervals (Heinze & Schemper
2002, as R's ``logistf``).

Why this model (rather than a censored duration model with the level as a covariate):

* it targets the quantity users ask about, the timeout rate at the tier's own timeout, and
  assumes nothing about the shape of the duration distribution (a corpus mixes items whose
  durations differ by orders of magnitude, which a one-family AFT model fits poorly);
* log k: contention slows a run by a factor that grows with the number of runs sharing the
  machine, and levels are naturally spaced geometrically (1, 4, 8, 16, ...);
* Firth: a strong load effect produces separation (no timeout at level 1, all at level 8),
  where the ordinary MLE runs to infinity; Firth's estimate stays finite and its profile
  interval keeps nominal coverage (scripts/stability_study.py measures it);
* the same items run at every level, so observations cluster by item. The level varies
  within items; ignoring the clustering then errs on the conservative side for the slope
  (item effects cancel from the contrast), which the study confirms with heterogeneous items;
* observations also cluster by block (one (level, round) pass, run at one time): the level is
  constant within a block, so a shock to the machine during a block is confounded with its
  level unless several blocks share a level. Given each run's block, the fit measures the
  between-block variation at equal level (:mod:`calib_async.stats.load_blocks`) and widens the
  profile intervals and the p-value by it (quasi-likelihood: the drop is the larger of
  chi2_1 / 2 and phi * F_1,df / 2); ``between_blocks`` reports the test, phi and the ICC.

Exported per tier: intercept and slope with intervals, the penalised likelihood-ratio p-value
for "no load effect", per level the observed rate (exact interval) and the predicted rate
(profile interval), and ``max_concurrency_for_rate``: for each target rate the largest tested
concurrency whose predicted rate (``estimate``) or whose upper confidence bound
(``conservative``, a one-sided confidence bound for the estimate) stays at or below the target.
It is searched between the smallest and the largest level tested, never extrapolated beyond
either; ``null`` with a ``reason`` when even the smallest tested level exceeds the target.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special

from calib_async.stats.flips import clopper_pearson
from calib_async.stats.load_blocks import (
    BlockHeterogeneity,
    block_heterogeneity,
    lr_p_value,
    profile_drop,
)

MODEL = "logistic_firth"
COVARIATE = "log(level)"
TARGET_RATES = (0.01, 0.05, 0.1)
_SEARCH = 40.0  # how far (in log-odds) a profile bound is searched before it is "unbounded"


@dataclass(frozen=True, slots=True)
class LoadFit:
    """The per-tier fit (see the module docstring). ``status``: ok | no_timeouts |
    all_timeouts (a fit, shrunk by the penalty) | single_level | no_data (no fit)."""

    status: str
    levels: list[dict[str, Any]]
    intercept: float | None = None
    intercept_ci: tuple[float | None, float | None] | None = None
    slope: float | None = None
    slope_ci: tuple[float | None, float | None] | None = None
    slope_p_value: float | None = None
    separation: str | None = None
    max_concurrency_for_rate: dict[float, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None
    between_blocks: BlockHeterogeneity | None = None

    def predict(self, level: float) -> float:
        """The fitted timeout rate at concurrency ``level``."""
        if self.intercept is None or self.slope is None:
            raise ValueError(f"no load fit ({self.status})")
        return float(special.expit(self.intercept + self.slope * math.log(level)))

    def to_export(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "model": MODEL, "covariate": COVARIATE}
        if self.reason:
            out["reason"] = self.reason
        out.update(
            intercept=self.intercept,
            intercept_ci=_pair(self.intercept_ci),
            slope=self.slope,
            slope_ci=_pair(self.slope_ci),
            slope_p_value=self.slope_p_value,
            odds_ratio_per_doubling=(
                None if self.slope is None else math.exp(self.slope * math.log(2))
            ),
            separation=self.separation,
            levels=self.levels,
            max_concurrency_tested=max((row["level"] for row in self.levels), default=None),
            min_concurrency_tested=min((row["level"] for row in self.levels), default=None),
            max_concurrency_for_rate={
                float(r): v for r, v in self.max_concurrency_for_rate.items()
            },
        )
        if self.between_blocks is not None:
            het = self.between_blocks
            out["rounds"] = het.rounds
            out["between_blocks"] = het.to_export()
            out["interval_method"] = (
                "profile_quasi_blocks" if het.dispersion is not None else "profile_binomial"
            )
        return out


def _pair(ci: tuple[float | None, float | None] | None) -> list[float | None] | None:
    return None if ci is None else [ci[0], ci[1]]


class _Firth:
    """Penalised log-likelihood of a binomial logistic model over grouped data."""

    def __init__(self, x: np.ndarray, n: np.ndarray, y: np.ndarray) -> None:
        # plain floats: a handful of levels, where numpy's per-call overhead dominates
        self.rows = [(float(xi), float(ni), float(yi)) for xi, ni, yi in zip(x, n, y, strict=True)]

    def loglik(self, a: float, b: float) -> float:
        ll = s0 = s1 = s2 = 0.0
        for x, n, y in self.rows:
            eta = a + b * x
            if eta > 0:  # log(1 + e^eta) and p(1 - p), without overflow
                e = math.exp(-eta)
                ll += y * eta - n * (eta + math.log1p(e))
                w = n * e / (1 + e) ** 2
            else:
                e = math.exp(eta)
                ll += y * eta - n * math.log1p(e)
                w = n * e / (1 + e) ** 2
            s0, s1, s2 = s0 + w, s1 + w * x, s2 + w * x * x
        det = s0 * s2 - s1 * s1  # the determinant of the Fisher information
        return ll + 0.5 * math.log(max(det, 1e-300))  # finite: the 1-D searches need numbers

    def fit(self) -> tuple[float, float, float]:
        def objective(v: np.ndarray) -> float:
            return -self.loglik(v[0], v[1])

        res = optimize.minimize(
            objective, x0=np.zeros(2), method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
        )  # fmt: skip
        return float(res.x[0]), float(res.x[1]), -float(res.fun)

    def profile_slope(self, b: float) -> float:
        """max over a of the penalised log-likelihood with the slope fixed at b."""
        return self._best(lambda a: -self.loglik(a, b))

    def profile_intercept(self, a: float) -> float:
        return self._best(lambda b: -self.loglik(a, b))

    @staticmethod
    def _best(objective: Any) -> float:
        res = optimize.minimize_scalar(
            objective, bounds=(-60, 60), method="bounded", options={"xatol": 1e-9}
        )
        return -float(res.fun)


def _profile_ci(
    profile: Callable[[float], float], estimate: float, best: float, drop: float
) -> tuple[float | None, float | None]:
    """Where the profile drops by ``drop`` (:func:`~calib_async.stats.load_blocks.profile_drop`)
    on each side; None: not within reach."""

    def gap(v: float) -> float:
        return best - profile(v) - drop

    bounds: list[float | None] = []
    for direction in (-1.0, 1.0):
        step, found = 0.5, None
        inner = estimate
        while step <= _SEARCH:
            outer = estimate + direction * step
            if gap(outer) > 0:
                found = optimize.brentq(gap, min(inner, outer), max(inner, outer), xtol=1e-7)
                break
            inner, step = outer, step * 2
        bounds.append(found)
    return bounds[0], bounds[1]


def _separation(levels: np.ndarray, n: np.ndarray, y: np.ndarray) -> str | None:
    with_timeout = levels[y > 0]
    with_pass = levels[y < n]
    if with_timeout.size == 0 or with_pass.size == 0:
        return None
    if with_pass.max() < with_timeout.min() or with_timeout.max() < with_pass.min():
        return "complete"
    if with_pass.max() == with_timeout.min() or with_timeout.max() == with_pass.min():
        return "quasi"
    return None


def fit_load(
    levels: Sequence[int],
    timeouts: Sequence[bool],
    *,
    concurrency: Sequence[float] | None = None,
    blocks: Sequence[Hashable] | None = None,
    targets: Sequence[float] = TARGET_RATES,
    confidence: float = 0.95,
    slope_only: bool = False,
) -> LoadFit:
    """Fit the timeout rate against the level from one record per run (its level, timed out?).

    ``concurrency`` (optional, per run) is the number of checkers in flight when the run
    started; its per-level mean is reported as a check of the design. ``blocks`` (optional,
    per run) names the block the run belongs to (e.g. (level, round)); with it the intervals
    account for between-block variation (module docstring). ``slope_only`` skips the
    intercept's and each level's interval and ``max_concurrency_for_rate`` (profile fits that
    simulations of the slope do not need).
    """
    lv = np.asarray(levels, dtype=float)
    to = np.asarray(timeouts, dtype=bool)
    distinct = np.unique(lv)
    rows = []
    n = np.array([(lv == k).sum() for k in distinct], dtype=float)
    y = np.array([to[lv == k].sum() for k in distinct], dtype=float)
    conc = None if concurrency is None else np.asarray(concurrency, dtype=float)
    for k, nk, yk in zip(distinct, n, y, strict=True):
        lo, hi = clopper_pearson(yk, nk, confidence)
        row: dict[str, Any] = {"level": int(k), "n": int(nk), "timeouts": int(yk)}
        row.update(rate=float(yk / nk), rate_ci=[lo, hi])
        if conc is not None and conc.size == lv.size:
            row["mean_concurrency"] = round(float(conc[lv == k].mean()), 2)
        rows.append(row)
    if lv.size == 0:
        return LoadFit("no_data", rows, reason="no load-experiment runs for this tier")
    if distinct.size < 2:
        return LoadFit("single_level", rows, reason="a slope needs at least two load levels")
    het = None if blocks is None else block_heterogeneity(levels, timeouts, blocks)
    drop = profile_drop(het, confidence)
    x = np.log(distinct)
    model = _Firth(x, n, y)
    a, b, best = model.fit()
    a_ci = None if slope_only else _profile_ci(model.profile_intercept, a, best, drop)
    b_ci = _profile_ci(model.profile_slope, b, best, drop)
    lr = max(0.0, 2 * (best - model.profile_slope(0.0)))
    p_value = lr_p_value(lr, het)
    for row in rows:
        row["predicted"] = float(special.expit(a + b * math.log(row["level"])))
        if not slope_only:
            row["predicted_ci"] = list(_predicted_ci(x, n, y, row["level"], drop))
    status = "ok" if 0 < y.sum() < n.sum() else ("no_timeouts" if y.sum() == 0 else "all_timeouts")
    fit = LoadFit(
        status=status,
        levels=rows,
        intercept=a,
        intercept_ci=a_ci,
        slope=b,
        slope_ci=b_ci,
        slope_p_value=p_value,
        separation=_separation(distinct, n, y),
        reason=(
            None if status == "ok"
            else f"{'no' if status == 'no_timeouts' else 'every'} run timed out: the estimates "
            "are shrunk by Firth's penalty; read the upper (lower) bounds"
        ),
        between_blocks=het,
    )  # fmt: skip
    bottom, top = int(distinct.min()), int(distinct.max())
    mc = (
        {}
        if slope_only
        else {t: _max_concurrency(fit, x, n, y, t, (bottom, top), drop) for t in targets}
    )
    return dataclasses.replace(fit, max_concurrency_for_rate=mc)


def _predicted_ci(
    x: np.ndarray, n: np.ndarray, y: np.ndarray, level: float, drop: float
) -> tuple[float | None, float | None]:
    """Profile interval of the rate at ``level``: the intercept of the model centred there."""
    shifted = _Firth(x - math.log(level), n, y)
    a, _, best = shifted.fit()
    lo, hi = _profile_ci(shifted.profile_intercept, a, best, drop)
    return (
        0.0 if lo is None else float(special.expit(lo)),
        1.0 if hi is None else float(special.expit(hi)),
    )


def _max_concurrency(
    fit: LoadFit, x: np.ndarray, n: np.ndarray, y: np.ndarray, target: float,
    tested: tuple[int, int], drop: float,
) -> dict[str, Any]:  # fmt: skip
    """Largest tested-range k with predicted rate (upper bound) <= target, all smaller k too.

    Levels below the smallest tested one are never returned: the fit says nothing there.
    """
    bottom, top = tested
    estimate: int | None = None
    for k in range(bottom, top + 1):
        if fit.predict(k) > target:
            break
        estimate = k
    conservative: int | None = None
    upper_known = {
        row["level"]: row["predicted_ci"][1] for row in fit.levels if "predicted_ci" in row
    }
    for k in range(bottom, (estimate or 0) + 1):
        upper = upper_known.get(k)
        if upper is None:
            upper = _predicted_ci(x, n, y, k, drop)[1]
        if upper is None or upper > target:
            break
        conservative = k
    out: dict[str, Any] = {"estimate": estimate, "conservative": conservative}
    if estimate is None:
        out["reason"] = (
            f"the predicted rate exceeds {target:g} already at the smallest tested level "
            f"{bottom}; lower levels were not tested"
        )
    elif conservative is None:
        out["reason"] = (
            f"the upper confidence bound exceeds {target:g} already at the smallest tested "
            f"level {bottom}"
        )
    return out
