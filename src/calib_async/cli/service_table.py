"""The terminal's service tables (after the summary): the verdict mapping with raw strings,
server time against client wall time per tier, and the service designs (reuse effect,
state-leak canaries). Reads the export's ``service`` block only; nothing when it is absent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calib_async.cli.plain_table import PlainTable as Table

RAW_WIDTH = 60


def _s(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "–" if value is None else str(value)


def service_tables(export: Mapping[str, Any]) -> list[Table]:
    service = export.get("service")
    if not isinstance(service, Mapping):
        return []
    tables = []
    records = service.get("records")
    if isinstance(records, Mapping):
        mapping = Table(title="Service verdict mapping", title_justify="left")
        for head in ("server status", "raw error", "HTTP", "outcome", "reason", "runs"):
            mapping.add_column(head)
        for row in records.get("mapping", []):
            raw = str(row.get("raw_error") or "")
            mapping.add_row(
                _s(row.get("server_status")),
                raw if len(raw) <= RAW_WIDTH else raw[: RAW_WIDTH - 1] + "…",
                _s(row.get("http_status")),
                _s(row.get("outcome")),
                _s(row.get("reason")),
                _s(row.get("runs")),
            )
        tables.append(mapping)
        timing = Table(title="Service time (median / p95, s)", title_justify="left")
        for head in ("tier", "reuse", "runs", "server time", "client wall", "client − server"):
            timing.add_column(head)
        reuse = records.get("reuse", {})
        for tier, t in records.get("timing", {}).items():
            timing.add_row(
                tier,
                _s(reuse.get(tier, {}).get("reuse")),
                _s(t["runs"]),
                *(
                    f"{_s(t[k]['median'])} / {_s(t[k]['p95'])}"
                    for k in ("server_time_s", "client_time_s", "client_minus_server_s")
                ),
            )
        tables.append(timing)
    designs = [d for d in service.get("designs", []) if isinstance(d, Mapping)]
    if designs:
        table = Table(title="Service designs", title_justify="left")
        for head in ("profile", "reuse effect", "state leak (reuse)", "state leak (fresh)"):
            table.add_column(head)
        for d in designs:
            effect = d.get("reuse_effect")
            leak = d.get("leak_canaries")
            table.add_row(
                f"{d.get('profile')} @ {d.get('tier')}",
                (
                    f"verified {effect['fresh']['verified']}→{effect['reuse']['verified']}, "
                    f"time ×{_s(effect['client_time_ratio_reuse_over_fresh'])}"
                    if isinstance(effect, Mapping)
                    else "–"
                ),
                *(
                    (
                        f"{leak[side]['spurious_pass']} spurious passes, "
                        f"{leak[side]['spurious_fail']} spurious fails / {leak[side]['runs']}"
                    )
                    if isinstance(leak, Mapping)
                    else "–"
                    for side in ("reuse", "fresh")
                ),
            )
        tables.append(table)
    return tables
