"""The terminal's REPL-pool table (after the summary table): one row per profile with its
designs' headline figures. Reads the export dictionary only; None when it has no designs."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

from calib_async.cli.plain_table import PlainTable as Table


def _num(value: Any, fmt: str = "{:.3g}") -> str:
    return fmt.format(value) if isinstance(value, Real) else "–"


def _reuse(block: Mapping[str, Any]) -> str:
    r = block.get("reuse_effect")
    if not isinstance(r, Mapping):
        return "–"
    return (
        f"{r.get('disagreements', 0)}/{r.get('items', 0)} disagree, p={_num(r.get('mcnemar_p'))},"
        f" latency x{_num(r.get('latency_ratio_warm_over_fresh'))}"
    )


def _aging(block: Mapping[str, Any]) -> str:
    a = block.get("aging")
    if not isinstance(a, Mapping):
        return "–"
    flips = ", ".join(
        f"k={f.get('fillers')}: {_num(f.get('flip_rate'), '{:.2f}')}"
        for f in a.get("flip_rate") or ()
    )
    deaths = sum(int(h.get("deaths", 0)) for h in a.get("crash_hazard") or ())
    growth = _num(a.get("rss_growth_mb_per_command"))
    return f"{growth} MiB/command; flips {flips}; {deaths} deaths"


def _restart(block: Mapping[str, Any]) -> str:
    c = block.get("restart_cost")
    if not isinstance(c, Mapping):
        return "–"
    imports = c.get("import_ms") or {}
    parts = [f"{n} at once: {_num(q.get('median_ms'), '{:.0f}')} ms" for n, q in imports.items()]
    exceed = c.get("cold_exceeds_timeout") or {}
    tier = str(block.get("tier"))
    worst = max((v for v in (exceed.get(tier) or {}).values() if isinstance(v, Real)), default=None)
    return "; ".join(parts) + f"; P(cold > timeout) up to {_num(worst, '{:.2f}')}"


def _canaries(block: Mapping[str, Any]) -> str:
    k = block.get("leak_canaries")
    if not isinstance(k, Mapping):
        return "–"
    seen = "/".join(str(c.get("outcome")) for c in k.get("canaries") or ())
    return ("pass" if k.get("passed") else "LEAK") + f" ({seen})"


def repl_table(export: Mapping[str, Any]) -> Table | None:
    designs = export.get("lean_repl_designs")
    if not designs:
        return None
    table = Table(title="REPL pool designs", title_justify="left")
    for head in ("profile", "reuse effect", "aging", "restart cost", "leak canaries"):
        table.add_column(head)
    for block in designs:
        if isinstance(block, Mapping):
            table.add_row(
                f"{block.get('profile')} ({block.get('tier')})",
                _reuse(block),
                _aging(block),
                _restart(block),
                _canaries(block),
            )
    return table
