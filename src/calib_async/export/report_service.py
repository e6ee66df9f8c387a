"""The report's service section: the export's ``service`` block (see
:mod:`calib_async.checkers.service.summary` and :mod:`calib_async.checkers.service.designs`).

Shows the verdict mapping with the server's raw strings, the server's ``time`` against the
client's wall time per tier, the reuse effect, the state-leak canaries (spurious passes and
fails) and the timeout sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from calib_async.export.report_html import esc


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int | float):
        return f"{value:.{digits}g}"
    return esc(str(value))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _mapping(rows: Sequence[Mapping[str, Any]]) -> str:
    cells = [
        [
            esc(str(r.get("server_status"))),
            f"<code>{esc(str(r.get('raw_error') or ''))}</code>",
            _num(r.get("http_status")),
            esc(str(r.get("outcome"))),
            esc(str(r.get("reason"))),
            _num(r.get("runs")),
        ]
        for r in rows
    ]
    head = ["server status", "raw error", "HTTP", "outcome", "reason", "runs"]
    return "<h3>Verdict mapping</h3>" + _table(head, cells)


def _timing(timing: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for tier, t in timing.items():
        server, client, gap = t["server_time_s"], t["client_time_s"], t["client_minus_server_s"]
        rows.append(
            [
                esc(tier),
                _num(t["runs"]),
                f"{_num(server['median'])} / {_num(server['p95'])}",
                f"{_num(client['median'])} / {_num(client['p95'])}",
                f"{_num(gap['median'])} / {_num(gap['p95'])}",
            ]
        )
    head = ["tier", "runs", "server time s (median / p95)", "client wall s", "client − server"]
    return "<h3>Server time against client wall time</h3>" + _table(head, rows)


def _reuse(reuse: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [
        [
            esc(tier),
            _num(r.get("reuse")),
            _num(r.get("runs")),
            " ".join(f"{esc(k)} {_num(v)}" for k, v in r.get("rates", {}).items() if v),
            _num(r.get("distinct_repls")),
        ]
        for tier, r in reuse.items()
    ]
    head = ["tier", "reuse", "runs", "outcome rates", "distinct REPLs"]
    return "<h3>Reuse per tier</h3>" + _table(head, rows)


def _leak(leak: Mapping[str, Any], label: str) -> str:
    rows = []
    for side in ("reuse", "fresh"):
        s = leak.get(side)
        if isinstance(s, Mapping):
            rows.append(
                [
                    esc(side),
                    _num(s["runs"]),
                    _num(s["spurious_pass"]),
                    _num(s["spurious_fail"]),
                    _num(s["undecided"]),
                ]
            )
    head = ["snippets after the definer", "runs", "spurious passes", "spurious fails", "undecided"]
    return f"<h3>State-leak canaries ({esc(label)})</h3>" + _table(head, rows)


def _designs(design: Mapping[str, Any]) -> str:
    label = f"{design.get('profile')} at {design.get('tier')}"
    out = []
    reuse = design.get("reuse_effect")
    if isinstance(reuse, Mapping):
        out.append(
            f"<h3>Reuse effect ({esc(label)})</h3><p>{reuse['items']} items, fresh then reused: "
            f"verified {reuse['fresh']['verified']} / {reuse['reuse']['verified']}; "
            f"passes only fresh {reuse['pass_fresh_only']}, only reused "
            f"{reuse['pass_reuse_only']} (exact McNemar p = {_num(reuse['mcnemar_exact_p'])}); "
            f"client time ratio reused/fresh {_num(reuse['client_time_ratio_reuse_over_fresh'])}"
            "</p>"
        )
    if isinstance(design.get("leak_canaries"), Mapping):
        out.append(_leak(design["leak_canaries"], label))
    sweep = design.get("timeout_sweep")
    if isinstance(sweep, Mapping):
        rows = [
            [
                _num(r["timeout_s"]),
                _num(r["health_check_budget_s"]),
                _num(r["runs"]),
                _num(r.get("verifier_timeout_rate")),
                _num(r.get("verifier_error_rate")),
                esc(", ".join(f"{k} {v}" for k, v in r.get("reasons", {}).items())),
            ]
            for r in sweep.get("rows", [])
        ]
        head = ["timeout s", "health-check budget s", "runs"]
        head += ["timeout rate", "error rate", "reasons"]
        out.append(
            f"<h3>Timeout sweep ({esc(label)}, {sweep['concurrency']} in flight)</h3>"
            + _table(head, rows)
        )
    return "".join(out)


def render_section(export: Mapping[str, Any]) -> str | None:
    service = export.get("service")
    if not isinstance(service, Mapping) or not service:
        return None
    out = ['<section id="service"><h2>Verification service</h2>']
    out.append(
        '<p class="muted">What a service reports is all the tool sees: no per-process memory, '
        "CPU time or REPL age.</p>"
    )
    summary = service.get("records")
    if isinstance(summary, Mapping):
        out.append(_mapping(summary.get("mapping", [])))
        out.append(_timing(summary.get("timing", {})))
        out.append(_reuse(summary.get("reuse", {})))
    for design in service.get("designs", []):
        if isinstance(design, Mapping):
            out.append(_designs(design))
    out.append("</section>")
    return "".join(out)
