"""The answer first: a verdict per tier in words and numbers, and which tier to use.

Pure functions over the export dictionary (calibration.yaml's content), shared by the HTML
report and the terminal summary so they say the same thing. For each tier:

- **as a reward**: the spurious-pass evidence is the labelled rate and every canary class's
  rate, each with its interval. A tier is *not safe* when some interval lies wholly above
  :data:`SAFE_SPURIOUS_PASS`, *safe* when every interval lies at or below it, and otherwise
  *not shown safe* (too few invalid proofs to tell). Canary classes that passed are named.
- the spurious-fail and timeout rates, and Youden's J = 1 − spurious-fail − spurious-pass
  (how much of the verdict is still signal: a reward from a checker with J > 0 still points
  the right way, at J = 0 it carries none);
- every status that is not ``ok`` with its reason, next to the number it qualifies.

The recommendation picks, among the tiers shown safe (else those not shown unsafe), the one
with the smallest budget for at most :data:`TARGET` timeouts, with that budget's interval.
A key a newer export adds is ignored; a missing key is left out of the sentence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from calib_async.export.verdict_values import as_int as _int
from calib_async.export.verdict_values import bootstrap_text
from calib_async.export.verdict_values import by_rate as _by_rate
from calib_async.export.verdict_values import ci as _ci
from calib_async.export.verdict_values import models as _models
from calib_async.export.verdict_values import num as _num

#: A reward checker is called safe when the spurious-pass interval lies at or below this.
SAFE_SPURIOUS_PASS = 0.05
#: The timeout share the recommendation aims at.
TARGET = 0.05
_OK = (None, "ok")


class Safety(StrEnum):
    SAFE = "safe"
    NOT_SAFE = "not_safe"
    NOT_SHOWN = "not_shown_safe"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One spurious-pass figure: the labelled rate, or one canary class."""

    source: str  # "labelled" or the canary class
    rate: float
    ci: tuple[float, float] | None
    passed: int | None = None
    run: int | None = None
    note: str = ""  # " (status: reason)" when not ok


@dataclass(frozen=True, slots=True)
class TierVerdict:
    tier: str
    safety: Safety
    sentence: str  # the headline: "FAST: not safe as a reward: passes 34 % [19, 51] ..."
    details: tuple[str, ...]  # spurious fail, timeouts, Youden's J, recommendation


@dataclass(frozen=True, slots=True)
class Verdict:
    tiers: tuple[TierVerdict, ...]
    recommendation: str  # "use SLOW at 2.0 s [1.6, 2.6] for ≤ 5 % timeouts", or why none
    confidence: float  # the intervals' level


def verdict(export: Mapping[str, Any]) -> Verdict:
    """The per-tier verdicts and the recommendation for ``export``."""
    models = _models(export)
    confidence = confidence_level(export)
    tiers = tuple(tier_verdict(name, model) for name, model in models)
    return Verdict(tiers, recommendation(models, tiers), confidence)


def confidence_level(export: Mapping[str, Any]) -> float:
    """The run's confidence level (``calibration_metadata.confidence_level``; 0.95 before)."""
    meta = export.get("calibration_metadata")
    value = meta.get("confidence_level") if isinstance(meta, Mapping) else None
    return level if (level := _num(value)) is not None and 0 < level < 1 else 0.95


def tier_verdict(tier: str, model: Mapping[str, Any]) -> TierVerdict:
    """One tier's headline sentence and detail phrases."""
    evidence = list(spurious_pass_evidence(model))
    safety = _safety(evidence)
    labelled = next((e for e in evidence if e.source == "labelled"), None)
    passed = [e for e in evidence if e.source != "labelled" and e.passed]
    canaries = (
        "; canaries passed: " + ", ".join(f"{e.source} {e.passed}/{e.run}" for e in passed)
        if passed
        else ""
    )
    worst = max(evidence, key=_severity, default=None)
    if safety is Safety.NOT_SAFE and worst is not None:
        what = "invalid proofs" if worst.source == "labelled" else f"{worst.source} canaries"
        sentence = f"not safe as a reward: passes {_rate(worst)} of {what}{worst.note}"
        if worst.source == "labelled":
            sentence += canaries
        else:
            others = [e for e in passed if e is not worst]
            if others:
                sentence += "; also " + ", ".join(f"{e.source} {e.passed}/{e.run}" for e in others)
            if labelled is not None:
                sentence += f"; spurious pass on labelled proofs {_rate(labelled)}{labelled.note}"
    elif safety is Safety.SAFE and labelled is not None:
        sentence = f"safe as a reward: spurious pass {_rate(labelled)}{labelled.note}"
        if any(e.source != "labelled" for e in evidence):
            sentence += "; no canary class passed above 5 %"
    elif labelled is not None:
        sentence = (
            f"spurious pass {_rate(labelled)}{labelled.note}: not shown safe as a reward "
            f"(its interval reaches above {_pct(SAFE_SPURIOUS_PASS)} %)"
        ) + canaries
    elif worst is not None:
        sentence = f"canary spurious pass up to {_rate(worst)} ({worst.source}){worst.note}"
    else:
        sentence = "spurious pass not estimated" + status_note(model, "spurious_pass_rate", True)
    return TierVerdict(tier, safety, f"{tier}: {sentence}", tuple(_details(model)))


def spurious_pass_evidence(model: Mapping[str, Any]) -> Iterable[Evidence]:
    """The labelled spurious-pass rate and every canary class with runs."""
    rate = _num(model.get("spurious_pass_rate"))
    if rate is not None:
        yield Evidence(
            "labelled",
            rate,
            _ci(model.get("spurious_pass_rate_ci")),
            note=status_note(model, "spurious_pass_rate"),
        )
    canaries = model.get("canaries")
    if isinstance(canaries, Mapping):
        for name, entry in canaries.items():
            if not isinstance(entry, Mapping) or _num(entry.get("spurious_pass_rate")) is None:
                continue
            yield Evidence(
                str(name),
                float(entry["spurious_pass_rate"]),
                _ci(entry.get("spurious_pass_rate_ci")),
                _int(entry.get("passed")),
                _int(entry.get("run")),
            )


def recommendation(
    models: list[tuple[str, Mapping[str, Any]]], verdicts: tuple[TierVerdict, ...]
) -> str:
    """Which tier to use, at which budget, with the budget's interval; or why none.

    A tier shown safe as a reward with a budget that meets the target comes first ("use SLOW
    at 2.0 s [1.6, 2.6] for ≤ 5 % timeouts"). Otherwise the sentence says that no tier is
    shown safe, and gives the timeout advice on its own: the tier with the smallest budget
    meeting the target, else the tier with the fewest timeouts at its own budget.
    """
    if not models:
        return "no tier in the export"
    by_tier = dict(models)
    safe = [v.tier for v in verdicts if v.safety is Safety.SAFE]
    safe_budgets = _reachable(by_tier, safe)
    if safe_budgets:
        tier, text = safe_budgets[0]
        return f"use {tier} at {text} for ≤ {_pct(TARGET)} % timeouts"
    if safe:
        lead = f"{', '.join(safe)} {'is' if len(safe) == 1 else 'are'} safe as a reward, but"
    elif any(v.safety is Safety.NOT_SAFE for v in verdicts) and all(
        v.safety is Safety.NOT_SAFE for v in verdicts
    ):
        lead = "no tier is safe as a reward (each passes invalid proofs: fix the checker first)"
    else:
        lead = "no tier is shown safe as a reward"
    everywhere = _reachable(by_tier, [v.tier for v in verdicts])
    if everywhere:
        tier, text = everywhere[0]
        return f"{lead}; for ≤ {_pct(TARGET)} % timeouts alone, use {tier} at {text}"
    rates = [
        (t, _num(m.get("timeout_rate")), _ci(m.get("timeout_rate_ci")), _num(m.get("timeout_s")))
        for t, m in models
    ]
    known = [r for r in rates if r[1] is not None]
    if not known:
        return f"{lead}; no budget is shown to keep timeouts at ≤ {_pct(TARGET)} %"
    tier, rate, ci, at = min(known, key=lambda r: r[1] or 0.0)
    where = f" at its {_sec(at)} s budget" if at is not None else ""
    return (
        f"{lead}; no budget watched keeps timeouts at ≤ {_pct(TARGET)} %; the fewest: {tier}"
        f"{where}, {_rate(Evidence('timeout', rate or 0.0, ci))}"
    )


def _reachable(
    by_tier: Mapping[str, Mapping[str, Any]], tiers: list[str]
) -> list[tuple[str, str]]:
    """(tier, budget text) of the tiers whose budget meets the target, smallest first."""
    found = [(t, budget(by_tier[t], TARGET)) for t in tiers]
    ok = [(t, b) for t, b in found if b is not None and b[0] is not None]
    return [(t, b[1]) for t, b in sorted(ok, key=lambda tb: tb[1][0] or math.inf)]


def budget(model: Mapping[str, Any], target: float) -> tuple[float | None, str] | None:
    """(seconds, "2.0 s [1.6, 2.6]" with marks) of the tier's budget for ``target``."""
    recs = model.get("timeout_recommendations")
    rec = _by_rate(recs, target) if isinstance(recs, Mapping) else None
    seconds = _num(rec.get("timeout_s")) if isinstance(rec, Mapping) else None
    if seconds is None:
        seconds = _num(_by_rate(model.get("timeout_for_rate"), target))
    if seconds is None:
        return None
    text = f"{_sec(seconds)} s"
    ci = rec.get("timeout_s_ci") if isinstance(rec, Mapping) else None
    if boot := bootstrap_text(rec):  # the recommendation's own interval first
        text += boot
    elif isinstance(ci, list | tuple) and len(ci) == 2:
        timeout = _num(model.get("timeout_s"))
        beyond = f"> {_sec(timeout)}" if timeout is not None else "unbounded"
        if _num(ci[0]) is None and _num(ci[1]) is None:  # both among the runs that timed out
            text += f" [{beyond}, {beyond}]"
        else:
            low = "–" if _num(ci[0]) is None else _sec(float(ci[0]))
            high = _sec(float(ci[1])) if _num(ci[1]) is not None else beyond
            text += f" [{low}, {high}]"
    marks = []
    timeout = _num(model.get("timeout_s"))
    if (isinstance(rec, Mapping) and rec.get("extrapolated")) or (
        timeout is not None and seconds > timeout
    ):
        marks.append("extrapolated beyond the longest budget watched")
    if isinstance(rec, Mapping) and rec.get("method") not in (None, "model"):
        marks.append(f"{rec['method']}".replace("_", "–"))
    return seconds, text + (f" ({'; '.join(marks)})" if marks else "")


def checker_line(export: Mapping[str, Any]) -> str:
    """``checker lean 4.9.0: lake env lean {file}; tiers FAST 30 s, SLOW 120 s (args -w)``."""
    meta = export.get("calibration_metadata")
    if not isinstance(meta, Mapping):
        return ""
    parts = []
    checkers = meta.get("checkers")
    for name, entry in (checkers.items() if isinstance(checkers, Mapping) else ()):
        if not isinstance(entry, Mapping):
            continue
        text = f"checker {name}"
        if entry.get("version"):
            text += f" {entry['version']}"
        if entry.get("command"):
            text += ": " + " ".join(map(str, entry["command"]))
        parts.append(text)
    tiers = meta.get("tiers")
    shown = []
    for name, cfg in (tiers.items() if isinstance(tiers, Mapping) else ()):
        if not isinstance(cfg, Mapping):
            continue
        text = f"{name} {_seconds(cfg.get('timeout_s'))}"
        extras = []
        if cfg.get("memory_limit_mb"):
            extras.append(f"{cfg['memory_limit_mb']} MiB")
        if cfg.get("args"):
            extras.append("args " + " ".join(map(str, cfg["args"])))
        options = cfg.get("options")
        if isinstance(options, Mapping) and options:
            extras.append(", ".join(f"{k}={v}" for k, v in options.items()))
        shown.append(text + (f" ({'; '.join(extras)})" if extras else ""))
    if shown:
        parts.append("tiers " + ", ".join(shown))
    return "; ".join(parts)


def _seconds(value: Any) -> str:
    return f"{value:g} s" if _num(value) is not None else "–"


# ---------------------------------------------------------------------------------------------
# phrases


def _details(model: Mapping[str, Any]) -> list[str]:
    out = []
    for key, words in (
        ("spurious_fail_rate", "fails {} of valid proofs"),
        ("timeout_rate", "times out on {} of runs"),
    ):
        value = _num(model.get(key))
        if value is None:
            if key in model:
                out.append(words.format("an unknown share") + status_note(model, key, True))
            continue
        text = words.format(_rate(Evidence(key, value, _ci(model.get(f"{key}_ci")))))
        if key == "timeout_rate" and _num(model.get("timeout_s")) is not None:
            text += f" at {_sec(float(model['timeout_s']))} s"
        out.append(text + status_note(model, key))
    j = _num(model.get("youden_j"))
    if j is not None:
        ci = _ci(model.get("youden_j_ci"))
        out.append(
            f"Youden's J {j:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
        )
    dist = model.get("timeout_distribution")
    if isinstance(dist, Mapping) and dist.get("status") not in _OK:
        reasons = dist.get("status_reasons") or dist.get("reason")
        why = "; ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons or "")
        out.append(
            f"duration model {dist['status']}" + (f": {why}" if why else "")
            + (" (Kaplan–Meier used)" if dist.get("predictor") == "kaplan_meier" else "")
        )  # fmt: skip
    b = budget(model, TARGET)
    if b is not None:
        out.append(f"≤ {_pct(TARGET)} % timeouts at {b[1]}")
    elif isinstance(model.get("timeout_recommendations"), Mapping):
        out.append(f"≤ {_pct(TARGET)} % timeouts: {_unreachable(model)}")
    status = model.get("status")
    if status not in _OK and not any(f"({str(status).replace('_', ' ')}" in d for d in out):
        out.append(f"status {status}" + _reason_suffix(model))
    return out


def status_note(model: Mapping[str, Any], key: str, always: bool = False) -> str:
    """`` (status: reason)`` for a rate whose status is not ok (or ``always``)."""
    counts = model.get("counts")
    sub = counts.get(key) if isinstance(counts, Mapping) else None
    sub = sub if isinstance(sub, Mapping) else {}
    status = model.get(f"{key}_status", sub.get("status"))
    if status in _OK and not always:
        return ""
    reason = model.get(f"{key}_reason", sub.get("reason") or sub.get("status_reason"))
    if not reason and status == "partial" and _ci(model.get(f"{key}_bounds")) is not None:
        low, high = _ci(model.get(f"{key}_bounds")) or (0.0, 0.0)
        reason = "undetermined labels; bounds " + (
            f"{_pct(low, high)}–{_pct(high, low)} %" if high - low > 5e-5 else f"{_pct(low)} %"
        )
    if not reason and status == "low_labels":
        reason = "a stratum has fewer than 3 determined labels; read the interval"
    if status in _OK:
        status = model.get("status")
        reason = reason or model.get("status_reason") or model.get("reason")
    if status in _OK and not reason:
        return ""
    label = str(status).replace("_", " ") if status not in _OK else ""
    return f" ({label}{': ' if label and reason else ''}{reason or ''})"


def _reason_suffix(model: Mapping[str, Any]) -> str:
    reason = model.get("status_reason") or model.get("reason")
    return f": {reason}" if reason else ""


def _unreachable(model: Mapping[str, Any]) -> str:
    recs = model.get("timeout_recommendations")
    rec = _by_rate(recs, TARGET) if isinstance(recs, Mapping) else None
    reason = rec.get("reason") if isinstance(rec, Mapping) else None
    return (f"unreachable ({reason})" if reason else "unreachable") + bootstrap_text(rec)


def _safety(evidence: list[Evidence]) -> Safety:
    if not evidence:
        return Safety.UNKNOWN
    if any(e.ci is not None and e.ci[0] > SAFE_SPURIOUS_PASS for e in evidence):
        return Safety.NOT_SAFE
    if any(e.ci is None and e.rate > SAFE_SPURIOUS_PASS for e in evidence):
        return Safety.NOT_SAFE
    if all(e.ci is not None and e.ci[1] <= SAFE_SPURIOUS_PASS for e in evidence):
        return Safety.SAFE
    return Safety.NOT_SHOWN


def _severity(e: Evidence) -> tuple[float, float]:
    return (e.ci[0] if e.ci else e.rate, e.rate)


def _rate(e: Evidence) -> str:
    text = f"{_pct(e.rate)} %"
    if e.ci is not None:
        text += f" [{_pct(e.ci[0])}, {_pct(e.ci[1])}]"
    return text


def _pct(x: float, other: float | None = None) -> str:
    """``x`` in percent, short; with ``other``, enough digits to tell the two apart."""
    v = 100.0 * x
    text = f"{v:.0f}" if v == 0 or v >= 10 or abs(v - round(v)) < 0.05 else f"{v:.1f}"
    if other is not None:
        digits = 0
        while digits < 2 and f"{v:.{digits}f}" == f"{100.0 * other:.{digits}f}" and v != 0:
            digits += 1
        if digits:
            text = f"{v:.{digits}f}"
    return text


def _sec(seconds: float) -> str:
    return f"{seconds:.2g}" if seconds < 10 else f"{seconds:.0f}"
