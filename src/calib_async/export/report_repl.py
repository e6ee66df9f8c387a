"""The report's REPL-pool section: the ``lean_repl_designs`` of the export, one block per
profile (reuse effect, aging curve, restart cost, leak canaries). Nothing when absent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from calib_async.export.report_html import esc, value_html


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return "–" if value is None else esc(str(value))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _reuse(r: Mapping[str, Any]) -> str:
    return (
        "<h3>Reuse effect (fresh vs warm)</h3>"
        + _table(
            ["items", "disagreements", "McNemar p", "latency warm/fresh", "elaboration warm/fresh"],
            [
                [
                    r.get("items"),
                    r.get("disagreements"),
                    r.get("mcnemar_p"),
                    r.get("latency_ratio_warm_over_fresh"),
                    r.get("elaboration_ratio_warm_over_fresh"),
                ]
            ],
        )
        + (value_html(r["disagreeing_items"]) if r.get("disagreeing_items") else "")
    )


def _aging(a: Mapping[str, Any]) -> str:
    flips = _table(
        ["fillers k", "items", "flips", "flip rate"],
        [
            [f.get("fillers"), f.get("items"), f.get("flips"), f.get("flip_rate")]
            for f in a.get("flip_rate") or ()
        ],
    )
    hazard = _table(
        ["age from", "age to", "commands", "deaths", "hazard", "95 % CI"],
        [
            [
                h.get("age_from"),
                h.get("age_to"),
                h.get("commands"),
                h.get("deaths"),
                h.get("hazard"),
                " – ".join(_fmt(x) for x in h.get("ci95") or ()),
            ]
            for h in a.get("crash_hazard") or ()
        ],
    )
    curve = a.get("rss_curve") or []
    points = " ".join(f"{p['age']}:{p['rss_mb']:.0f}" for p in curve[:: max(1, len(curve) // 40)])
    return (
        "<h3>Aging</h3>"
        f"<p>RSS growth {_fmt(a.get('rss_growth_mb_per_command'))} MiB per command; "
        f"RSS (age:MiB) {esc(points)}</p><h4>Flip rate against k</h4>{flips}"
        f"<h4>Crash hazard against age</h4>{hazard}"
    )


def _restart(c: Mapping[str, Any]) -> str:
    imports = c.get("import_ms") or {}
    exceed = c.get("cold_exceeds_timeout") or {}
    rows = [
        [level, q.get("n"), q.get("median_ms"), q.get("p90_ms"), q.get("max_ms")]
        for level, q in imports.items()
    ]
    levels = list(imports)
    exceed_rows = [
        [tier, *[probs.get(level) for level in levels]] for tier, probs in exceed.items()
    ]
    return (
        "<h3>Restart cost</h3>"
        + _table(["REPLs started at once", "n", "median import ms", "p90", "max"], rows)
        + "<h4>P(cold import + elaboration &gt; timeout)</h4>"
        + _table(["tier", *[f"{level} at once" for level in levels]], exceed_rows)
    )


def _canaries(k: Mapping[str, Any]) -> str:
    verdict = "pass" if k.get("passed") else "FAIL: state leaks between proofs"
    return f"<h3>State-leak canaries: {esc(verdict)}</h3>" + _table(
        ["canary", "outcome", "expected"],
        [[c.get("canary"), c.get("outcome"), c.get("expected")] for c in k.get("canaries") or ()],
    )


def render_section(export: Mapping[str, Any]) -> str | None:
    designs = export.get("lean_repl_designs")
    if not designs:
        return None
    out = ['<section id="lean-repl"><h2>REPL pool</h2>']
    for block in designs:
        out.append(
            f"<h3>Profile {esc(str(block.get('profile')))} "
            f"at tier {esc(str(block.get('tier')))}</h3>"
        )
        for key, render in (
            ("reuse_effect", _reuse),
            ("aging", _aging),
            ("restart_cost", _restart),
            ("leak_canaries", _canaries),
        ):
            if isinstance(block.get(key), Mapping):
                out.append(render(block[key]))
    out.append("</section>")
    return "\n".join(out)
