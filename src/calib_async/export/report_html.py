"""Generic HTML rendering of exported values for the report (no plots, no network).

:func:`value_html` turns any YAML-shaped value into compact tables: a mapping becomes a
key/value table, except that sibling mappings of scalars sharing their keys (per-tier or
per-rate results) are drawn as one rows x columns table; a list of mappings becomes a table.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any

MAX_DEPTH = 4
MAX_COLUMNS = 12


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def fmt(value: Any) -> str:
    """A scalar as short text: 4 significant digits, yes/no, – for None."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Real) and not isinstance(value, int):
        v = float(value)
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(value)


def value_html(value: Any, depth: int = 0) -> str:
    """Any exported value as HTML."""
    if isinstance(value, Mapping):
        if not value:
            return '<span class="muted">–</span>'
        if depth >= MAX_DEPTH:
            return esc(summary_phrase(value))
        rows = {str(k): v for k, v in value.items() if _flat(v)}
        cols: list[str] = []
        for sub in rows.values():
            cols += [str(k) for k in sub if str(k) not in cols]
        if len(rows) >= 2 and len(cols) <= MAX_COLUMNS and _share_keys(rows.values()):
            rest = {str(k): v for k, v in value.items() if str(k) not in rows}
            return _matrix(rows, cols, depth) + (_kv(rest, depth) if rest else "")
        return _kv({str(k): v for k, v in value.items()}, depth)
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, Mapping) for v in value) and depth < MAX_DEPTH:
            cols = []
            for v in value:
                cols += [str(k) for k in v if str(k) not in cols]
            head = "".join(f"<th>{_name(c)}</th>" for c in cols)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{value_html(v.get(c), depth + 1)}</td>" for c in cols)
                + "</tr>"
                for v in value
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return esc("[" + ", ".join(fmt(v) for v in value) + "]")
    return esc(fmt(value))


def summary_phrase(value: Any, limit: int = 6) -> str:
    """A value as one short line of words, never a repr: a mapping's status and reason
    first, then up to ``limit`` of its scalar entries (``rate 0.1 [0.05, 0.2]``), then how
    many nested entries it holds; a list of scalars joined with commas."""
    if isinstance(value, Mapping):
        parts = []
        status = value.get("status")
        if isinstance(status, str):
            reason = value.get("reason") or value.get("status_reason")
            parts.append(status.replace("_", " ") + (f": {reason}" if reason else ""))
        shown = 0
        nested = 0
        for k, v in value.items():
            if str(k) in ("status", "reason", "status_reason"):
                continue
            if isinstance(v, Mapping) or (isinstance(v, list | tuple) and len(v) > 4):
                nested += 1
                continue
            if shown < limit:
                parts.append(f"{str(k).replace('_', ' ')} {_scalar_text(v)}")
                shown += 1
        if nested:
            parts.append(f"{nested} more entr{'y' if nested == 1 else 'ies'} (Run details)")
        return "; ".join(parts)
    if isinstance(value, list | tuple):
        return ", ".join(_scalar_text(v) for v in value[:12]) + (" …" if len(value) > 12 else "")
    return fmt(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return summary_phrase(value)
    return fmt(value)


def _flat(value: Any) -> bool:
    """A non-empty mapping of scalars (or short lists such as CIs)."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(
            not isinstance(x, Mapping) and not (isinstance(x, list | tuple) and len(x) > 4)
            for x in value.values()
        )
    )


def _share_keys(subs: Iterable[Mapping[str, Any]]) -> bool:
    """Rows of one table: their common keys are at least half of the shortest row's."""
    keysets = [{str(k) for k in sub} for sub in subs]
    common = set.intersection(*keysets)
    return len(common) >= max(1, min(len(k) for k in keysets) / 2)


def _name(key: str) -> str:
    """A column name that may break after each underscore (``timeout_s_bootstrap_ci``): a
    table of many such columns still fits its box."""
    return esc(key).replace("_", "_<wbr>")


def _kv(value: Mapping[str, Any], depth: int) -> str:
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{value_html(v, depth + 1)}</td></tr>" for k, v in value.items()
    )
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def _matrix(rows: Mapping[str, Mapping[str, Any]], cols: list[str], depth: int) -> str:
    head = "<th></th>" + "".join(f"<th>{_name(c)}</th>" for c in cols)
    body = "".join(
        f"<tr><th>{esc(name)}</th>"
        + "".join(f"<td>{value_html(sub.get(c), depth + 1) if c in sub else ''}</td>" for c in cols)
        + "</tr>"
        for name, sub in rows.items()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def tier_models(export: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Tier display name -> its noise_models entry (names from calibration_metadata.tiers)."""
    raw = export.get("noise_models")
    if not isinstance(raw, Mapping):
        return {}
    meta = export.get("calibration_metadata")
    meta_tiers = meta.get("tiers") if isinstance(meta, Mapping) else None
    names = {str(n).lower(): str(n) for n in meta_tiers} if isinstance(meta_tiers, Mapping) else {}
    return {
        names.get(str(k).lower(), str(k)): (v if isinstance(v, Mapping) else {})
        for k, v in raw.items()
    }
