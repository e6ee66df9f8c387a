"""output_dir/report.html: one self-contained page (inline CSS, PNG as data: URIs, no scripts).

It answers first. In order: the checker, its version and the run's facts; the verdict per
tier in words and numbers with intervals and the recommended tier and budget
(:mod:`calib_async.export.report_verdict`); one headline table per tier (rates with CIs,
Youden's J, recommended timeouts with extrapolated or unreachable ones marked, status flags
with reasons, one-line canary/flip/load summaries: :mod:`calib_async.export.report_headline`);
the rates across tiers; the canary, stability and load sections
(:mod:`calib_async.export.report_sections`); per tier the Kaplan–Meier survival of the
training runs' durations against the fitted distribution, the timeout rate against the budget
as the tool predicts it (Kaplan–Meier when the model is misfit), the outcome x ground-truth
confusion matrix and the exported numbers; the statistical self-check (held-out validation);
last, collapsed, the run metadata, the raw validation tables and the held-out item ids.
Opens offline: nothing is fetched.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from numbers import Real
from pathlib import Path
from typing import Any, TypeGuard

import structlog

from calib_async.errors import CalibError
from calib_async.export.report_headline import headline
from calib_async.export.report_html import esc as _e
from calib_async.export.report_html import fmt as _fmt
from calib_async.export.report_html import tier_models
from calib_async.export.report_html import value_html as _value
from calib_async.export.report_sections import (
    labels_held_out_key,
    optional_sections,
    run_details,
)
from calib_async.export.report_verdict import header, self_check, verdict_section
from calib_async.export.verdict import confidence_level
from calib_async.inputs.atomic import write_atomic
from calib_async.records import LabeledRecord, Outcome, Phase, TelemetryRecord, Truth
from calib_async.stats.survival import SurvivalModel

log = structlog.get_logger(__name__)

REPORT_NAME = "report.html"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1240px;padding:1.5rem;color:#1d2430;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:2px solid #dde3ea;padding-bottom:.2rem;
margin-top:2rem} h3{margin-bottom:.3rem} .muted{color:#667}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0}
td,th{border:1px solid #d5dbe3;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f2f5f8} td.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv>tbody>tr>th{white-space:nowrap}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.4rem;font-weight:700;color:#fff}
.pass{background:#2e7d32} .fail{background:#c62828} .unknown{background:#757575}
#answer ul.verdicts{list-style:none;padding:0;margin:.4rem 0}
li.tier-verdict{margin:.35rem 0;padding:.35rem .7rem;border-left:.35rem solid #b26a00;
background:#fff8ec} li.tier-verdict .sentence{font-weight:600}
li.tier-verdict.not_safe{border-color:#c62828;background:#fdeeee}
li.tier-verdict.safe{border-color:#2e7d32;background:#edf7ee}
ul.details{margin:.2rem 0 0;padding-left:1.2rem;font-size:.9rem}
p.recommendation{font-size:1.1rem;font-weight:700;margin:.6rem 0}
p.settings{font-size:.85rem} .self-check{margin:.4rem 0}
table{max-width:100%} td{overflow-wrap:anywhere} tbody th{white-space:nowrap}
p.legend .swatch{display:inline-block;padding:.1rem .5rem;margin:0 .3rem .2rem 0;
border-radius:.25rem;font-size:.8rem}
section{overflow-x:auto}
.grid{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
figure{margin:.3rem 0} .grid figure{flex:0 1 520px}
figure img{max-width:100%;height:auto;border:1px solid #e3e7ec}
figcaption{font-size:.8rem;color:#556}
.tier{border:1px solid #dde3ea;border-radius:.5rem;padding:.3rem 1rem 1rem;margin:1rem 0}
details summary{cursor:pointer;color:#345}
.verdict{font-size:1.1rem;margin:.6rem 0 1rem;padding:.5rem .8rem;border-left:.4rem solid #757575;
background:#f4f4f4} .verdict-pass{border-color:#2e7d32;background:#edf7ee}
.verdict-fail{border-color:#c62828;background:#fdeeee}
.headline-grid{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
table.headline{margin:0;font-size:.8rem} table.headline caption{font-weight:700;text-align:left;
padding:.2rem 0;font-size:.9rem} table.headline td[colspan]{white-space:normal;max-width:11rem}
table.headline td,table.headline th{padding:.15rem .35rem}
.flag{color:#b26a00;font-weight:600} span.ok{color:#2e7d32;font-weight:600}
#details{margin-top:2rem}
"""


def write_report(
    path: Path,
    *,
    export: Mapping[str, Any],
    telemetry: Sequence[TelemetryRecord],
    labeled: Sequence[LabeledRecord],
    held_out: Collection[str] | None = None,
) -> Path:
    """Write the HTML report to ``path`` (a file, or a directory to hold report.html).

    ``held_out``: the item ids validation held out (the fit's split). When given, the survival
    plots show the training runs only, so their n is the headline's; they are listed at the end.
    Returns the file written. Without matplotlib the report is written with tables only and
    says how to get the plots.
    """
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_NAME
    plots: Any
    try:
        import matplotlib  # noqa: F401  (an optional import check: plots need it)

        from calib_async.export import report_plots as plots
    except ImportError:  # matplotlib missing: tables only
        plots = None
    models = tier_models(export)
    held = frozenset(held_out) if held_out is not None else None
    if held is not None:  # the runs (and labels) the models were fitted on
        telemetry = [r for r in telemetry if r.item_id not in held]
        labeled = [lr for lr in labeled if lr.record.item_id not in held]
    level = confidence_level(export)
    body = [
        header(export),
        verdict_section(export),
        headline(models, export, labels_held_out_key(path)),
        _rates_section(models, plots, level),
    ]
    if plots is None:
        body.append(
            '<p class="muted">Plots need matplotlib: <code>pip install matplotlib</code>, '
            "then re-run the export.</p>"
        )
    body += optional_sections(export)
    for tier, model in models.items():
        body.append(_tier_section(tier, model, export, telemetry, labeled, plots, held is not None))
    body.append(self_check(export))
    body.append(run_details(export, held))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>calib-async report</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + f'\n<p class="muted">Generated {_e(datetime.now(UTC).isoformat(timespec="seconds"))}'
        " by calib-async.</p>\n</body></html>\n"
    )
    write_atomic(path, page.encode("utf-8"), "report")
    log.info("report.written", path=str(path), tiers=len(models))
    return path


# ---------------------------------------------------------------------------------------------
# sections


def _rates_section(models: Mapping[str, Mapping[str, Any]], plots: Any, level: float) -> str:
    out = ['<section id="rates"><h2>Rates across tiers</h2>']
    if plots is not None and models:
        png = plots.rates_plot(models)
        if png is not None:
            out.append(_img(png, "rates", "all", f"Rates with {level:.0%} CI bars, per tier "
                            "(the headline tables' numbers)."))  # fmt: skip
    out.append("</section>")
    return "\n".join(out)


def _tier_section(
    tier: str,
    model: Mapping[str, Any],
    export: Mapping[str, Any],
    telemetry: Sequence[TelemetryRecord],
    labeled: Sequence[LabeledRecord],
    plots: Any,
    training_only: bool = False,
) -> str:
    out = [f'<section class="tier" id="tier-{_e(tier)}"><h2>Tier {_e(tier)}</h2>']
    records = [
        r
        for r in telemetry
        if r.tier.lower() == tier.lower() and r.phase == Phase.TELEMETRY.value and r.attempt == 0
    ]
    try:
        dist = SurvivalModel.from_export(model.get("timeout_distribution"))
    except CalibError as exc:
        dist = None
        out.append(f'<p class="muted">Fitted distribution not usable: {_e(str(exc))}</p>')
    timeout_s = _timeout_s(tier, model, export, records)
    rate = _num(model.get("timeout_rate"))
    raw_ci = model.get("timeout_rate_ci")
    ci = (float(raw_ci[0]), float(raw_ci[1])) if _pair(raw_ci) else None
    if plots is not None:
        figs = [
            _img(
                plots.survival_plot(
                    tier, records, dist, timeout_s, (rate, ci), "training runs" if training_only
                    else "runs", confidence_level(export)
                ),
                "survival",
                tier,
                "Kaplan–Meier survival of durations (runs that timed out are right-censored) "
                "against the fitted distribution; the dashed line is the tier's timeout.",
            ),
            _img(
                plots.budget_plot(tier, dist, timeout_s, rate, ci, _tfr(model)),
                "budget",
                tier,
                "Timeout rate the tool predicts for other time budgets (the fitted model, or "
                "Kaplan–Meier up to the budget watched when the model is misfit); diamonds "
                "are the recommended timeouts for target rates.",
            ),
        ]
        out.append('<div class="grid">' + "".join(figs) + "</div>")
    out.append(_fit_summary(model, dist, timeout_s, len(records), training_only))
    out.append("<h3>Outcome × ground truth (labelled runs)</h3>")
    out.append(_confusion([lr for lr in labeled if lr.record.tier.lower() == tier.lower()]))
    out.append(
        "<details><summary>Everything exported for this tier</summary>"
        + _value(model)
        + "</details>"
    )
    out.append("</section>")
    return "\n".join(out)


def _fit_summary(
    model: Mapping[str, Any],
    dist: SurvivalModel | None,
    timeout_s: float | None,
    n_runs: int,
    training_only: bool = False,
) -> str:
    """The tier's headline numbers: timeout, runs, duration fit and its goodness of fit."""
    spec = model.get("timeout_distribution")
    spec = spec if isinstance(spec, Mapping) else {}
    gof = spec.get("goodness_of_fit")
    gof = gof if isinstance(gof, Mapping) else {}
    if dist is None:
        reason = spec.get("reason") or spec.get("status") or "no fitted distribution"
        fit = f'<span class="muted">{_e(str(reason))}</span>'
    else:
        fit = _e(_fit_text(dist))
        if dist.cure_fraction or dist.reported_share:
            fit += _e(
                f"; runaway share {dist.cure_fraction:.3g}, reported {dist.reported_share:.3g}"
            )
        if dist.status != "ok":
            why = "; ".join(str(r) for r in spec.get("status_reasons") or [])
            fit += f" <strong>{_e(dist.status.upper())}</strong> {_e(why)} (Kaplan–Meier used)"
    rows = {
        "timeout": "–" if timeout_s is None else f"{timeout_s:g} s",
        ("training runs plotted" if training_only else "first-attempt telemetry runs"): str(n_runs),
        "training samples": _fmt(model.get("training_samples")),
        "timeout rate": _rate_ci(model, "timeout_rate"),
    }
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows.items())
    body += f"<tr><th>duration fit</th><td>{fit}</td></tr>"
    if gof:
        body += f"<tr><th>goodness of fit</th><td>{_value(gof, 2)}</td></tr>"
    tfr = _tfr(model)
    if tfr:
        text = ", ".join(f"{r:.0%} → {s:.3g} s" for r, s in sorted(tfr.items(), reverse=True))
        body += f"<tr><th>timeout for target rate</th><td>{_e(text)}</td></tr>"
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _confusion(labeled: Sequence[LabeledRecord]) -> str:
    if not labeled:
        return '<p class="muted">No labelled runs for this tier.</p>'
    counts = Counter((_plain(lr.record.outcome), _plain(lr.truth)) for lr in labeled)
    truths = [t.value for t in Truth]
    outcomes = [o.value for o in Outcome]
    outcomes += sorted({o for o, _ in counts} - set(outcomes))
    peak = max(counts.values())
    rows = []
    for o in outcomes:
        cells = []
        for t in truths:
            n = counts.get((o, t), 0)
            shade = 0.08 + 0.6 * n / peak if n else 0.0
            style = f' style="background:rgba(33,102,172,{shade:.2f})"' if n else ""
            cells.append(f'<td class="num"{style}>{n}</td>')
        total = sum(counts.get((o, t), 0) for t in truths)
        rows.append(f'<tr><th>{_e(o)}</th>{"".join(cells)}<td class="num">{total}</td></tr>')
    col_totals = "".join(
        f'<td class="num">{sum(counts.get((o, t), 0) for o in outcomes)}</td>' for t in truths
    )
    return (
        "<table><thead><tr><th>observed \\ truth</th>"
        + "".join(f"<th>{_e(t)}</th>" for t in truths)
        + "<th>total</th></tr></thead><tbody>"
        + "".join(rows)
        + f'<tr><th>total</th>{col_totals}<td class="num">{len(labeled)}</td></tr>'
        + '</tbody></table><p class="muted">Unweighted counts of the stratified label '
        "sample; the exported rates reweight strata.</p>"
    )


# ---------------------------------------------------------------------------------------------
# helpers


def _fit_text(dist: SurvivalModel) -> str:
    """The fitted family with its time parameters in seconds (shapes have no unit)."""
    per_s = 1000.0 if dist.units == "ms" else 1.0
    shown = [
        f"{k}={float(v) / per_s:.3g} s" if k == "scale" else f"{k}={_fmt(v)}"
        for k, v in dist.params.items()
        if k != "loc"
    ]
    return f"{dist.family}({', '.join(shown)})"


def _timeout_s(
    tier: str,
    model: Mapping[str, Any],
    export: Mapping[str, Any],
    records: Sequence[TelemetryRecord],
) -> float | None:
    value = _num(model.get("timeout_s"))
    if value is not None:
        return value
    meta = export.get("calibration_metadata")
    tiers = meta.get("tiers") if isinstance(meta, Mapping) else None
    if isinstance(tiers, Mapping):
        for name, cfg in tiers.items():
            if str(name).lower() == tier.lower() and isinstance(cfg, Mapping):
                value = _num(cfg.get("timeout_s"))
                if value is not None:
                    return value
    return max((r.timeout_s for r in records), default=None)


def _tfr(model: Mapping[str, Any]) -> dict[float, float]:
    raw = model.get("timeout_for_rate")
    out: dict[float, float] = {}
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            try:
                rate = float(k)
            except (TypeError, ValueError):
                continue
            seconds = _num(v)
            if seconds is not None and 0 < rate < 1:
                out[rate] = seconds
    return out


def _img(png: bytes, kind: str, tier: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure class="plot {kind}" data-kind="{kind}" data-tier="{_e(tier)}">'
        f'<img alt="{_e(kind)} plot for {_e(tier)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _rate_ci(model: Mapping[str, Any], key: str) -> str:
    value = _num(model.get(key))
    if value is None:
        return "–"
    ci = model.get(f"{key}_ci")
    if _pair(ci):
        return f"{value:.3f} [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return f"{value:.3f}"


def _plain(value: Any) -> str:
    """An enum's value, or the string itself (records hold outcomes either way)."""
    return str(getattr(value, "value", value))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return None
    return float(value)


def _pair(ci: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(ci, list | tuple) and len(ci) == 2 and all(_num(c) is not None for c in ci)
