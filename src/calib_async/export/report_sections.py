"""Optional report sections contributed by other modules: the extension point of the report.

A section renderer is a function ``(export: Mapping[str, Any]) -> str | None`` returning an HTML
fragment (conventionally one ``<section>``) or None when it has nothing to show for this export.
To add one, write the module and add one line to :data:`OPTIONAL_SECTIONS`. A listed module
that does not exist is skipped, so a renderer can be registered before its module lands; one
that raises is reported in the page (and the log) instead of losing the whole report.
Sections appear after the per-tier sections, before the collapsed run details.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from calib_async.export.report_html import esc

log = structlog.get_logger(__name__)

SectionRenderer = Callable[[Mapping[str, Any]], "str | None"]

#: "module:function" of each optional section renderer, in page order.
OPTIONAL_SECTIONS: tuple[str, ...] = (
    "calib_async.export.report_canaries:render_section",
    "calib_async.export.report_stability:render_section",
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
