"""The bottom of the report: optional sections contributed by other modules (the report's
extension point), then the collapsed run details.

A section renderer is a function ``(export: Mapping[str, Any]) -> str | None`` returning an HTML
fragment (conventionally one ``<section>``) or None when it has nothing to show for this export.
To add one, write the module and add one line to :data:`OPTIONAL_SECTIONS`. A listed module
that does not exist is skipped, so a renderer can be registered before its module lands; one
that raises is reported in the page (and the log) instead of losing the whole report.
Sections appear after the per-tier sections, before the collapsed run details.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from calib_async.export.report_html import esc, value_html

log = structlog.get_logger(__name__)

SectionRenderer = Callable[[Mapping[str, Any]], "str | None"]

_VALIDATION_KEYS = ("tier_monotonicity", "calibration_error", "coverage")

#: "module:function" of each optional section renderer, in page order.
OPTIONAL_SECTIONS: tuple[str, ...] = (
    "calib_async.export.report_canaries:render_section",
    "calib_async.export.report_stability:render_section",
    "calib_async.export.report_repl:render_section",
    "calib_async.export.report_service:render_section",
)


def load_renderer(spec: str) -> SectionRenderer | None:
    """The renderer named ``module:function``, or None when its module does not exist."""
    module_name, _, func = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:  # the module exists but one of its imports is missing
            raise
        return None
    renderer = getattr(module, func or "render_section", None)
    return renderer if callable(renderer) else None


def optional_sections(export: Mapping[str, Any], specs: tuple[str, ...] | None = None) -> list[str]:
    """The HTML of every registered section that has something to show."""
    out = []
    for spec in OPTIONAL_SECTIONS if specs is None else specs:
        try:
            renderer = load_renderer(spec)
            html = renderer(export) if renderer is not None else None
        except Exception as exc:  # a broken section must not cost the whole report
            log.warning("report.section_failed", section=spec, error=repr(exc))
            html = (
                f'<section class="section-error"><p class="muted">Section {esc(spec)} '
                f"could not be rendered: {esc(repr(exc))}</p></section>"
            )
        if html:
            out.append(html)
    return out


def run_details(export: Mapping[str, Any], held: frozenset[str] | None) -> str:
    """Run metadata, the raw validation tables and the held-out ids, collapsed, at the end."""
    out = ['<details id="details"><summary><b>Run details</b>: metadata, validation tables, '
           "held-out items</summary>"]  # fmt: skip
    meta = export.get("calibration_metadata")
    if isinstance(meta, Mapping) and meta:
        out.append("<h3>Run metadata</h3>" + value_html(meta))
    report = export.get("validation_report")
    if isinstance(report, Mapping):
        for key in _VALIDATION_KEYS:
            if key in report:
                title = f"Validation: {key.replace('_', ' ')}"
                out.append(f"<h3>{esc(title)}</h3>{value_html(report[key])}")
        rest = {k: v for k, v in report.items() if k not in _VALIDATION_KEYS}
        if rest:
            out.append("<h3>Validation: summary and counts</h3>" + value_html(rest))
    else:
        out.append('<p class="muted">No validation report in the export.</p>')
    if held:
        ids = ", ".join(sorted(held))
        out.append(f'<h3>Held-out items ({len(held)})</h3><p class="held-ids">{esc(ids)}</p>')
    out.append("</details>")
    return "\n".join(out)


def labels_held_out_key(report_path: Path) -> str | None:
    """The key of the labels.json beside the report that lists held-out item ids, if any."""
    try:
        data = json.loads((report_path.parent / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, Mapping):
        return None
    split = data.get("validation_split")
    if isinstance(split, Mapping) and split.get("held_out"):
        return "validation_split.held_out"
    return next((str(k) for k, v in data.items() if "held_out" in str(k) and v), None)
