"""The top of the report: the verdict in one sentence, then one headline table per tier.

Everything here reads the export dictionary defensively: a missing key renders as nothing, a
key another version adds (``<rate>_bounds``, a tier ``status`` such as ``partial`` /
``low_labels`` / ``misfit``, canary or flip figures, ``load_sensitivity``) renders when present.
Each headline number carries its exact exported value in ``data-value`` so that a reader (or a
test) can check it against the YAML.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any, TypeGuard

from calib_async.export.report_html import esc, fmt, value_html

#: (key, label, what the rate's n counts, tooltip) in display order.
RATES = (
    ("timeout_rate", "timeout rate", "runs", "P(timeout) over all training runs"),
    ("spurious_fail_rate", "spurious fail", "valid", "P(fails | valid), labelled valid runs"),
    ("spurious_pass_rate", "spurious pass", "invalid", "P(passes | invalid), labelled invalid"),
    ("timeout_given_valid", "timeout | valid", "valid", "labelled valid runs"),
    ("timeout_given_invalid", "timeout | invalid", "invalid", "labelled invalid runs"),
)
#: Optional per-tier figures other versions export; rendered generically when present.
EXTRA_KEY_HINTS = ("canar", "flip")
_OK = {"ok", None}


#: "PASSED (WEAK: ...): why" as stats.validation writes it: the word, the note, the reason.
_SUMMARY = re.compile(r"^\s*(PASSED|FAILED|NOT EVALUATED)\s*(?:\((.*?)\))?\s*:\s*(.*)$", re.S)


def verdict(export: Mapping[str, Any]) -> str:
    """``<section id="verdict">``: PASSED / FAILED / NOT EVALUATED and why, in one sentence."""
    report = export.get("validation_report")
    report = report if isinstance(report, Mapping) else {}
    passed = report.get("passed")
    summary = str(report.get("summary") or "")
    match = _SUMMARY.match(summary)
    word, note, why = (match.group(1), match.group(2), match.group(3)) if match else ("", "", "")
    if passed is True:
        cls, label = "pass", "PASSED"
    elif passed is False and report.get("status") != "not_evaluated":
        cls, label = "fail", "FAILED"
    else:
        cls, label = "unknown", "NOT EVALUATED"
    if not why.strip():
        why = summary if summary and summary != word else "the export holds no validation report"
    qualifier = f" ({note.strip().replace('WEAK', 'weak', 1)})" if note and note.strip() else ""
    sentence = f"Validation {label.lower()}{qualifier}: {why.strip()}"
    sentence = sentence if sentence.endswith(".") else sentence + "."
    return (
        f'<section id="verdict" class="verdict verdict-{cls}">'
        f'<span class="badge {cls}">{label}</span> '
        f'<span class="why">{esc(sentence)}</span></section>'
    )


def headline(
    models: Mapping[str, Mapping[str, Any]],
    export: Mapping[str, Any],
    labels_key: str | None = None,
) -> str:
    """``<section id="headline">``: one table per tier, then the held-out note."""
    if not models:
        return '<section id="headline"><p class="muted">No tier in the export.</p></section>'
    tables = "".join(tier_table(tier, model) for tier, model in models.items())
    return (
        '<section id="headline"><h2>Results per tier</h2>'
        f'<div class="headline-grid">{tables}</div>{held_out_note(export, labels_key)}'
        '<p class="muted">Rates are probabilities with 95% intervals, estimated on the training '
        "items; n counts training runs, or labelled valid / invalid runs for rates given the "
        "truth. Times in seconds. A recommended timeout above the tier's own timeout is "
        "extrapolated: no run was watched for longer.</p></section>"
    )


def tier_table(tier: str, model: Mapping[str, Any]) -> str:
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
    rows += _timeout_rows(model, timeout_s)
    rows += _flag_rows(model)
    body = "".join(r for r in rows if r)
    return (
        f'<table class="headline" data-tier="{esc(tier)}"><caption>{caption}</caption>'
        "<thead><tr><th></th><th>estimate</th><th>95% CI</th><th>n</th></tr></thead>"
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
    status = model.get(f"{key}_status", sub.get("status"))
    flag = "" if status in _OK else f' <span class="flag">{esc(str(status))}</span>'
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
        text = "unreachable" if seconds is None else f"{seconds:.3g} s"
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
    load = model.get("load_sensitivity")
    if isinstance(load, Mapping):
        rows.append(f'<tr><th>load</th><td colspan="3">{esc(_load_text(load))}</td></tr>')
    for key, value in model.items():
        if any(h in str(key).lower() for h in EXTRA_KEY_HINTS) and value is not None:
            label = str(key).replace("_", " ")
            rows.append(f'<tr><th>{esc(label)}</th><td colspan="3">{_compact(value)}</td></tr>')
    return rows


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


def _compact(value: Any) -> str:
    if isinstance(value, Mapping):
        scalars = {k: v for k, v in value.items() if not isinstance(v, Mapping | list)}
        if scalars and len(scalars) == len(value):
            return esc(", ".join(f"{k}={fmt(v)}" for k, v in scalars.items()))
        return value_html(value, 2)
    return esc(fmt(value)) if not isinstance(value, list) else value_html(value, 2)


# ---------------------------------------------------------------------------------------------
# helpers


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
