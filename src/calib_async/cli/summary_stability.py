"""The stability and load table printed after the calibration summary (when either ran).

One row per tier: the flip rate with its CI, items with any flip, the timeout rate at each
load level, the fitted slope (log-odds per unit of log level) with its CI, the between-block
variation of the load experiment (ICC and the test's p-value; "–" with one block per level),
and the largest concurrency whose predicted timeout rate stays at or below 5 %.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from calib_async.cli.plain_table import PlainTable as Table

TARGET = 0.05


def stability_table(models: Sequence[tuple[str, Mapping[str, Any]]]) -> Table | None:
    """The table, or None when no tier has ``flips`` or ``load``."""
    rows = [(n, m) for n, m in models if "flips" in m or "load" in m]
    if not rows:
        return None
    table = Table(title="Verdict stability and load", title_justify="left")
    heads = ("tier", "flip rate", "items with flip", "timeout rate by level", "slope", "blocks")
    for head in heads:
        table.add_column(head, justify="left" if head == "tier" else "right")
    table.add_column(f"max concurrency ≤{TARGET:.0%}", justify="right")
    for name, model in rows:
        flips = _block(model, "flips")
        load = _block(model, "load")
        table.add_row(
            name,
            _value_ci(flips.get("flip_rate"), flips.get("flip_rate_ci")),
            _items(flips),
            _levels(load.get("levels")),
            _value_ci(load.get("slope"), load.get("slope_ci"), fmt="{:+.2f}"),
            _blocks(load.get("between_blocks")),
            _max_concurrency(load),
        )
    return table


def _block(model: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    block = model.get(key)
    return block if isinstance(block, Mapping) else {}


def _num(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _value_ci(value: Any, ci: Any, fmt: str = "{:.3f}") -> str:
    if not _num(value):
        return "–"
    text = fmt.format(value)
    if isinstance(ci, list | tuple) and len(ci) == 2:
        ends = ["∞" if not _num(c) else fmt.format(c) for c in ci]
        text += f" [{ends[0]}, {ends[1]}]"
    return text


def _items(flips: Mapping[str, Any]) -> str:
    if not _num(flips.get("items")) or not flips.get("items"):
        return "–"
    return f"{flips.get('items_with_flip', 0)}/{flips['items']}"


def _levels(levels: Any) -> str:
    if not isinstance(levels, list):
        return "–"
    parts = [
        f"{row['level']}: {row['rate']:.2f}"
        for row in levels
        if isinstance(row, Mapping) and _num(row.get("level")) and _num(row.get("rate"))
    ]
    return ", ".join(parts) or "–"


def _blocks(entry: Any) -> str:
    """ICC and p of the between-block test ("differ" when p <= 0.05), or "–"."""
    if not isinstance(entry, Mapping) or entry.get("status") != "ok":
        return "–"
    icc: Any = entry.get("icc")
    p: Any = entry.get("p_value")
    if not (_num(icc) and _num(p)):
        return "–"
    return f"ICC {icc:.2f}, p {p:.2g}" + (" differ" if p <= 0.05 else "")


def _max_concurrency(load: Mapping[str, Any]) -> str:
    table = load.get("max_concurrency_for_rate")
    if not isinstance(table, Mapping):
        return "–"
    entry = next((v for k, v in table.items() if _num(k) and abs(float(k) - TARGET) < 1e-9), None)
    if not isinstance(entry, Mapping):
        return "–"
    est, cons = entry.get("estimate"), entry.get("conservative")
    if est is None:
        return "< 1"
    return f"{est} (conservative {cons if cons is not None else '< 1'})"
