"""The top of the report: what the checker is, and the answer per tier.

``header`` names the checker and its version (not just the corpus), the items actually
checked (with the ``--n`` asked for when they differ), the date, the confidence level, the
host and its load. ``verdict_section`` is :mod:`calib_async.export.verdict` in HTML: one
sentence per tier (coloured by what it says), its details, the recommended tier and budget,
and the checker and tier settings. ``self_check`` is the held-out validation of the
statistics, named for what it is and shown further down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from calib_async.export.report_html import esc
from calib_async.export.verdict import SAFE_SPURIOUS_PASS, TARGET, checker_line, verdict

_SUMMARY = re.compile(r"^\s*(PASSED|FAILED|NOT EVALUATED)\s*(?:\((.*?)\))?\s*:\s*(.*)$", re.S)


def header(export: Mapping[str, Any]) -> str:
    """``<h1>`` naming the checker, then the run's facts in one muted line."""
    meta = export.get("calibration_metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    checkers = meta.get("checkers")
    names = []
    if isinstance(checkers, Mapping):
        for name, entry in checkers.items():
            version = entry.get("version") if isinstance(entry, Mapping) else None
            names.append(f"{name} ({version})" if version else str(name))
    title = "Checker noise calibration" + (f": {', '.join(names)}" if names else "")
    bits = []
    if meta.get("corpus"):
        bits.append(f"corpus {meta['corpus']}")
    items, asked = meta.get("items"), meta.get("n")
    if isinstance(items, int) and isinstance(asked, int) and items != asked:
        bits.append(f"{items} items checked (--n {asked} asked; the corpus has {items})")
    elif isinstance(items, int) or isinstance(asked, int):
        bits.append(f"{items if isinstance(items, int) else asked} items")
    if meta.get("date"):
        bits.append(str(meta["date"]))
    level = meta.get("confidence_level")
    bits.append(f"{float(level) if isinstance(level, int | float) else 0.95:.0%} intervals")
    host = meta.get("host")
    if isinstance(host, Mapping) and host.get("name"):
        text = f"host {host['name']}"
        if host.get("cpus"):
            text += f" ({host['cpus']} CPUs)"
        bits.append(text)
    load = meta.get("load")
    spread = load.get("load_avg_1m") if isinstance(load, Mapping) else None
    if isinstance(spread, Mapping) and spread.get("median") is not None:
        bits.append(
            f"load average {spread.get('min')}–{spread.get('max')} (median {spread['median']})"
        )
    sub = f'<p class="muted run-facts">{esc(" · ".join(bits))}</p>'
    return f"<h1>{esc(title)}</h1>{sub}"


def verdict_section(export: Mapping[str, Any]) -> str:
    """``<section id="answer">``: per-tier verdicts, the recommendation, the settings."""
    answer = verdict(export)
    items = []
    for tier in answer.tiers:
        details = "".join(f"<li>{esc(d)}</li>" for d in tier.details)
        items.append(
            f'<li class="tier-verdict {tier.safety.value}" data-tier="{esc(tier.tier)}">'
            f'<span class="sentence">{esc(tier.sentence)}</span>'
            # folded: however many notes a tier has (drift, load, labels...), every verdict
            # and the recommendation stay on the first screen
            + (
                f'<details class="notes"><summary>{len(tier.details)} '
                f'note{"s" if len(tier.details) != 1 else ""}</summary>'
                f'<ul class="details">{details}</ul></details>'
                if details
                else ""
            )
            + "</li>"
        )
    settings = checker_line(export)
    return (
        '<section id="answer"><h2>Verdict</h2>'
        f'<ul class="verdicts">{"".join(items)}</ul>'
        f'<p class="recommendation" id="recommendation">→ {esc(answer.recommendation)}</p>'
        + (f'<p class="settings">{esc(settings)}</p>' if settings else "")
        + f'<p class="muted">Intervals at {answer.confidence:.0%}. A tier is <b>safe as a '
        f"reward</b> when every spurious-pass interval (labelled proofs and each canary "
        f"exploit) lies at or below {SAFE_SPURIOUS_PASS:.0%}, <b>not safe</b> when one lies "
        f"above it, and otherwise not shown safe (too few invalid proofs to tell). The "
        f"recommendation is the fastest such tier's budget for at most {TARGET:.0%} "
        "timeouts; its interval is distribution-free (order statistics of the training runs), "
        "and an upper end beyond the tier's own timeout reads &gt; timeout: no run was watched "
        "longer. Youden's J = 1 − spurious fail − spurious pass: the share of the verdict that "
        "is signal (0: none).</p></section>"
    )


def self_check(export: Mapping[str, Any]) -> str:
    """``<section id="self-check">``: the held-out validation of the fitted model."""
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
        '<section id="self-check"><h2>Statistical self-check: held-out validation</h2>'
        f'<p class="self-check self-check-{cls}"><span class="badge {cls}">{label}</span> '
        f'<span class="why">{esc(sentence)}</span></p>'
        '<p class="muted">This checks the statistics, not the checker: the models fitted on '
        "the training items are compared with the held-out items (calibration error, interval "
        "coverage, tier monotonicity; Holm-corrected). A pass at low power says little; the "
        "verdict above is the answer about the checker.</p></section>"
    )
