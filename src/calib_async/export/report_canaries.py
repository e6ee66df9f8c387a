"""The report's canary section: a tier x exploit-class heat map of spurious-pass rates.

An HTML table whose cells are coloured from green (no canary passed) to red (every canary
passed), each showing the rate, ``passed/run`` and the Wilson interval; a class that applied
to no drawn item shows ``n/a``. Plain HTML, so it needs no plotting library.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

from calib_async.export.report_html import esc


def heat_colour(rate: float) -> str:
    """``rgb(...)`` from green (0) through yellow (0.5) to red (1)."""
    rate = min(1.0, max(0.0, rate))
    red = round(255 * min(1.0, 2 * rate))
    green = round(200 * min(1.0, 2 * (1 - rate)))
    return f"rgb({red},{green},80)"


def _cell(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return '<td class="canary none">–</td>'
    rate, run, passed = entry.get("spurious_pass_rate"), entry.get("run"), entry.get("passed")
    if not isinstance(rate, Real) or not run:
        text = "n/a" if entry.get("not_applicable") else "–"
        return f'<td class="canary none" title="not applicable or not run">{text}</td>'
    ci = entry.get("spurious_pass_rate_ci")
    interval = (
        f"<br><small>[{ci[0]:.2f}, {ci[1]:.2f}]</small>"
        if isinstance(ci, list | tuple) and len(ci) == 2 and all(isinstance(c, Real) for c in ci)
        else ""
    )
    colour = heat_colour(float(rate))
    return (
        f'<td class="canary" data-rate="{rate:.4f}" style="background:{colour}">'
        f"<b>{rate:.2f}</b> ({esc(str(passed))}/{esc(str(run))}){interval}</td>"
    )


def canary_section(models: Mapping[str, Mapping[str, Any]]) -> str:
    """The heat map section, or "" when no tier has canaries."""
    classes: list[str] = []
    for model in models.values():
        canaries = model.get("canaries")
        if isinstance(canaries, Mapping):
            classes += [str(c) for c in canaries if str(c) not in classes]
    if not classes:
        return ""
    head = "".join(f"<th>{esc(c)}</th>" for c in classes)
    rows = []
    for tier, model in models.items():
        canaries = model.get("canaries")
        if isinstance(canaries, Mapping):
            cells = "".join(_cell(canaries.get(c)) for c in classes)
            rows.append(f"<tr><th>{esc(tier)}</th>{cells}</tr>")
    return (
        '<section id="canaries"><h2>Canaries: spurious-pass rate by exploit class</h2>'
        '<p class="muted">Each canary is an invalid variant of a corpus item made by one known '
        "exploit, so every pass is spurious. Cell: rate (passed/run) and Wilson 95% interval; "
        "green: the tier caught every canary, red: it passed them all.</p>"
        f'<table class="canaries"><tr><th>tier</th>{head}</tr>{"".join(rows)}</table></section>'
    )


def render_section(export: Mapping[str, Any]) -> str | None:
    """The report's optional-section hook (see :mod:`calib_async.export.report_sections`)."""
    from calib_async.export.report_html import tier_models

    return canary_section(tier_models(export)) or None
