"""The report's "Verdict stability and load" section (when ``--replicates`` or
``--load-levels`` ran): a flips table per tier, and the timeout rate against the load level
with exact 95% intervals per tier, the fitted logistic curve and its interval at each level.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

from calib_async.export.report_html import esc as _e
from calib_async.export.report_html import fmt as _fmt
from calib_async.stats.load_blocks import heterogeneity_phrase


def stability_section(models: Mapping[str, Mapping[str, Any]], plots_available: bool) -> str:
    """HTML for the section; empty when no tier has ``flips`` or ``load``."""
    flips = {t: m["flips"] for t, m in models.items() if isinstance(m.get("flips"), Mapping)}
    loads = {t: m["load"] for t, m in models.items() if isinstance(m.get("load"), Mapping)}
    if not flips and not loads:
        return ""
    out = ['<section id="stability"><h2>Verdict stability and load</h2>']
    if flips:
        out.append(_flips_table(flips))
    if loads:
        if plots_available:
            png = load_plot(loads)
            data = base64.b64encode(png).decode("ascii")
            out.append(
                '<figure class="plot load" data-kind="load" data-tier="all">'
                f'<img alt="timeout rate against load level" src="data:image/png;base64,{data}">'
                "<figcaption>Timeout rate against the number of checkers in flight (load "
                "experiment): observed rates with exact 95% intervals, the fitted logistic "
                "curve in log(level) (Firth) and its 95% profile interval at each level."
                "</figcaption></figure>"
            )
        out.append(_load_table(loads))
    out.append("</section>")
    return "\n".join(out)


def _num(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def _ci(value: Any, ci: Any) -> str:
    if not _num(value):
        return "–"
    text = f"{value:.3f}"
    if isinstance(ci, list | tuple) and len(ci) == 2:
        text += " [" + ", ".join(f"{c:.3f}" if _num(c) else "∞" for c in ci) + "]"
    return text


def _flips_table(flips: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for tier, f in flips.items():
        pairs = f.get("by_outcome_pair") or {}
        shown = ", ".join(
            f"{k.replace('|', ' ↔ ')}: {v.get('pairs')} pairs"
            for k, v in pairs.items()
            if isinstance(v, Mapping)
        )
        cells = [
            _ci(f.get("flip_rate"), f.get("flip_rate_ci")),
            f"{f.get('items_with_flip', '–')}/{f.get('items', '–')}",
            _ci(f.get("share_items_with_flip"), f.get("share_items_with_flip_ci")),
        ]
        rows.append(
            f"<tr><th>{_e(tier)}</th>"
            + "".join(f"<td class='num'>{_e(c)}</td>" for c in cells)
            + f"<td>{_e(shown or 'none')}</td></tr>"
        )
    return (
        '<h3 id="flips">Flips (replicated runs)</h3><table><thead><tr><th>tier</th>'
        "<th>flip rate</th>"
        "<th>items with a flip</th><th>share of items</th><th>flipping pairs by outcome</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        '<p class="muted">Flip rate: P(two runs of the same item disagree), 95% interval '
        "clustered by item.</p>"
    )


def _load_table(loads: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for tier, fit in loads.items():
        mc = fit.get("max_concurrency_for_rate") or {}
        shown = ", ".join(
            f"{float(r):.0%}: {_concurrency(v.get('estimate'))} "
            f"({_concurrency(v.get('conservative'))})"
            for r, v in mc.items()
            if isinstance(v, Mapping)
        )
        order = fit.get("block_order")
        order_text = (
            " → ".join(str(b[-1]) if isinstance(b, list | tuple) else str(b) for b in order)
            if isinstance(order, list | tuple)
            else "–"
        )
        status = str(fit.get("status") or "–").replace("_", " ")
        if fit.get("reason"):
            status += f": {fit['reason']}"
        blocks = heterogeneity_phrase(fit.get("between_blocks"))
        if blocks:
            status += f"; {blocks}"
        rows.append(
            f"<tr><th>{_e(tier)}</th><td>{_e(status)}</td>"
            f"<td class='num'>{_e(_ci(fit.get('slope'), fit.get('slope_ci')))}</td>"
            f"<td class='num'>{_e(_fmt(fit.get('slope_p_value')))}</td>"
            f"<td>{_e(order_text)}</td><td>{_e(shown or '–')}</td></tr>"
        )
    return (
        '<h3 id="load">Load experiment</h3><table><thead><tr><th>tier</th><th>status</th>'
        "<th>slope (log-odds per log level)</th><th>p (no load effect)</th><th>block order</th>"
        "<th>max concurrency for a timeout rate: estimate (conservative); none: level 1 "
        "already exceeds it</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _concurrency(value: Any) -> str:
    """A concurrency level, or "none" (level 1 already exceeds the target)."""
    return _fmt(value) if _num(value) else "none"


def load_plot(loads: Mapping[str, Mapping[str, Any]]) -> bytes:
    """PNG: observed timeout rate per level (exact CI bars) and the fitted curve, per tier."""
    import numpy as np

    from calib_async.export.report_plots import _figure, _png

    fig = _figure(5.6, 4.4, bottom=1.3)
    ax = fig.add_subplot()
    top, ticks = 1, set()
    for i, (tier, fit) in enumerate(loads.items()):
        rows = [
            r for r in fit.get("levels") or [] if isinstance(r, Mapping) and _num(r.get("rate"))
        ]
        if not rows:
            continue
        color = f"C{i % 10}"
        shift = 1.0 + 0.03 * (i - (len(loads) - 1) / 2)  # side by side on the log axis
        x = np.array([float(r["level"]) for r in rows]) * shift
        y = np.array([float(r["rate"]) for r in rows])
        lo = np.array([float(r["rate_ci"][0]) for r in rows])
        hi = np.array([float(r["rate_ci"][1]) for r in rows])
        ax.errorbar(
            x, y, yerr=[y - lo, hi - y], fmt="o", color=color, capsize=3, label=f"{tier} observed"
        )
        top = max(top, int(max(r["level"] for r in rows)))
        ticks |= {int(r["level"]) for r in rows}
        a, b = fit.get("intercept"), fit.get("slope")
        if _num(a) and _num(b):
            grid = np.geomspace(1, max(2, top), 100)
            ax.plot(
                grid,
                1 / (1 + np.exp(-(a + b * np.log(grid)))),
                color=color,
                lw=1.4,
                label=f"{tier} fit",
            )
            band = [r for r in rows if isinstance(r.get("predicted_ci"), list)]
            if band:
                ax.fill_between(
                    [float(r["level"]) for r in band],
                    [float(r["predicted_ci"][0]) for r in band],
                    [float(r["predicted_ci"][1]) for r in band],
                    color=color, alpha=0.12, lw=0,
                )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("checkers in flight (load level, log scale)")
    ax.set_ylabel("timeout rate")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    ax.set_title("Timeout rate against load (95% intervals)", fontsize=9)
    return _png(fig)


def render_section(export: Mapping[str, Any]) -> str | None:
    """The report's optional-section hook (see :mod:`calib_async.export.report_sections`)."""
    from calib_async.export.report_html import tier_models

    return stability_section(tier_models(export), _plots_available()) or None


def _plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
