"""Censored duration models: five families, each with and without a runaway share, by AIC.

Data: the durations of *all* telemetry-phase runs of a tier, in milliseconds, censored as
``calib_async.stats.censoring`` describes (killed runs right-censored by the runner's
``timed_out`` flag, zero durations interval-censored at the timer resolution).

Each family is fitted with ``dist.fit(scipy.stats.CensoredData(...), floc=0)`` (a free
location gave degenerate fits), with a quasi-Newton optimiser on the log-parameters. It starts
from the optimum of the same likelihood written directly with ``scipy.special``
(``stats.censored_likelihood``, itself started from moment estimates), so scipy's fit, which
costs about a millisecond per likelihood evaluation whatever n is, only polishes. The
log-likelihood is computed by hand (logpdf of events, logsf of
right-censored runs, log of the cdf difference of interval-censored runs) because scipy's
``nnlf`` does not accept CensoredData. AIC = 2 k - 2 loglik counts the *free* parameters only
(loc is fixed): k = 1 for expon, 2 for the others, plus 1 for a runaway share.

**Runaways (cure model).** Some runs never finish (a proof that loops, 4.5 % of Lean proofs
with maxHeartbeats 0). Each family is also fitted as a mixture cure model
``S(t) = pi + (1 - pi) S_b(t)`` (``cure_fraction`` pi; the idea of lifelines'
MixtureCureFitter), by maximising the likelihood of ``stats.censored_likelihood`` from two
starts (the plain fit, and a fit of the completed runs alone with pi near the censored
share). Without any censored run pi is not identified and the cure candidate is marked
``insufficient_data``. Candidates are named ``<family>`` and ``<family>+cure``.

Parameters are exported by name, scale in milliseconds:
``expon {scale}``, ``gamma {shape, scale}``, ``lognorm {shape, scale}`` (shape = sigma of
log-duration, scale = exp(mu)), ``weibull_min {shape, scale}``, ``fisk {shape, scale}``
(log-logistic, S = 1 / (1 + (t / scale)^shape)). They map to scipy as
``dist(shape, loc=0, scale=scale)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from calib_async.stats.censored_likelihood import log_likelihood_parts, minimize_log_params, refit
from calib_async.stats.censoring import (
    DEFAULT_RESOLUTION_MS,
    CensoredDurations,
    censor_durations,
)

__all__ = [
    "DEFAULT_RESOLUTION_MS",
    "FAMILIES",
    "CandidateFit",
    "CensoredDurations",
    "DurationModel",
    "censor_durations",
    "fit_duration_model",
    "fit_family",
    "frozen",
    "log_likelihood",
]

FAMILIES: tuple[str, ...] = ("expon", "gamma", "lognorm", "weibull_min", "fisk")
N_PARAMS: dict[str, int] = {"expon": 1, "gamma": 2, "lognorm": 2, "weibull_min": 2, "fisk": 2}
#: Fewest distinct event durations for a fit of k parameters.
MIN_EVENTS: dict[int, int] = {1: 1, 2: 3, 3: 5}


class Distribution:
    """A family with fixed parameters (loc 0), evaluated through scipy's unfrozen methods.

    Behaves like a scipy frozen distribution for the methods used here, without the cost of
    building one (scipy re-creates the distribution object, docstrings included, per freeze).
    """

    __slots__ = ("args", "dist", "scale")

    def __init__(self, family: str, params: Mapping[str, float]) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown duration family {family!r}; expected one of {FAMILIES}")
        self.dist = getattr(stats, family)
        self.args = () if family == "expon" else (float(params["shape"]),)
        self.scale = float(params["scale"])

    def sf(self, x: Any) -> Any:
        return self.dist.sf(x, *self.args, scale=self.scale)

    def isf(self, q: Any) -> Any:
        return self.dist.isf(q, *self.args, scale=self.scale)

    def cdf(self, x: Any) -> Any:
        return self.dist.cdf(x, *self.args, scale=self.scale)

    def logpdf(self, x: Any) -> Any:
        return self.dist.logpdf(x, *self.args, scale=self.scale)

    def logsf(self, x: Any) -> Any:
        return self.dist.logsf(x, *self.args, scale=self.scale)

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        return np.asarray(
            self.dist.rvs(*self.args, scale=self.scale, size=size, random_state=random_state)
        )


def frozen(family: str, params: Mapping[str, float]) -> Distribution:
    """The distribution of an exported family and its named params (scale in ms, loc 0)."""
    return Distribution(family, params)


def log_likelihood(
    family: str, params: Mapping[str, float], data: CensoredDurations, cure: float = 0.0
) -> float:
    """Censored log-likelihood by hand: logpdf(events) + logsf(right) + log(F(hi) - F(lo)).

    With a runaway share ``cure`` > 0 the cure-model likelihood of ``censored_likelihood``
    (whose interval
    parts are the ``[0, resolution]`` intervals ``censor_durations`` makes).
    """
    if cure > 0.0:
        base = np.array([float(params[k]) for k in _names(family)])
        return log_likelihood_parts(family, base, cure, data)
    rv = frozen(family, params)
    total = float(np.sum(rv.logpdf(data.events)))
    if data.right.size:
        total += float(np.sum(rv.logsf(data.right)))
    if data.interval.shape[0]:
        lo, hi = data.interval[:, 0], data.interval[:, 1]
        with np.errstate(divide="ignore"):
            total += float(np.sum(np.log(rv.cdf(hi) - rv.cdf(lo))))
    return total


@dataclass(frozen=True, slots=True)
class CandidateFit:
    """One family's censored MLE."""

    family: str
    params: Mapping[str, float] | None
    loglik: float | None
    aic: float | None
    status: str  # "ok" | "insufficient_data" | "failed"
    message: str = ""
    cure: bool = False  # fitted as a cure model (runaway share ``cure_fraction``)
    cure_fraction: float = 0.0

    @property
    def n_params(self) -> int:
        return N_PARAMS[self.family] + (1 if self.cure else 0)

    @property
    def name(self) -> str:
        return f"{self.family}+cure" if self.cure else self.family

    def survival(self, t_ms: Any) -> Any:
        """S(t) = pi + (1 - pi) S_b(t) (pi = 0 for a plain fit)."""
        if self.params is None:
            raise ValueError(f"candidate {self.name} has no fitted params")
        pi = self.cure_fraction
        return pi + (1.0 - pi) * frozen(self.family, self.params).sf(t_ms)


@dataclass(frozen=True, slots=True)
class DurationModel:
    """All candidates and the AIC choice (None when no family could be fitted)."""

    candidates: tuple[CandidateFit, ...]
    chosen: CandidateFit | None
    n_events: int
    n_right: int
    n_interval: int


def _log_bfgs(
    func: Callable[..., float], x0: Sequence[float], args: tuple[Any, ...] = (), disp: int = 0
) -> np.ndarray:
    """A quasi-Newton optimiser over log-parameters, for ``rv_continuous.fit(optimizer=...)``."""

    def objective(theta: np.ndarray) -> float:
        value = func(np.exp(theta), *args)
        return float(value) if np.isfinite(value) else 1e300

    start = np.log(np.asarray(x0, dtype=np.float64))
    best = minimize_log_params(objective, start)
    if best is None:  # rescue with a derivative-free search
        nm = optimize.minimize(
            objective,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 4000},
        )
        best = nm.x
    return np.exp(best)


def _start(family: str, data: CensoredDurations) -> tuple[float, ...]:
    """Moment-style starting values (scale last) from the events and right-censored values."""
    ev = data.events
    total_time = float(ev.sum() + data.right.sum() + data.interval[:, 1].sum())
    n_done = ev.size + data.interval.shape[0]
    exp_scale = total_time / max(n_done, 1)  # the exact censored exponential MLE (no zeros)
    if family == "expon" or ev.size < 2:
        return (1.0, exp_scale) if family != "expon" else (exp_scale,)
    logs = np.log(ev)
    if family in ("lognorm", "fisk"):
        if family == "fisk":  # logistic log-durations: sd = pi / (c sqrt 3)
            c = math.pi / (math.sqrt(3.0) * max(float(logs.std()), 1e-3))
            return (min(max(c, 0.1), 50.0), float(np.exp(np.median(logs))))
        return (max(float(logs.std()), 0.05), float(np.exp(logs.mean())))
    if family == "weibull_min":
        k = min(max(math.pi / (math.sqrt(6.0) * max(float(logs.std()), 1e-3)), 0.05), 50.0)
        times = np.concatenate([ev, data.right]) / exp_scale
        scale = exp_scale * float(np.sum(times**k) / max(n_done, 1)) ** (1.0 / k)
        return (k, scale)
    mean, var = float(ev.mean()), float(ev.var())
    shape = min(max(mean * mean / var, 0.05), 1e3) if var > 0 else 1.0
    return (shape, exp_scale / shape)


def fit_family(
    family: str, data: CensoredDurations, *, start: Mapping[str, float] | None = None
) -> CandidateFit:
    """Censored MLE of one family with loc fixed at 0 (``start``: named starting params)."""
    k = N_PARAMS[family]
    too_few = _too_few_events(family, data, k, cure=False)
    if too_few is not None:
        return too_few
    dist = getattr(stats, family)
    names = _names(family)
    x0 = _start(family, data) if start is None else tuple(start[k] for k in names)
    # Cheap hand-written likelihood first; scipy's CensoredData fit then only polishes.
    fast = refit(family, data, dict(zip(names, x0, strict=True)))
    if fast is not None:
        x0 = tuple(fast[k] for k in names)
    try:
        with np.errstate(all="ignore"):
            if family == "expon":
                fitted = dist.fit(data.to_scipy(), floc=0, scale=x0[0], optimizer=_log_bfgs)
            else:
                fitted = dist.fit(data.to_scipy(), x0[0], floc=0, scale=x0[1], optimizer=_log_bfgs)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        return CandidateFit(family, None, None, None, "failed", str(exc).splitlines()[0])
    params = _named(family, fitted)
    if not all(math.isfinite(v) and v > 0 for v in params.values()):
        return CandidateFit(family, None, None, None, "failed", f"non-finite params {params}")
    ll = log_likelihood(family, params, data)
    if not math.isfinite(ll):
        return CandidateFit(family, params, None, None, "failed", "non-finite log-likelihood")
    return CandidateFit(family, params, ll, 2 * k - 2 * ll, "ok")


def _too_few_events(
    family: str, data: CensoredDurations, k: int, *, cure: bool
) -> CandidateFit | None:
    """An ``insufficient_data`` candidate when ``k`` parameters meet too few distinct events."""
    distinct = np.unique(data.events).size + (1 if data.interval.shape[0] else 0)
    if distinct >= MIN_EVENTS[k]:
        return None
    why = f"needs {MIN_EVENTS[k]} distinct completed durations, has {distinct}"
    return CandidateFit(family, None, None, None, "insufficient_data", why, cure=cure)


def _names(family: str) -> tuple[str, ...]:
    return ("scale",) if family == "expon" else ("shape", "scale")


def fit_cure(family: str, data: CensoredDurations, plain: CandidateFit) -> CandidateFit:
    """Cure-model MLE of ``family``; ``plain`` is the same family's plain fit (a start)."""
    if data.right.size == 0:
        return CandidateFit(
            family,
            None,
            None,
            None,
            "insufficient_data",
            "no censored run: a runaway share is not identified",
            cure=True,
        )
    k = N_PARAMS[family] + 1
    too_few = _too_few_events(family, data, k, cure=True)
    if too_few is not None:
        return too_few
    share = data.right.size / max(data.n, 1)
    starts: list[tuple[Mapping[str, float], float]] = []
    if plain.params is not None:
        starts.append((plain.params, max(0.5 * share, 1e-3)))
    done = CensoredDurations(data.events, np.zeros(0), data.interval)
    fit_done = refit(family, done, dict(zip(_names(family), _start(family, done), strict=True)))
    if fit_done is not None:
        starts.append((fit_done, min(max(0.9 * share, 1e-3), 0.99)))
    best: tuple[float, dict[str, float]] | None = None
    for params, pi0 in starts:
        got = refit(family, data, params, cure=pi0)
        if got is None:
            continue
        pi = got.pop("cure_fraction")
        ll = log_likelihood(family, got, data, cure=pi)
        if math.isfinite(ll) and (best is None or ll > best[0]):
            best = (ll, {**got, "cure_fraction": pi})
    if best is None:
        return CandidateFit(family, None, None, None, "failed", "cure fit did not converge", True)
    ll, got = best
    pi = got.pop("cure_fraction")
    return CandidateFit(family, got, ll, 2 * k - 2 * ll, "ok", "", True, pi)


def _named(family: str, fitted: Sequence[float]) -> dict[str, float]:
    if family == "expon":
        _loc, scale = fitted
        return {"scale": float(scale)}
    shape, _loc, scale = fitted
    return {"shape": float(shape), "scale": float(scale)}


def fit_duration_model(
    data: CensoredDurations, families: Sequence[str] = FAMILIES, *, cure: bool = True
) -> DurationModel:
    """Fit every family (and its cure model) and choose the smallest AIC of those that succeeded."""
    fits: list[CandidateFit] = []
    for family in families:
        plain = fit_family(family, data)
        fits.append(plain)
        if cure and plain.status != "insufficient_data":
            fits.append(fit_cure(family, data, plain))
    candidates = tuple(fits)
    ok = [c for c in candidates if c.status == "ok"]
    chosen = min(ok, key=lambda c: c.aic) if ok else None  # type: ignore[arg-type,return-value]
    return DurationModel(
        candidates=candidates,
        chosen=chosen,
        n_events=int(data.events.size),
        n_right=int(data.right.size),
        n_interval=int(data.interval.shape[0]),
    )
