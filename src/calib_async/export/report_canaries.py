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


def heat_colour(rate: float, passed: int | None = None) -> str:
    """Green only when nothing passed (caught); any pass is a warm colour, from light orange
    (a few) to deep red (all): a canary that passes is never painted as caught."""
    rate = min(1.0, max(0.0, rate))
    if rate == 0.0 and not passed:
        return "rgb(120,200,120)"
    light, dark = (255, 214, 153), (183, 28, 28)  # light orange -> deep red
    t = 0.15 + 0.85 * rate  # the smallest pass already reads as a warning
    r, g, b = (round(a + (z - a) * t) for a, z in zip(light, dark, strict=True))
    return f"rgb({r},{g},{b})"


def _legend() -> str:
    swatches = [("caught (0 passed)", heat_colour(0.0))] + [
        (f"{p:.0%} passed", heat_colour(p)) for p in (0.05, 0.25, 0.5, 1.0)
    ]
    cells = "".join(
        f'<span class="swatch" style="background:{c}">{esc(label)}</span>' for label, c in swatches
    )
    return f'<p class="legend">Colour: {cells}</p>'


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
    colour = heat_colour(float(rate), passed if isinstance(passed, int) else None)
    text_colour = "#fff" if float(rate) >= 0.5 else "#1d2430"
    return (
        f'<td class="canary num" data-rate="{rate:.4f}" '
        f'style="background:{colour};color:{text_colour}">'
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
        "exploit, so every pass is spurious: a reward from a tier that passes a class can be "
        "gamed by that exploit. Cell: rate (passed/run) and its Wilson 95% interval; n/a: the "
        "class applied to no drawn item.</p>"
        f'<table class="canaries"><thead><tr><th>tier</th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>{_legend()}{_outcomes(models, classes)}</section>'
    )


def _outcomes(models: Mapping[str, Mapping[str, Any]], classes: list[str]) -> str:
    """How the canary runs ended, per tier and class (a typed table, not a dump)."""
    outcomes: list[str] = []
    for model in models.values():
        canaries = model.get("canaries")
        for entry in canaries.values() if isinstance(canaries, Mapping) else ():
            found = entry.get("outcomes") if isinstance(entry, Mapping) else None
            if isinstance(found, Mapping):
                outcomes += [str(o) for o in found if str(o) not in outcomes]
    if not outcomes:
        return ""
    head = "".join(f"<th>{esc(o)}</th>" for o in outcomes)
    rows = []
    for tier, model in models.items():
        canaries = model.get("canaries")
        if not isinstance(canaries, Mapping):
            continue
        for cls in classes:
            entry = canaries.get(cls)
            found = entry.get("outcomes") if isinstance(entry, Mapping) else None
            if not isinstance(found, Mapping) or not found:
                continue
            cells = "".join(f'<td class="num">{esc(str(found.get(o, 0)))}</td>' for o in outcomes)
            rows.append(f"<tr><th>{esc(tier)}</th><th>{esc(cls)}</th>{cells}</tr>")
    return (
        "<details><summary>Canary runs by outcome</summary>"
        f"<table><thead><tr><th>tier</th><th>class</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def render_section(export: Mapping[str, Any]) -> str | None:
    """The report's optional-section hook (see :mod:`calib_async.export.report_sections`)."""
    from calib_async.export.report_html import tier_models

    return canary_section(tier_models(export)) or None
