"""The report's headline tables: one per tier, below the verdict.

Everything here reads the export dictionary defensively: a missing key renders as nothing, a
key another version adds (``<rate>_bounds``, a tier ``status`` such as ``partial`` /
``low_labels`` / ``misfit``, canary or flip figures, ``load_sensitivity``) renders when present.
Every status that is not ``ok`` shows its reason beside the number. Canaries, flips and load
get one summary line each here and their own sections below; any other block a newer version
adds gets a one-line summary (its status and reason, and its scalar figures), never a dump.
Each headline number carries its exact exported value in ``data-value`` so that a reader (or a
test) can check it against the YAML.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any, TypeGuard

from calib_async.export.report_html import esc, summary_phrase
from calib_async.export.verdict import budget, confidence_level, status_note
from calib_async.stats.load_blocks import heterogeneity_phrase

#: (key, label, what the rate's n counts, tooltip) in display order.
RATES = (
    ("timeout_rate", "timeout rate", "runs", "P(timeout) over all training runs"),
    ("spurious_fail_rate", "spurious fail", "valid", "P(fails | valid), labelled valid runs"),
    ("spurious_pass_rate", "spurious pass", "invalid", "P(passes | invalid), labelled invalid"),
    ("timeout_given_valid", "timeout | valid", "valid", "labelled valid runs"),
    ("timeout_given_invalid", "timeout | invalid", "invalid", "labelled invalid runs"),
)
#: Per-tier keys the headline reads itself or leaves to other sections and tables.
KNOWN_KEYS = frozenset(
    {
        *(r[0] for r in RATES), *(f"{r[0]}_ci" for r in RATES), *(f"{r[0]}_bounds" for r in RATES),
        "timeout_s", "training_samples", "timeout_distribution", "timeout_for_rate",
        "timeout_for_rate_unit", "timeout_recommendations", "candidates", "counts", "status",
        "status_reason", "reason", "undetermined_share", "youden_j", "youden_j_ci",
        "load_sensitivity", "canaries", "flips", "load", "stationarity",
    }
)  # fmt: skip
_OK = {"ok", None}


def headline(
    models: Mapping[str, Mapping[str, Any]],
    export: Mapping[str, Any],
    labels_key: str | None = None,
) -> str:
    """``<section id="headline">``: one table per tier, then the held-out note."""
    if not models:
        return '<section id="headline"><p class="muted">No tier in the export.</p></section>'
    level = confidence_level(export)
    tables = "".join(tier_table(tier, model, level) for tier, model in models.items())
    return (
        '<section id="headline"><h2>Results per tier</h2>'
        f'<div class="headline-grid">{tables}</div>{held_out_note(export, labels_key)}'
        f'<p class="muted">Rates are probabilities with {level:.0%} intervals, estimated on '
        "the training items; n counts training runs, or labelled valid / invalid runs for "
        "rates given the truth. Times in seconds. A recommended timeout above the tier's own "
        "timeout is extrapolated: no run was watched for longer.</p></section>"
    )


def tier_table(tier: str, model: Mapping[str, Any], level: float = 0.95) -> str:
    """One tier's headline table: rates with CIs, recommended timeouts, flags, extras."""
    n = model.get("training_samples")
    timeout_s = _num(model.get("timeout_s"))
    caption = esc(tier)
    if timeout_s is not None:
        caption += f" · timeout {timeout_s:g} s"
    n_runs = _num(n)
    if n_runs is not None:
        caption += f" · n = {int(n_runs)} training runs"
    rows = [_rate_row(model, *spec) for spec in RATES if spec[0] in model]
    rows.append(_youden_row(model))
    rows += _timeout_rows(model, timeout_s)
    rows += _flag_rows(model)
    body = "".join(r for r in rows if r)
    return (
        f'<table class="headline" data-tier="{esc(tier)}"><caption>{caption}</caption>'
        f"<thead><tr><th></th><th>estimate</th><th>{level:.0%} CI</th><th>n</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def held_out_note(export: Mapping[str, Any], labels_key: str | None = None) -> str:
    """How many items validation held out, and where their ids are (``labels_key``: the key
    of labels.json that lists them, when it does)."""
    report = export.get("validation_report")
    held = report.get("held_out") if isinstance(report, Mapping) else None
    if not isinstance(held, Mapping) or _num(held.get("items")) is None:
        return ""
    meta = export.get("calibration_metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    parts = [f"Validation held out {int(held['items'])} items"]
    if _num(meta.get("n")) is not None:
        parts[0] += f" of {int(meta['n'])}"
    counts = [f"{int(held[k])} {k}" for k in ("records", "labelled") if _num(held.get(k))]
    if counts:
        parts[0] += f" ({', '.join(counts)})"
    ids = held.get("ids") or held.get("item_ids")
    if labels_key:
        where = f"their ids are in labels.json ({labels_key}) and at the end of this page"
    elif isinstance(ids, list) and ids:
        where = "their ids are in the YAML (validation_report.held_out) and at the end of this page"
    else:
        where = (
            "their ids are listed at the end of this page (Run details); labels.json does not "
            "list them yet"
        )
        if "seed" in meta and "validation_split" in meta:
            where += (
                f"; the split is fixed by --seed {meta['seed']} and --validation-split "
                f"{meta['validation_split']}"
            )
    return f'<p class="held-out">{esc(parts[0])}; {esc(where)}.</p>'


# ---------------------------------------------------------------------------------------------
# rows


def _rate_row(model: Mapping[str, Any], key: str, label: str, unit: str, tip: str) -> str:
    value = _num(model.get(key))
    cell = (
        '<td class="num">–</td>'
        if value is None
        else f'<td class="num" data-key="{key}" data-value="{value!r}">{value:.3f}</td>'
    )
    ci = model.get(f"{key}_ci")
    ci_text = f"[{float(ci[0]):.3f}, {float(ci[1]):.3f}]" if _pair(ci) else "–"
    bounds = model.get(f"{key}_bounds")
    if _pair(bounds):
        ci_text += f"; bounds [{float(bounds[0]):.3f}, {float(bounds[1]):.3f}]"
    counts = model.get("counts")
    sub = counts.get(key) if isinstance(counts, Mapping) else None
    sub = sub if isinstance(sub, Mapping) else {}
    n = sub.get("n_labelled", sub.get("n"))
    n_text = f"{int(n)} {unit}" if _num(n) is not None else ""
    note = status_note(model, key).strip()
    flag = f' <span class="flag">{esc(note)}</span>' if note else ""
    return (
        f'<tr><th title="{esc(tip)}">{esc(label)}{flag}</th>{cell}'
        f'<td class="num">{esc(ci_text)}</td><td class="num">{esc(n_text)}</td></tr>'
    )


def _timeout_rows(model: Mapping[str, Any], timeout_s: float | None) -> list[str]:
    raw = model.get("timeout_for_rate")
    if not isinstance(raw, Mapping):
        return []
    rows = []
    for rate, value in sorted(_targets(raw), key=lambda kv: -kv[0]):
        seconds, marks = _recommendation(value, timeout_s)
        found = budget(model, rate)
        text = "unreachable" if seconds is None else f"{seconds:.3g} s"
        if found is not None and seconds is not None and "[" in found[1]:
            text += " " + found[1].split(" s ", 1)[1].split(" (", 1)[0]
        recs = model.get("timeout_recommendations")
        rec = next((v for k, v in recs.items() if _same(k, rate)), None) if isinstance(
            recs, Mapping) else None  # fmt: skip
        if seconds is None and isinstance(rec, Mapping) and rec.get("reason"):
            marks.append(str(rec["reason"]))
        data = "" if seconds is None else f' data-key="timeout_for_rate" data-value="{seconds!r}"'
        mark = "".join(f' <span class="flag">{esc(m)}</span>' for m in marks)
        rows.append(
            f'<tr><th title="smallest budget whose predicted timeout rate is at most {rate:.0%}">'
            f"timeout for ≤ {rate:.0%}</th>"
            f'<td class="num"{data} data-rate="{rate!r}">{esc(text)}</td>'
            f'<td colspan="2">{mark}</td></tr>'
        )
    return rows


def _recommendation(value: Any, timeout_s: float | None) -> tuple[float | None, list[str]]:
    """(seconds or None, marks) for one recommended timeout: a number, None (unreachable), or a
    mapping with ``seconds``/``value`` and flags such as ``extrapolated``/``unreachable``."""
    marks: list[str] = []
    seconds = _num(value)
    if isinstance(value, Mapping):
        seconds = next((_num(value[k]) for k in ("seconds", "value", "timeout_s") if k in value),
                       None)  # fmt: skip
        marks += [str(k) for k, v in value.items() if v is True]
        if isinstance(value.get("status"), str) and value["status"] not in _OK:
            marks.append(value["status"])
    if seconds is None:
        return None, [m for m in marks if m != "unreachable"]
    if timeout_s is not None and seconds > timeout_s and "extrapolated" not in marks:
        marks.append("extrapolated")
    return seconds, marks


def _youden_row(model: Mapping[str, Any]) -> str:
    j = _num(model.get("youden_j"))
    if j is None:
        return ""
    ci = model.get("youden_j_ci")
    ci_text = f"[{float(ci[0]):.3f}, {float(ci[1]):.3f}]" if _pair(ci) else "–"
    return (
        '<tr><th title="1 − spurious fail − spurious pass: the share of the verdict that is '
        "signal; a reward from this tier points the right way when J &gt; 0\">Youden's J</th>"
        f'<td class="num" data-key="youden_j" data-value="{j!r}">{j:.3f}</td>'
        f'<td class="num">{esc(ci_text)}</td><td></td></tr>'
    )


def _flag_rows(model: Mapping[str, Any]) -> list[str]:
    rows = []
    status = model.get("status")
    if status is not None:
        cls = "ok" if status == "ok" else "flag"
        reason = model.get("status_reason") or model.get("reason")
        extra = f" – {esc(str(reason))}" if reason else ""
        rows.append(
            f'<tr><th>status</th><td colspan="3"><span class="{cls}" data-key="status">'
            f"{esc(str(status))}</span>{extra}</td></tr>"
        )
    dist = model.get("timeout_distribution")
    if isinstance(dist, Mapping) and dist.get("status") not in _OK:
        why = dist.get("status_reasons") or dist.get("reason") or ""
        why = "; ".join(map(str, why)) if isinstance(why, list) else str(why)
        rows.append(
            f'<tr><th>duration model</th><td colspan="3"><span class="flag">'
            f"{esc(str(dist['status']))}</span> – {esc(why)} (Kaplan–Meier used)</td></tr>"
        )
    load = model.get("load_sensitivity")
    if isinstance(load, Mapping):
        rows.append(f'<tr><th>load trend</th><td colspan="3">{esc(_load_text(load))}</td></tr>')
    station = _stationarity_line(model.get("stationarity"))
    if station:
        rows.append(f'<tr><th>stationarity</th><td colspan="3">{esc(station)}</td></tr>')
    for key, text in (
        ("canaries", _canaries_line(model.get("canaries"))),
        ("flips", _flips_line(model.get("flips"))),
        ("load", _load_fit_line(model.get("load"))),
    ):
        if text:
            rows.append(
                f'<tr><th><a href="#{key}">{esc(key)}</a></th><td colspan="3">{esc(text)}</td></tr>'
            )
    for key, value in model.items():  # blocks a newer version adds: one line each
        if str(key) in KNOWN_KEYS or value is None:
            continue
        text = summary_phrase(value)
        if text:
            label = str(key).replace("_", " ")
            rows.append(f"<tr><th>{esc(label)}</th><td colspan=\"3\">{esc(text)}</td></tr>")
    return rows


def _canaries_line(canaries: Any) -> str:
    if not isinstance(canaries, Mapping) or not canaries:
        return ""
    run = passed = 0
    passing = []
    for name, entry in canaries.items():
        if not isinstance(entry, Mapping) or not _num(entry.get("run")):
            continue
        run += int(entry["run"])
        passed += int(entry.get("passed") or 0)
        if entry.get("passed"):
            passing.append(f"{name} {entry['passed']}/{entry['run']}")
    if not run:
        return "no canary ran"
    return f"{passed}/{run} passed" + (f" ({', '.join(passing)})" if passing else "")


def _flips_line(flips: Any) -> str:
    if not isinstance(flips, Mapping):
        return ""
    rate = _num(flips.get("flip_rate"))
    if rate is None:
        return f"{flips.get('status', 'no data')}" + (
            f": {flips['reason']}" if flips.get("reason") else ""
        )
    ci = flips.get("flip_rate_ci")
    text = f"flip rate {rate:.3f}" + (f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]" if _pair(ci)
                                       else "")  # fmt: skip
    if _num(flips.get("items")):
        text += f"; {flips.get('items_with_flip', 0)}/{flips['items']} items flipped"
    return text


def _load_fit_line(load: Any) -> str:
    if not isinstance(load, Mapping):
        return ""
    levels = [r for r in load.get("levels") or [] if isinstance(r, Mapping)]
    parts = [
        f"{r['level']}: {float(r['rate']):.2f}"
        for r in levels
        if _num(r.get("level")) is not None and _num(r.get("rate")) is not None
    ]
    text = "timeout rate by level " + ", ".join(parts) if parts else str(load.get("status", ""))
    if load.get("status") not in _OK:
        text += f" ({load['status']})"
    blocks = heterogeneity_phrase(load.get("between_blocks"))
    return f"{text}; {blocks}" if blocks else text


def _load_text(load: Mapping[str, Any]) -> str:
    flagged = load.get("flagged")
    ps = [
        f"{_LOAD_NAMES.get(str(name), name)} p={_num(sub.get('p_holm', sub.get('p_value'))):.2g}"
        for name, sub in load.items()
        if isinstance(sub, Mapping) and _num(sub.get("p_holm", sub.get("p_value"))) is not None
    ]
    head = (
        "timeouts rise with load (flagged)"
        if flagged is True
        else "no significant rise"
        if flagged is False
        else "not evaluated"
    )
    return head + (f" ({', '.join(ps)})" if ps else "")


_LOAD_NAMES = {"load_avg_1m": "load avg", "concurrency": "concurrency"}


# ---------------------------------------------------------------------------------------------
# helpers


def _same(key: Any, rate: float) -> bool:
    try:
        return abs(float(key) - rate) < 1e-9
    except (TypeError, ValueError):
        return False


def _targets(raw: Mapping[Any, Any]) -> Iterable[tuple[float, Any]]:
    for k, v in raw.items():
        try:
            rate = float(k)
        except (TypeError, ValueError):
            continue
        if 0 < rate < 1:
            yield rate, v


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return None
    return float(value)


def _pair(ci: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(ci, list | tuple) and len(ci) == 2 and all(_num(c) is not None for c in ci)


def _stationarity_line(block: Any) -> str:
    """One line: the stationarity check's verdict and, per third of the run, the timeout rate
    and median duration (its own message when it rejects)."""
    if not isinstance(block, Mapping) or not block.get("status"):
        return ""
    if block.get("message"):
        return f"{block['status']}: {block['message']}"
    if block.get("reason"):
        return f"{block['status']} ({block['reason']})"
    thirds = [t for t in block.get("thirds") or [] if isinstance(t, Mapping)]
    parts = []
    for t in thirds:
        rate, median = t.get("timeout_rate"), t.get("median_duration_s")
        if isinstance(rate, int | float) and isinstance(median, int | float):
            parts.append(f"{t.get('third', '')} {100 * rate:.0f} % timeouts, median {median:.3g} s")
    p = block.get("p_value")
    head = str(block["status"]) + (f" (p = {p:.2g})" if isinstance(p, int | float) else "")
    return head + ("; by third of the run: " + ", ".join(parts) if parts else "")
