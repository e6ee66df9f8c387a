"""Fast censored likelihoods and refits (the main fit's start, the bootstrap's refits).

``rv_continuous.fit`` on CensoredData costs about a millisecond of argument checking per
likelihood evaluation whatever n is, so B = 199 refits of three tiers would take minutes.
Here each family's censored log-likelihood parts are written directly with ``scipy.special``:
logpdf of events, logsf of right-censored runs and logcdf of runs below the timer resolution
(``[0, hi]`` intervals). They combine into

* the plain model: ``sum logf + sum logS + sum logF``;
* the cure (runaway) model ``S(t) = pi + (1 - pi) S_b(t)``:
  ``n_done log(1 - pi) + sum logf + sum log(pi + (1 - pi) S_b) + sum logF`` (a run that
  finished is not a runaway; a censored run is either).

Both are maximised over the log-parameters (and logit pi) with BFGS. Tests check that the
plain refit reaches the same optimum as ``calib_async.stats.durations.fit_family``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
from scipy import optimize, special

from calib_async.stats.censoring import CensoredDurations

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
# Each takes (params, events, right, below) and returns (logf(events), logS(right),
# logF(below)); params are in natural units (shape, scale) or (scale,).
Parts = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Arrays]

#: Parameter names per family (scale last), as exported.
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "expon": ("scale",),
    "gamma": ("shape", "scale"),
    "lognorm": ("shape", "scale"),
    "weibull_min": ("shape", "scale"),
    "fisk": ("shape", "scale"),
}


def _expon(p: np.ndarray, ev: np.ndarray, right: np.ndarray, below: np.ndarray) -> Arrays:
    (scale,) = p
    return -math.log(scale) - ev / scale, -right / scale, np.log(-np.expm1(-below / scale))


def _weibull(p: np.ndarray, ev: np.ndarray, right: np.ndarray, below: np.ndarray) -> Arrays:
    k, scale = p
    z = ev / scale
    logf = math.log(k) - math.log(scale) + (k - 1) * np.log(z) - z**k
    return logf, -((right / scale) ** k), np.log(-np.expm1(-((below / scale) ** k)))


def _lognorm(p: np.ndarray, ev: np.ndarray, right: np.ndarray, below: np.ndarray) -> Arrays:
    s, scale = p
    mu = math.log(scale)
    logs = np.log(ev)
    y = (logs - mu) / s
    logf = -logs - 0.5 * y * y - math.log(s) - _LOG_SQRT_2PI
    logsf = special.log_ndtr(-(np.log(right) - mu) / s)
    return logf, logsf, special.log_ndtr((np.log(below) - mu) / s)


def _gamma(p: np.ndarray, ev: np.ndarray, right: np.ndarray, below: np.ndarray) -> Arrays:
    a, scale = p
    x = ev / scale
    logf = (a - 1) * np.log(x) - x - special.gammaln(a) - math.log(scale)
    logsf = np.log(special.gammaincc(a, right / scale))
    return logf, logsf, np.log(special.gammainc(a, below / scale))


def _fisk(p: np.ndarray, ev: np.ndarray, right: np.ndarray, below: np.ndarray) -> Arrays:
    c, scale = p  # log-logistic: S(t) = 1 / (1 + (t / scale)^c)
    logz = np.log(ev / scale)
    logf = math.log(c) - math.log(scale) + (c - 1) * logz - 2 * np.logaddexp(0.0, c * logz)
    logsf = -np.logaddexp(0.0, c * np.log(right / scale))
    lzb = c * np.log(below / scale)
    return logf, logsf, lzb - np.logaddexp(0.0, lzb)


PARTS: dict[str, Parts] = {
    "expon": _expon,
    "weibull_min": _weibull,
    "lognorm": _lognorm,
    "gamma": _gamma,
    "fisk": _fisk,
}


def log_likelihood_parts(
    family: str, base: np.ndarray, cure: float, data: CensoredDurations
) -> float:
    """Censored log-likelihood of ``family`` (natural params) with runaway share ``cure``."""
    logf, logsf, logcdf = PARTS[family](
        base, data.events, data.right, data.interval[:, 1] if data.interval.size else _EMPTY
    )
    total = float(np.sum(logf) + np.sum(logcdf))
    if cure <= 0.0:
        return total + float(np.sum(logsf))
    n_done = data.events.size + int(data.interval.shape[0])
    total += n_done * math.log1p(-cure)
    return total + float(np.sum(np.logaddexp(math.log(cure), math.log1p(-cure) + logsf)))


_EMPTY = np.zeros(0)


def refit(
    family: str,
    data: CensoredDurations,
    start: Mapping[str, float],
    *,
    cure: float | None = None,
) -> dict[str, float] | None:
    """MLE of ``family`` on ``data`` from ``start``; None when it fails to converge.

    ``cure`` None fits the plain model; a number in (0, 1) is the starting runaway share of
    the cure model, whose estimate is returned as ``"cure_fraction"`` beside the params.
    """
    names = PARAM_NAMES[family]
    x0 = np.log([float(start[k]) for k in names])
    with_cure = cure is not None
    if with_cure:
        c0 = min(max(float(cure), 1e-4), 1 - 1e-4)  # type: ignore[arg-type]
        x0 = np.append(x0, math.log(c0 / (1 - c0)))
    k = len(names)

    def objective(theta: np.ndarray) -> float:
        pi = float(special.expit(theta[k])) if with_cure else 0.0
        if with_cure and not 0.0 < pi < 1.0:
            return 1e300
        with np.errstate(all="ignore"):
            value = -log_likelihood_parts(family, np.exp(theta[:k]), pi, data)
        return value if math.isfinite(value) else 1e300

    result = minimize_log_params(objective, x0)
    if result is None:
        return None
    out = {n: float(v) for n, v in zip(names, np.exp(result[:k]), strict=True)}
    if with_cure:
        out["cure_fraction"] = float(special.expit(result[k]))
    return out


def minimize_log_params(
    objective: Callable[[np.ndarray], float], x0: np.ndarray
) -> np.ndarray | None:
    """BFGS on a negative log-likelihood over log-parameters, with a scale-aware tolerance.

    The gradient tolerance is 1e-6 |f(x0)|: a finite-difference gradient cannot be more
    accurate than about 1e-8 |f|, and since the curvature grows like n, as |f| does, the
    parameters then carry relative errors of order 1e-6 at any sample size. Returns None
    when the optimum is not finite or a real gradient is left over.
    """
    f0 = objective(x0)
    if not math.isfinite(f0) or f0 >= 1e300:
        return None
    gtol = 1e-6 * max(1.0, abs(f0))
    result = optimize.minimize(objective, x0, method="BFGS", options={"gtol": gtol})
    if not math.isfinite(result.fun) or result.fun >= 1e300:
        return None
    if not result.success and float(np.max(np.abs(result.jac))) > 10 * gtol:
        return None
    return np.asarray(result.x)
