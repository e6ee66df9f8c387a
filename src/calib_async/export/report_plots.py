"""The report's figures, drawn with matplotlib's object API (Agg canvas, no pyplot state).

Each function returns PNG bytes. Using ``Figure`` + ``FigureCanvasAgg`` directly keeps this
safe in a worker thread and independent of whatever backend the host process selected.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any, TypeGuard

import numpy as np

from calib_async.records import TelemetryRecord
from calib_async.stats.survival import SurvivalModel

DPI = 110
_RATE_LABELS = {
    "timeout_rate": "timeout rate",
    "spurious_fail_rate": "spurious fail rate",
    "spurious_pass_rate": "spurious pass rate",
    "timeout_given_valid": "timeout | valid",
    "timeout_given_invalid": "timeout | invalid",
}
_MAX_STEP_POINTS = 2000


def _figure(width: float, height: float, **margins: float) -> Any:
    """A figure with fixed margins (in inches, converted to fractions): constrained layout
    drew every figure twice and took half the report's time on a busy machine."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    m = {"left": 0.62, "right": 0.15, "bottom": 0.5, "top": 0.5, **margins}
    fig.subplots_adjust(
        left=m["left"] / width,
        right=1 - m["right"] / width,
        bottom=m["bottom"] / height,
        top=1 - m["top"] / height,
        wspace=m.get("wspace", 0.2),
    )
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def kaplan_meier(
    records: Sequence[TelemetryRecord], confidence: float = 0.95
) -> tuple[Any, Any, Any, Any] | None:
    """(times_s, survival, ci_low, ci_high) of the Kaplan–Meier estimate, timeouts censored.

    ``None`` when there is nothing to estimate (no records, or every run censored).
    """
    from scipy import stats

    durations = np.array([r.duration_ms for r in records], dtype=float) / 1000.0
    censored = np.array([r.timed_out for r in records], dtype=bool)
    if durations.size == 0 or censored.all():
        return None
    data = stats.CensoredData(uncensored=durations[~censored], right=durations[censored])
    result = stats.ecdf(data)
    times = result.sf.quantiles
    surv = result.sf.probabilities
    with warnings.catch_warnings():  # "CI undefined at some observations": NaN there, drawn as gaps
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            # the stubs type this band's ends as floats; they are step functions
            ci: Any = result.sf.confidence_interval(confidence)
            low, high = ci.low.evaluate(times), ci.high.evaluate(times)
        except (ValueError, RuntimeWarning):
            low = high = None
    if times.size > _MAX_STEP_POINTS:  # thin the step curve: the picture does not change
        keep = np.unique(np.linspace(0, times.size - 1, _MAX_STEP_POINTS).astype(int))
        times, surv = times[keep], surv[keep]
        if low is not None and high is not None:
            low, high = low[keep], high[keep]
    return times, surv, low, high


def survival_plot(
    tier: str,
    records: Sequence[TelemetryRecord],
    model: SurvivalModel | None,
    timeout_s: float | None,
    observed: tuple[float | None, Sequence[float] | None] = (None, None),
    what: str = "runs",
    confidence: float = 0.95,
) -> bytes:
    """Kaplan–Meier survival of a tier's durations against the fitted survival, timeout marked.

    The title counts ``records`` as ``what`` (e.g. "training runs"), the n of the tables beside it.
    """
    fig = _figure(5.0, 4.4, bottom=1.3)
    ax = fig.add_subplot()
    n_cens = sum(1 for r in records if r.timed_out)
    km = kaplan_meier(records, confidence)
    t_max = max([timeout_s or 0.0] + [r.duration_ms / 1000.0 for r in records] + [1e-3])
    if km is not None:
        times, surv, low, high = km
        x = np.concatenate([[0.0], times])
        ax.step(
            x,
            np.concatenate([[1.0], surv]),
            where="post",
            color="C0",
            lw=1.8,
            label="Kaplan–Meier (timeouts censored)",
        )
        if low is not None and high is not None:
            ax.fill_between(
                x,
                np.concatenate([[1.0], low]),
                np.concatenate([[1.0], high]),
                step="post",
                color="C0",
                alpha=0.18,
                lw=0,
                label=f"{confidence:.0%} CI",
            )
    else:
        ax.text(0.5, 0.5, "no uncensored durations", transform=ax.transAxes, ha="center")
    grid = np.linspace(0.0, t_max * 1.25, 400)
    if model is not None:
        with np.errstate(all="ignore"):
            sf = model.survival_curve(grid)
        if model.status == "ok":
            ax.plot(grid, sf, color="C3", lw=1.6, ls="-", label=f"fitted {model.family} (used)")
        else:  # the tool predicts with Kaplan–Meier: the rejected fit is drawn for reference
            ax.plot(grid, sf, color="0.55", lw=1.2, ls=":",
                    label=f"fitted {model.family} ({model.status}: not used)")  # fmt: skip
    if timeout_s:
        ax.axvline(timeout_s, color="0.3", ls="--", lw=1.2, label=f"timeout {timeout_s:g} s")
        rate, ci = observed
        if rate is not None:
            _observed_point(ax, timeout_s, rate, ci, "observed timeout rate")
    ax.set_xlim(0, t_max * 1.25)
    ax.set_ylim(0, 1.03)
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("P(duration > t)")
    fit = "no fit" if model is None else model.family
    if model is not None and model.status != "ok":
        fit += f" {model.status}; Kaplan–Meier used"
    ax.set_title(
        f"{tier}: survival of durations\n(n = {len(records)} {what}, {n_cens} timed out; {fit})",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    _legend(ax)
    return _png(fig)


def _observed_point(ax: Any, x: float, rate: float, ci: Sequence[float] | None, label: str) -> None:
    """The observed timeout rate at the timeout, with its interval as an error bar."""
    yerr = None if ci is None else [[max(0.0, rate - ci[0])], [max(0.0, ci[1] - rate)]]
    ax.errorbar([x], [rate], yerr=yerr, fmt="o", color="k", ms=4, capsize=3, label=label)


def budget_plot(
    tier: str,
    model: SurvivalModel | None,
    timeout_s: float | None,
    observed_rate: float | None,
    observed_ci: Sequence[float] | None,
    timeout_for_rate: Mapping[float, float],
) -> bytes:
    """Predicted timeout rate against the time budget (log scale), with recommended budgets.

    The curve is the predictor the tool uses: the model's h + (1 − h) S(t) when its status is
    ``ok``, else Kaplan–Meier up to the largest budget watched (nothing is predicted beyond).
    Diamonds mark the recommended budgets, the same numbers as the tables.
    """
    fig = _figure(5.0, 4.4, bottom=1.3)
    ax = fig.add_subplot()
    top = max([timeout_s or 0.0, *timeout_for_rate.values(), 1e-3]) * 1.6
    if model is not None:
        grid = np.linspace(top / 400, top, 400)
        with np.errstate(all="ignore"):
            pred = np.array(
                [np.nan if (p := model.timeout_probability(t)) is None else p for t in grid]
            )
        pred = np.where(pred >= 1e-6, pred, np.nan)  # below 1e-6: off the chart
        used = (
            f"predicted ({model.family})"
            if model.status == "ok"
            else f"Kaplan–Meier (model {model.status}; nothing predicted beyond)"
        )
        ax.plot(grid, pred, color="C3", lw=1.6, label=used,
                drawstyle="default" if model.status == "ok" else "steps-post")  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no duration fit: no prediction", transform=ax.transAxes, ha="center")
    if timeout_s and observed_rate == 0:
        ax.axvline(
            timeout_s, color="k", ls=":", lw=1.2, label=f"no timeouts observed at {timeout_s:g} s"
        )
    elif timeout_s and observed_rate is not None:
        _observed_point(ax, timeout_s, observed_rate, observed_ci, f"observed at {timeout_s:g} s")
    for rate, seconds in sorted(timeout_for_rate.items(), reverse=True):
        ax.plot([seconds], [rate], marker="D", color="C2", ms=6, ls="none")
        ax.annotate(
            f"{rate:.0%} → {seconds:.3g} s",
            (seconds, rate),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
            color="C2",
        )
    if timeout_for_rate:
        ax.plot([], [], marker="D", color="C2", ls="none", label="recommended budgets")
    ax.set_yscale("log")
    ax.set_ylim(top=1.2)
    ax.set_xlim(0, top)
    ax.set_xlabel("time budget (s)")
    ax.set_ylabel("timeout rate")
    ax.set_title(f"{tier}: predicted timeout rate vs budget", fontsize=10)
    ax.grid(alpha=0.3)
    _legend(ax)
    return _png(fig)


def rates_plot(models: Mapping[str, Mapping[str, Any]]) -> bytes | None:
    """Each rate with its CI, across tiers; ``None`` when no tier has any rate."""
    keys = [k for k in _RATE_LABELS if any(_num(m.get(k)) is not None for m in models.values())]
    if not keys:
        return None
    tiers = list(models)
    fig = _figure(min(3.0 * len(keys), 13.0), 3.2, left=0.45, top=0.35, wspace=0.3)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys, strict=True):
        for i, tier in enumerate(tiers):
            value = _num(models[tier].get(key))
            if value is None:
                ax.text(i, 0.0, "n/a", ha="center", va="bottom", fontsize=8, color="0.4")
                continue
            ci = models[tier].get(f"{key}_ci")
            yerr = None
            if _pair(ci):
                yerr = [[max(0.0, value - ci[0])], [max(0.0, ci[1] - value)]]
            ax.errorbar([i], [value], yerr=yerr, fmt="o", color=f"C{i % 10}", capsize=4, ms=5)
        ax.set_xticks(range(len(tiers)), tiers, fontsize=8)
        ax.set_xlim(-0.6, len(tiers) - 0.4)
        ax.set_ylim(bottom=0)
        ax.set_title(_RATE_LABELS[key], fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def _legend(ax: Any) -> None:
    """Below the axes, so that it never covers the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                  frameon=False)  # fmt: skip


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return None
    return float(value)


def _pair(ci: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(ci, list | tuple) and len(ci) == 2 and all(_num(c) is not None for c in ci)
