"""What the terminal prints after a calibration: the answer first, then the tables.

In order: the verdict per tier in words and numbers with intervals and the recommendation
(:mod:`calib_async.export.verdict`, the report's own words), the checker and its tiers, the
per-tier table (rates with CIs, duration fit, recommended timeouts marked *extrapolated* beyond
the tier's budget), the stability, load and canary tables, and last the statistical
self-check (held-out validation). Every interpolated string is literal text, never rich
markup. Reads the export dictionary (calibration.yaml's content) and tolerates missing keys
and ``None`` rates. On a non-terminal console the tables are rendered 180 columns wide
instead of rich's default 80, so a log file keeps one row per tier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import structlog
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segments
from rich.text import Text

from calib_async.cli.canary_table import canary_table
from calib_async.cli.plain_table import PlainTable as Table
from calib_async.cli.repl_table import repl_table
from calib_async.cli.service_table import service_tables
from calib_async.export.verdict import budget, checker_line, status_note, verdict

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
            _recommended(model),
        )
    return table


def print_verdict(console: Console, export: Mapping[str, Any]) -> None:
    """The answer: one line per tier with its details below, then which tier to use."""
    answer = verdict(export)
    console.print(Text(f"Verdict ({answer.confidence:.0%} intervals)", style="bold"))
    for tier in answer.tiers:
        style = {"not_safe": "red", "safe": "green"}.get(tier.safety.value, "yellow")
        console.print(Text.assemble("  ", (tier.sentence, style)))
        for detail in tier.details:
            console.print(Text("    · " + detail))
    console.print(Text.assemble("  ", ("→ " + answer.recommendation, "bold")))
    checker = checker_line(export)
    if checker:
        console.print(Text("  " + checker))


def print_summary(
    console: Console, export: Mapping[str, Any], *, tiers: Sequence[str] = (), log_lines: bool
) -> None:
    """Print the summary table and the validation verdict; also log one line per tier if asked."""
    from calib_async.cli.summary_notes import tier_notes
    from calib_async.cli.summary_stability import stability_table

    print_verdict(console, export)
    stability = stability_table(_tier_models(export, tiers))
    canaries = canary_table(_tier_models(export, tiers))
    repl = repl_table(export)
    for table in (summary_table(export, tiers), stability, canaries, repl, *service_tables(export)):
        if table is not None:
            _print_table(console, table)
    for line in tier_notes(_tier_models(export, tiers)):
        console.print(line)
    for status_line in status_lines(export, tiers):
        console.print(Text(status_line, style="yellow"))
    report = export.get("validation_report")
    if isinstance(report, Mapping) and report.get("summary") is not None:
        passed = report.get("passed")
        style = "green" if passed is True else "red" if passed is False else ""
        console.print(
            Text.assemble(
                "Statistical self-check (held-out validation of the model): ",
                (str(report["summary"]), style),
            )
        )
    if log_lines:
        for name, model in _tier_models(export, tiers):
            log.info(
                "calibration.summary",
                tier=name,
                timeout_rate=_round(model.get("timeout_rate")),
                spurious_fail_rate=_round(model.get("spurious_fail_rate")),
                spurious_pass_rate=_round(model.get("spurious_pass_rate")),
            )


#: Conditional rates whose status the summary explains, and the class each conditions on.
_CONDITIONAL = {
    "spurious_fail_rate": "valid",
    "timeout_given_valid": "valid",
    "spurious_pass_rate": "invalid",
    "timeout_given_invalid": "invalid",
}


def status_lines(export: Mapping[str, Any], tiers: Sequence[str] = ()) -> list[str]:
    """One line per tier and reason a rate is not ``ok`` (or the tier ``failed``)."""
    lines = []
    for name, model in _tier_models(export, tiers):
        if model.get("status") == "failed":
            lines.append(f"{name}: FAILED, {model.get('failed_reason') or 'most runs errored'}")
            continue
        counts = model.get("counts")
        if not isinstance(counts, Mapping):
            continue
        by_reason: dict[str, list[str]] = {}
        for rate, cls in _CONDITIONAL.items():
            entry = counts.get(rate)
            if not isinstance(entry, Mapping):
                continue
            status = entry.get("status")
            if status == "unverified_labels":
                why = f"unverified_labels: {entry.get('unverified_reason')}"
            elif status == "low_labels":
                why = (
                    f"low_labels: fewer than {entry.get('min_class_labels', 10)} labelled "
                    f"{cls} runs, or a stratum with under 3 labels"
                )
            elif status == "partial":
                why = "partial: some labels undetermined; the interval covers every possibility"
            elif status == "insufficient_data":
                why = f"insufficient_data: no labelled {cls} run"
            else:
                continue
            by_reason.setdefault(why, []).append(rate)
        for why, rates in by_reason.items():
            lines.append(f"{name}: {', '.join(rates)} {why}")
    return lines


def every_tier_failed(export: Mapping[str, Any]) -> str | None:
    """One line when every tier failed (nothing was measured), else None."""
    models = _tier_models(export, ())
    if models and all(m.get("status") == "failed" for _, m in models):
        reasons = "; ".join(f"{n}: {m.get('failed_reason')}" for n, m in models)
        return f"every tier failed, the checker never ran properly ({reasons})"
    return None


def _print_table(console: Console, table: Table) -> None:
    if console.is_terminal:
        wide = console.options.update_width(1 << 16)
        if Measurement.get(console, wide, table).maximum > console.width:
            _print_rows(console, table)  # too narrow: one block per row, nothing cut off
            return
        console.print(table)
    else:  # a log file: do not squeeze the table into rich's default 80 columns
        options = console.options.update_width(max(console.width, LOG_WIDTH))
        console.print(Segments(console.render(table, options)), crop=False)


def _print_rows(console: Console, table: Table) -> None:
    """``table`` as one block per row, ``header: cell`` per line, wrapped at words."""
    if table.title is not None:
        console.print(table.title)
    columns = table.columns
    for i in range(table.row_count):
        cells = [_cell_text(c, i) for c in columns]
        console.print(Text(cells[0], style="bold"))
        for column, cell in zip(columns[1:], cells[1:], strict=True):
            header = column.header.plain if isinstance(column.header, Text) else str(column.header)
            console.print(Text(f"  {header}: {cell}"))


def _cell_text(column: Any, row: int) -> str:
    cell = list(column.cells)[row]
    return cell.plain if isinstance(cell, Text) else str(cell)


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
    """The rate with its CI, and its status and reason when the status is not ok."""
    value = model.get(key)
    if not isinstance(value, Real):
        return "–" + status_note(model, key, key in model)
    ci = model.get(f"{key}_ci")
    note = status_note(model, key)
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(isinstance(c, Real) for c in ci):
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]{note}"
    return f"{value:.3f}{note}"


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


def _recommended(model: Mapping[str, Any]) -> str:
    """Per target rate: the budget with its interval and marks (extrapolated, Kaplan–Meier),
    or ``unreachable`` with the reason."""
    tfr = model.get("timeout_for_rate")
    if not isinstance(tfr, Mapping) or not tfr:
        return "–"
    parts = []
    for rate in tfr:
        try:
            r = float(rate)
        except (TypeError, ValueError):
            continue
        found = budget(model, r)
        if found is not None:
            parts.append((r, f"{r:.0%}: {found[1]}"))
        else:
            recs = model.get("timeout_recommendations")
            rec = next(
                (v for k, v in (recs.items() if isinstance(recs, Mapping) else ())
                 if _same(k, r) and isinstance(v, Mapping)),
                None,
            )  # fmt: skip
            why = " (below)" if rec and rec.get("reason") else ""
            parts.append((r, f"{r:.0%}: unreachable{why}"))
    return ", ".join(p for _, p in sorted(parts, reverse=True)) or "–"


def _same(key: Any, rate: float) -> bool:
    try:
        return abs(float(key) - rate) < 1e-9
    except (TypeError, ValueError):
        return False
