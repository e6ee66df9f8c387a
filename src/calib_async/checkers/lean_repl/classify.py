"""The verdict for one REPL command, by the Lean profile's rules.

The rules are the Lean profile's, in its order (resource failures first, because a command cut
short by a limit is not a complete check), read from the reply's JSON messages instead of
``lean --json`` lines:

1. the pool's own limits: no reply within the budget (VERIFIER_TIMEOUT, wall), the REPL's RSS
   above the tier's memory limit (MEMORY_LIMIT_EXCEEDED);
2. the REPL died mid-command: SIGKILL it did not get from us, or a memory message on stderr:
   MEMORY_LIMIT_EXCEEDED; otherwise VERIFIER_ERROR with the first line of its stderr tail;
3. the REPL's own error object (``{"message": "Unknown environment."}``) or a reply that is not
   JSON: VERIFIER_ERROR;
4. a memory message among the errors: MEMORY_LIMIT_EXCEEDED; a heartbeat message:
   VERIFIER_TIMEOUT (heartbeat); an internal limit: VERIFIER_ERROR; any other error:
   PROOF_INVALID (errors at the generated ``#print axioms`` lines are the audit's, not the
   proof's);
5. ``reject_sorry``: ``declaration uses 'sorry'`` in either spelling, a non-empty ``sorries``
   list, or ``sorryAx`` in the audit: PROOF_INVALID;
6. ``check_statement`` / ``reject_skip_kernel`` (decided from the source before the command);
7. ``audit_axioms``: the positional audit (answers at the audit's own lines only) against the
   allowlist, with the Lean profile's audit problems (``#exit``, a failed audit line, a
   declaration without an answer);
8. VERIFIED.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calib_async.checkers.api import Verdict
from calib_async.checkers.lean.axioms import forbidden_axioms
from calib_async.checkers.lean.checks import (
    KERNEL_FLAG,
    STATEMENT_FLAG,
    AuditReading,
    audit_problem,
    positioned_answers,
)
from calib_async.checkers.lean.messages import (
    HEARTBEAT_RE,
    INTERNAL_LIMIT_RE,
    MEMORY_RE,
    SORRY_RE,
    Severity,
)
from calib_async.checkers.lean_repl.process import Exchange
from calib_async.records import Outcome, TimeoutKind
from calib_async.runner.spec import Termination


@dataclass(frozen=True, slots=True)
class Strictness:
    """A tier's verdict options for this kind (the Lean profile's names)."""

    reject_sorry: bool = False
    audit_axioms: bool = False
    allowlist: tuple[str, ...] = ()
    check_statement: bool = False
    reject_skip_kernel: bool = False

    @classmethod
    def of(cls, options: Any, allowlist: Sequence[str]) -> Strictness:
        return cls(
            reject_sorry=bool(options.get("reject_sorry", False)),
            audit_axioms=bool(options.get("audit_axioms", False)),
            allowlist=tuple(allowlist),
            check_statement=bool(options.get("check_statement", False)),
            reject_skip_kernel=bool(options.get("reject_skip_kernel", False)),
        )


@dataclass(frozen=True, slots=True)
class Command:
    """What was sent: the audit window (line of the first ``#print axioms``, declarations) in
    the command's own line numbers, and the source checks that already failed."""

    audit_window: tuple[int, int] | None = None
    flags: frozenset[str] = frozenset()


_CLEAN = Verdict(Outcome.VERIFIED)


def _last_line(data: bytes) -> str | None:
    lines = [x for x in data.decode("utf-8", errors="replace").splitlines() if x.strip()]
    return lines[-1].strip()[:300] if lines else None


def classify_exchange(ex: Exchange, command: Command, strict: Strictness) -> Verdict:
    """Pure: the verdict (see the module docstring)."""
    if ex.termination is Termination.TIMEOUT:
        return Verdict(Outcome.VERIFIER_TIMEOUT, timeout_kind=TimeoutKind.WALL)
    if ex.termination is Termination.MEMORY:
        return Verdict(Outcome.MEMORY_LIMIT_EXCEEDED, first_error=ex.message)
    if ex.reply is None:
        text = ex.stderr_tail.decode("utf-8", errors="replace")
        if ex.signal == signal.SIGKILL or MEMORY_RE.search(text):
            found = next((x for x in text.splitlines() if MEMORY_RE.search(x)), None)
            return Verdict(Outcome.MEMORY_LIMIT_EXCEEDED, first_error=found or "killed by SIGKILL")
        if ex.bad_reply is not None:
            return Verdict(Outcome.VERIFIER_ERROR, first_error=f"not a reply: {ex.bad_reply}")
        how = f"signal {ex.signal}" if ex.signal is not None else f"exit status {ex.exit_code}"
        tail = _last_line(ex.stderr_tail)
        return Verdict(
            Outcome.VERIFIER_ERROR,
            first_error=f"REPL died mid-command ({how})" + (f": {tail}" if tail else ""),
        )
    reply = ex.reply
    if reply.error is not None:
        return Verdict(Outcome.VERIFIER_ERROR, first_error=f"REPL error: {reply.error[:280]}")
    if not reply.messages and not reply.sorries and not command.flags and not strict.audit_axioms:
        return _CLEAN  # the common case: nothing to read
    messages = list(reply.messages)
    window = command.audit_window if strict.audit_axioms else None
    answers = positioned_answers(messages, *window) if window is not None else {}
    axioms_by_decl = {d: a for found in answers.values() for d, a in found.items()}
    reading = AuditReading(window, window is not None, axioms_by_decl, answers, command.flags)
    all_errors = [m for m in messages if m.severity is Severity.ERROR]
    errors = [m for m in all_errors if not reading.in_audit(m)]
    all_axioms = sorted({a for names in axioms_by_decl.values() for a in names})
    uses_sorry = (
        reply.has_sorries
        or "sorryAx" in all_axioms
        or any(SORRY_RE.search(m.text) for m in messages if m.severity is not Severity.INFORMATION)
    )
    first = errors[0].header() if errors else None

    def verdict(outcome: Outcome, text: str | None = first, **kw: Any) -> Verdict:
        return Verdict(
            outcome,
            uses_sorry=uses_sorry,
            error_count=len(errors),
            first_error=text,
            axioms=tuple(all_axioms) if strict.audit_axioms else None,
            **kw,
        )

    if hit := next((m for m in errors if MEMORY_RE.search(m.text)), None):
        return verdict(Outcome.MEMORY_LIMIT_EXCEEDED, hit.header())
    if hit := next((m for m in errors if HEARTBEAT_RE.search(m.text)), None):
        return verdict(Outcome.VERIFIER_TIMEOUT, hit.header(), timeout_kind=TimeoutKind.HEARTBEAT)
    if hit := next((m for m in errors if INTERNAL_LIMIT_RE.search(m.text)), None):
        return verdict(Outcome.VERIFIER_ERROR, hit.header())
    if errors:
        return verdict(Outcome.PROOF_INVALID)
    if strict.reject_sorry and uses_sorry:
        sorry = next((m.header() for m in messages if SORRY_RE.search(m.text)), None)
        return verdict(Outcome.PROOF_INVALID, sorry or "the reply lists sorries")
    if strict.check_statement and STATEMENT_FLAG in command.flags:
        return verdict(Outcome.PROOF_INVALID, "the statement differs from the formal_statement")
    if strict.reject_skip_kernel and KERNEL_FLAG in command.flags:
        return verdict(Outcome.PROOF_INVALID, "the file turns kernel checking off")
    if strict.audit_axioms:
        if problem := audit_problem(reading, messages):
            return verdict(Outcome.PROOF_INVALID, problem)
        if bad := forbidden_axioms(axioms_by_decl, strict.allowlist):
            culprits = [d for d, names in axioms_by_decl.items() if set(names) & set(bad)]
            return verdict(
                Outcome.PROOF_INVALID, f"forbidden axioms {bad} used by {', '.join(culprits[:3])}"
            )
    return verdict(Outcome.VERIFIED, None)


__all__ = ["Command", "Strictness", "classify_exchange"]
