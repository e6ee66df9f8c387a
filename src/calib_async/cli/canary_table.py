"""The terminal's tier x class table of canary spurious-pass rates (after the summary table).

A cell is ``passed/run`` with the rate; ``n/a`` when the class applied to no drawn item and
``–`` when it has no runs. Reads the export dictionary only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from calib_async.cli.plain_table import PlainTable as Table


def canary_classes(models: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Every canary class in the export, in first-seen order."""
    seen: list[str] = []
    for _, model in models:
        canaries = model.get("canaries")
        if isinstance(canaries, Mapping):
            seen += [str(c) for c in canaries if str(c) not in seen]
    return seen


def canary_cell(entry: Any) -> str:
    """``1/8 0.12`` for one tier x class entry; ``n/a`` or ``–`` when there is no rate."""
    if not isinstance(entry, Mapping):
        return "–"
    rate, run, passed = entry.get("spurious_pass_rate"), entry.get("run"), entry.get("passed")
    if not isinstance(rate, Real) or not run:
        return "n/a" if entry.get("not_applicable") else "–"
    return f"{passed}/{run} {rate:.2f}"


def canary_table(models: Sequence[tuple[str, Mapping[str, Any]]]) -> Table | None:
    """Rows: tiers; columns: classes; None when no tier has canaries."""
    classes = canary_classes(models)
    if not classes:
        return None
    table = Table(
        title="Canaries: spurious passes (passed/run, rate) by exploit class",
        title_justify="left",
    )
    table.add_column("tier")
    for cls in classes:
        table.add_column(cls, justify="right")
    for name, model in models:
        canaries = model.get("canaries")
        if not isinstance(canaries, Mapping):
            continue
        table.add_row(name, *(canary_cell(canaries.get(cls)) for cls in classes))
    return table
