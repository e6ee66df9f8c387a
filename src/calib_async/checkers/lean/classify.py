"""The Lean profile's pure classifier: a finished run (exit status and messages) to a verdict.

No process, no file: tested on its own (tests/checkers/test_classifier_props.py).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from typing import Any

import structlog

from calib_async.checkers.api import Verdict
from calib_async.checkers.lean.axioms import (
    DEFAULT_AXIOM_ALLOWLIST,
    forbidden_axioms,
)
from calib_async.checkers.lean.checks import (
    KERNEL_FLAG,
    STATEMENT_FLAG,
    audit_problem,
    read_audit,
)
from calib_async.checkers.lean.messages import (
    HEARTBEAT_RE,
    INTERNAL_LIMIT_RE,
    MEMORY_RE,
    SORRY_RE,
    LeanMessage,
    Severity,
    parse_messages,
)
from calib_async.records import Outcome, TimeoutKind
from calib_async.runner.spec import ExecResult

__all__ = ["classify_lean_result"]

log = structlog.get_logger(__name__)

#: The first Lean release whose ``lean`` accepts ``--json``.
_MEMORY_EXIT_CODES = frozenset({137})  # 128 + SIGKILL, as a wrapper (lake, a shell) reports it


def classify_lean_result(
    result: ExecResult,
    *,
    reject_sorry: bool = False,
    audit_axioms: bool = False,
    allowlist: Sequence[str] = DEFAULT_AXIOM_ALLOWLIST,
    check_statement: bool = False,
    reject_skip_kernel: bool = False,
) -> Verdict:
    """Pure: the verdict for a Lean run that ended on its own (see the module docstring)."""
    # stdout and stderr are read apart: runtime text on stderr must not continue a message.
    messages, leftover = parse_messages(_decode(result.stdout))
    err_messages, err_leftover = parse_messages(_decode(result.stderr))
    messages += err_messages
    audit = read_audit(result.argv, messages, leftover, audit_axioms=audit_axioms)
    in_audit = audit.in_audit
    all_errors = [m for m in messages if m.severity is Severity.ERROR]
    errors = [m for m in all_errors if not in_audit(m)]
    # Lean exits 1 for an error in the generated audit section (a name it could not resolve);
    # that says nothing about the proof.
    exit_ok = result.exit_code == 0 or (result.exit_code == 1 and len(errors) < len(all_errors))
    uses_sorry = any(
        SORRY_RE.search(m.text) for m in messages if m.severity is not Severity.INFORMATION
    )
    first_error = errors[0].header() if errors else None
    axioms_by_decl = audit.axioms_by_decl
    all_axioms = sorted({a for names in axioms_by_decl.values() for a in names})
    if "sorryAx" in all_axioms:
        uses_sorry = True

    def verdict(outcome: Outcome, first: str | None = first_error, **kw: Any) -> Verdict:
        return Verdict(
            outcome,
            uses_sorry=uses_sorry,
            error_count=len(errors),
            first_error=first,
            axioms=tuple(all_axioms) if audit_axioms else None,
            **kw,
        )

    # Runtime failures (panics, uncaught exceptions) are printed on stderr. Bare text on stdout
    # is information output (#eval, #print), which a proof controls, so it is not scanned.
    raw_tail = _first_line(err_leftover) or first_error or _first_line(leftover)
    if result.signal == signal.SIGKILL or result.exit_code in _MEMORY_EXIT_CODES:
        return verdict(Outcome.MEMORY_LIMIT_EXCEEDED, raw_tail or "killed by SIGKILL")
    if found := _find(MEMORY_RE, errors, err_leftover):
        return verdict(Outcome.MEMORY_LIMIT_EXCEEDED, found)
    if found := _find(HEARTBEAT_RE, errors, ""):
        return verdict(Outcome.VERIFIER_TIMEOUT, found, timeout_kind=TimeoutKind.HEARTBEAT)
    if found := _find(INTERNAL_LIMIT_RE, errors, err_leftover):
        return verdict(Outcome.VERIFIER_ERROR, found)
    if errors:
        return verdict(Outcome.PROOF_INVALID)
    if result.signal is not None:
        name = signal.Signals(result.signal).name if result.signal in _SIGNALS else result.signal
        return verdict(Outcome.VERIFIER_ERROR, raw_tail or f"killed by signal {name}")
    if not exit_ok:
        return verdict(Outcome.VERIFIER_ERROR, raw_tail or f"exit status {result.exit_code}")
    if reject_sorry and uses_sorry:
        sorry = next((m.header() for m in messages if SORRY_RE.search(m.text)), "uses sorry")
        return verdict(Outcome.PROOF_INVALID, sorry)
    if check_statement and STATEMENT_FLAG in audit.flags:
        return verdict(Outcome.PROOF_INVALID, "the statement differs from the formal_statement")
    if reject_skip_kernel and KERNEL_FLAG in audit.flags:
        return verdict(Outcome.PROOF_INVALID, "the file turns kernel checking off")
    if audit_axioms:
        if problem := audit_problem(audit, messages):
            return verdict(Outcome.PROOF_INVALID, problem)
        bad = forbidden_axioms(axioms_by_decl, allowlist)
        if bad:
            culprits = [d for d, names in axioms_by_decl.items() if set(names) & set(bad)]
            return verdict(
                Outcome.PROOF_INVALID,
                f"forbidden axioms {bad} used by {', '.join(culprits[:3])}",
            )
    return verdict(Outcome.VERIFIED, None)


_SIGNALS = {s.value for s in signal.Signals}


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return None


def _find(pattern: re.Pattern[str], errors: list[LeanMessage], leftover: str) -> str | None:
    """The header of the first error matching ``pattern``, else the matching leftover line."""
    for error in errors:
        if pattern.search(error.text):
            return error.header()
    for line in leftover.splitlines():
        if pattern.search(line):
            return line.strip()[:300]
    return None
