"""What a calibration of a service shows: computed from the records' ``checker`` blocks.

Pure and JSON-ready, for the YAML export, the summary and the report:

``mapping``
    One row per (server status, raw error string, HTTP status) with our outcome, its
    sub-reason and the number of runs: the mapping as applied, recomputable from raw strings.
``timing``
    Per tier: the server's own ``time`` against our client wall time (median and 95th
    percentile of each, and of the difference: queueing, HTTP and JSON overhead).
``reuse``
    Per tier: its ``reuse`` flag, outcome rates and how many distinct REPLs answered: tiers
    that differ only in ``reuse`` show its effect side by side.
``state_leak``
    When leak-canary pairs ran (:mod:`calib_async.checkers.service.leak`): spurious passes
    and fails per tier.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from calib_async.checkers.service.leak import Role, score
from calib_async.records import Outcome

_ROLES = frozenset(r.value for r in Role)


def _block(record: Any) -> Mapping[str, Any] | None:
    block = getattr(record, "checker", None)
    return block if isinstance(block, Mapping) and "api" in block else None


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p95": None}
    arr = np.asarray(values, dtype=float)
    return {
        "median": round(float(np.median(arr)), 6),
        "p95": round(float(np.quantile(arr, 0.95)), 6),
    }


def service_summary(records: Iterable[Any]) -> dict[str, Any] | None:
    """The service section, or None when no record came from a service checker."""
    rows: Counter[tuple[Any, ...]] = Counter()
    server: dict[str, list[float]] = defaultdict(list)
    client: dict[str, list[float]] = defaultdict(list)
    overhead: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    reuse: dict[str, set[bool]] = defaultdict(set)
    repls: dict[str, set[str]] = defaultdict(set)
    leaks: dict[str, list[tuple[Role, Outcome]]] = defaultdict(list)
    any_block = False
    for record in records:
        block = _block(record)
        if block is None:
            continue
        any_block = True
        tier = str(record.tier)
        rows[
            (
                block.get("server_status"),
                block.get("raw_error"),
                block.get("http_status"),
                record.outcome,
                block.get("reason"),
            )
        ] += 1
        client_s = block.get("client_time_s")
        server_s = block.get("server_time_s")
        if isinstance(client_s, int | float):
            client[tier].append(float(client_s))
            if isinstance(server_s, int | float):
                server[tier].append(float(server_s))
                overhead[tier].append(float(client_s) - float(server_s))
        outcomes[tier][record.outcome] += 1
        reuse[tier].add(bool(block.get("reuse")))
        if block.get("repl_uuid"):
            repls[tier].add(str(block["repl_uuid"]).replace("-", ""))
        role = block.get("leak_role")
        if isinstance(role, str) and role in _ROLES:
            leaks[tier].append((Role(role), Outcome(record.outcome)))
    if not any_block:
        return None
    mapping = [
        {
            "server_status": status,
            "raw_error": raw,
            "http_status": http,
            "outcome": outcome,
            "reason": reason,
            "runs": n,
        }
        for (status, raw, http, outcome, reason), n in sorted(
            rows.items(), key=lambda kv: (-kv[1], str(kv[0]))
        )
    ]
    tiers = sorted(client)
    timing = {
        t: {
            "runs": len(client[t]),
            "server_time_s": _quantiles(server[t]),
            "client_time_s": _quantiles(client[t]),
            "client_minus_server_s": _quantiles(overhead[t]),
        }
        for t in tiers
    }
    reuse_effect = {}
    for t in sorted(outcomes):
        n = sum(outcomes[t].values())
        flags = reuse[t]
        reuse_effect[t] = {
            "reuse": next(iter(flags)) if len(flags) == 1 else None,
            "runs": n,
            "rates": {o.value: round(outcomes[t][o.value] / n, 6) for o in Outcome},
            "distinct_repls": len(repls[t]),
        }
    out: dict[str, Any] = {"mapping": mapping, "timing": timing, "reuse": reuse_effect}
    if leaks:
        out["state_leak"] = {t: score(pairs).as_dict() for t, pairs in sorted(leaks.items())}
    return out


def service_section(
    records: Iterable[Any], designs: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any] | None:
    """The export's ``service`` block: ``records`` (the summary) and ``designs``; None when
    neither has anything."""
    out: dict[str, Any] = {}
    if (summary := service_summary(records)) is not None:
        out["records"] = summary
    if designs := [dict(d) for d in designs]:
        out["designs"] = designs
    return out or None
