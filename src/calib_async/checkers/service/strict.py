"""Strictness a tier may add to a service's verdict (it can only turn a pass into a fail).

``reject_sorry``
    Re-read the returned diagnostics for Lean's sorry warning, in both spellings
    (``declaration uses 'sorry'`` and ``declaration uses `sorry` ``): a server that counts only
    its ``sorries`` list can pass a proof whose sorry shows only as the warning.
``audit_axioms``
    Append ``#print axioms NAME`` for each declaration to the snippet and read the answers
    positioned at those lines; a forbidden axiom (the Lean profile's rules and its
    ``axiom_allowlist``), or a declaration without an answer, fails the proof.

Both reuse the Lean profile's own code (messages, audit plan and reading, axiom rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from calib_async.checkers.lean.axioms import forbidden_axioms, plan_audit
from calib_async.checkers.lean.checks import AuditReading, audit_problem, positioned_answers
from calib_async.checkers.lean.messages import SORRY_RE, LeanMessage, Severity
from calib_async.checkers.service.answer import Mapped, Reason, ServiceAnswer
from calib_async.records import Outcome

_SEVERITY = {
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFORMATION,
    "information": Severity.INFORMATION,
    "trace": Severity.INFORMATION,
}


@dataclass(frozen=True, slots=True)
class Audit:
    """The snippet to send and where its audit lines are (in the snippet's numbering)."""

    code: str
    first_line: int
    names: tuple[str, ...]


def plan(code: str) -> Audit:
    audit = plan_audit(code)
    return Audit(audit.text, audit.first_line, audit.names)


def lean_messages(messages: Sequence[Mapping[str, Any]], line_offset: int) -> list[LeanMessage]:
    """The service's JSON messages as the Lean profile's messages, in the snippet's lines."""
    out = []
    for m in messages:
        pos = m.get("pos")
        line = pos.get("line") if isinstance(pos, dict) else None
        out.append(
            LeanMessage(
                severity=_SEVERITY.get(str(m.get("severity")), Severity.INFORMATION),
                text=str(m.get("data", "")),
                line=line + line_offset if isinstance(line, int) else None,
                column=pos.get("column") if isinstance(pos, dict) else None,
            )
        )
    return out


def apply(
    mapped: Mapped,
    answer: ServiceAnswer,
    *,
    reject_sorry: bool,
    audit: Audit | None,
    line_offset: int,
    allowlist: Sequence[str],
) -> Mapped:
    """``mapped`` made stricter (only a VERIFIED can change), with the audit's axioms."""
    messages = lean_messages(answer.messages, line_offset)
    extra: dict[str, Any] = {}
    axioms_by_decl: dict[str, list[str]] = {}
    if audit is not None:
        window = (audit.first_line, len(audit.names))
        answers = positioned_answers(messages, *window)
        axioms_by_decl = {d: a for found in answers.values() for d, a in found.items()}
        extra["axioms"] = sorted({a for names in axioms_by_decl.values() for a in names})
    if mapped.outcome is not Outcome.VERIFIED:
        return _with(mapped, extra)
    warning = next(
        (m for m in messages if m.severity is Severity.WARNING and SORRY_RE.search(m.text)), None
    )
    if reject_sorry and warning is not None:
        return _with(
            Mapped(Outcome.PROOF_INVALID, Reason.SORRY_WARNING, first_error=warning.text[:300]),
            extra,
            uses_sorry=True,
        )
    if audit is not None:
        reading = AuditReading(window, True, axioms_by_decl, answers, frozenset())
        if problem := audit_problem(reading, messages):
            return _with(Mapped(Outcome.PROOF_INVALID, Reason.AXIOMS, first_error=problem), extra)
        if bad := forbidden_axioms(axioms_by_decl, allowlist):
            culprits = [d for d, names in axioms_by_decl.items() if set(names) & set(bad)]
            why = f"forbidden axioms {bad} used by {', '.join(culprits[:3])}"
            return _with(
                Mapped(Outcome.PROOF_INVALID, Reason.AXIOMS, first_error=why),
                extra,
                uses_sorry="sorryAx" in bad,
            )
    return _with(mapped, extra)


def _with(mapped: Mapped, extra: Mapping[str, Any], *, uses_sorry: bool = False) -> Mapped:
    return Mapped(
        mapped.outcome,
        mapped.reason,
        timeout_kind=mapped.timeout_kind,
        first_error=mapped.first_error,
        error_count=mapped.error_count,
        uses_sorry=mapped.uses_sorry or uses_sorry,
        extra={**mapped.extra, **extra},
    )
