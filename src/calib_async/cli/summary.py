"""The final per-tier summary table printed after a calibration (rates, CIs, timeouts).

Reads the export dictionary (calibration.yaml's content) and tolerates missing keys and
``None`` rates. On a non-terminal console the table is rendered 180 columns wide instead of
rich's default 80, so a log file keeps one row per tier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import structlog
from rich.console import Console
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

from calib_async.cli.canary_table import canary_table
from calib_async.cli.repl_table import repl_table
from calib_async.cli.service_table import service_tables

log = structlog.get_logger("calib_async.cli.progress")

LOG_WIDTH = 180  # one row per tier, with the duration fit in seconds


def summary_table(export: Mapping[str, Any], tiers: Sequence[str] = ()) -> Table:
    """One row per tier: timeout, samples, rates with CIs, duration fit, recommended timeouts."""
    table = Table(title="Calibration summary", title_justify="left")
    for head in ("tier", "timeout", "n", "timeout rate", "spurious fail", "spurious pass"):
        table.add_column(head, justify="left" if head == "tier" else "right")
    table.add_column("duration fit")
    table.add_column("recommended timeout")
    for name, model in _tier_models(export, tiers):
        table.add_row(
            name,
            _seconds(model.get("timeout_s")),
            str(model.get("training_samples", "–")),
            _rate_ci(model, "timeout_rate"),
            _rate_ci(model, "spurious_fail_rate"),
            _rate_ci(model, "spurious_pass_rate"),
            _fit(model.get("timeout_distribution")),
            _recommended(model.get("timeout_for_rate")),
        )
    return table


def print_summary(
    console: Console, export: Mapping[str, Any], *, tiers: Sequence[str] = (), log_lines: bool
) -> None:
    """Print the summary table and the validation verdict; also log one line per tier if asked."""
    from calib_async.cli.summary_notes import tier_notes
    from calib_async.cli.summary_stability import stability_table

    stability = stability_table(_tier_models(export, tiers))
    canaries = canary_table(_tier_models(export, tiers))
    repl = repl_table(export)
    for table in (summary_table(export, tiers), stability, canaries, repl, *service_tables(export)):
        if table is not None:
            _print_table(console, table)
    for line in tier_notes(_tier_models(export, tiers)):
        console.print(line)
    report = export.get("validation_report")
    if isinstance(report, Mapping) and report.get("summary") is not None:
        passed = report.get("passed")
        style = "green" if passed is True else "red" if passed is False else ""
        console.print(Text.assemble("Validation: ", (str(report["summary"]), style)))
    if log_lines:
        for name, model in _tier_models(export, tiers):
            log.info(
                "calibration.summary",
                tier=name,
                timeout_rate=_round(model.get("timeout_rate")),
                spurious_fail_rate=_round(model.get("spurious_fail_rate")),
                spurious_pass_rate=_round(model.get("spurious_pass_rate")),
            )


def _print_table(console: Console, table: Table) -> None:
    if console.is_terminal:
        console.print(table)
    else:  # a log file: do not squeeze the table into rich's default 80 columns
        options = console.options.update_width(max(console.width, LOG_WIDTH))
        console.print(Segments(console.render(table, options)), crop=False)


def _tier_models(
    export: Mapping[str, Any], tiers: Sequence[str]
) -> list[tuple[str, Mapping[str, Any]]]:
    """(display name, noise model) in the display's tier order, then any others in the export."""
    models = export.get("noise_models") or {}
    if not isinstance(models, Mapping):
        return []
    by_lower = {str(k).lower(): v for k, v in models.items()}
    known = {t.lower() for t in tiers}
    names = list(tiers) + [str(k) for k in models if str(k).lower() not in known]
    out = []
    for name in names:
        model = by_lower.get(name.lower())
        if isinstance(model, Mapping):
            out.append((name, model))
    return out


def _round(value: Any) -> Any:
    return round(float(value), 4) if isinstance(value, Real) else value


def _seconds(value: Any) -> str:
    return f"{value:g} s" if isinstance(value, Real) else "–"


def _rate_ci(model: Mapping[str, Any], key: str) -> str:
    value = model.get(key)
    if not isinstance(value, Real):
        return "–"
    ci = model.get(f"{key}_ci")
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(isinstance(c, Real) for c in ci):
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{value:.3f}"


#: Duration-fit parameters that are times (the others are shapes, without a unit).
TIME_PARAMS = ("scale", "loc")
_PER_SECOND = {"ms": 1000.0, "s": 1.0}


def _fit(dist: Any) -> str:
    """The duration fit with its time parameters in seconds, like the timeout beside it."""
    if not isinstance(dist, Mapping) or not dist.get("type"):
        return "no fit"
    params = dist.get("params")
    if isinstance(params, Mapping):
        per_s = _PER_SECOND.get(str(dist.get("units") or dist.get("unit") or "ms"))
        shown = []
        for k, v in params.items():
            if not isinstance(v, Real) or k == "loc":
                continue
            if k in TIME_PARAMS:
                shown.append(f"{k}=?" if per_s is None else f"{k}={v / per_s:.3g} s")
            else:
                shown.append(f"{k}={v:.3g}")
        return f"{dist['type']}({', '.join(shown)}){_fit_notes(dist)}"
    return str(dist["type"]) + _fit_notes(dist)


def _fit_notes(dist: Mapping[str, Any]) -> str:
    """Runaway share, reported-timeout share and a non-ok status, when present."""
    notes = [
        f"{label} {dist[key]:.3g}"
        for key, label in (("cure_fraction", "runaway"), ("reported_timeout_share", "reported"))
        if isinstance(dist.get(key), Real) and dist[key] > 0
    ]
    status = dist.get("status")
    if status not in (None, "ok"):
        notes.append(str(status).upper())
    return f" [{', '.join(notes)}]" if notes else ""


def _recommended(tfr: Any) -> str:
    if not isinstance(tfr, Mapping) or not tfr:
        return "–"
    parts = []
    for rate, seconds in tfr.items():
        try:
            r = float(rate)
        except (TypeError, ValueError):
            continue
        if isinstance(seconds, Real):
            parts.append((r, f"{r:.0%}: {seconds:.3g} s"))
        elif seconds is None:
            parts.append((r, f"{r:.0%}: unreachable"))
    return ", ".join(p for _, p in sorted(parts, reverse=True)) or "–"
