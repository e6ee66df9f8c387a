"""Lean checks beyond Lean's own verdict: the statement, kernel bypasses, and a positional audit.

Tier options (``tiers.<NAME>.options``) that use them:

``check_statement``
    The checked file must still state the attempt's ``formal_statement`` (JSONL corpora): the
    statement, with comments removed, whitespace collapsed and a trailing ``:= by`` /
    ``:=`` / ``sorry`` dropped, must occur in the file read the same way. A textual check: it
    catches a replaced statement (``theorem foo : True := trivial``), not a statement that is
    restated differently but equivalently (which it rejects). Items without a
    ``formal_statement`` are not checked.
``reject_skip_kernel``
    Reject a file that mentions ``debug.skipKernelTC`` or ``addDeclWithoutChecking`` outside
    comments: with kernel checking off, a tactic can close ``False`` and ``#print axioms``
    stays clean. Best effort (a source scan); replaying the environment through the kernel
    (lean4checker) is the full defence.

Both are decided when the run is planned, from the file's text, and travel to the pure
classifier in the checked copy's file name (``NAME.check-statement.lean``,
``NAME.audit-L12-D3-kernel.lean``), as the audit window already does.

**Positional audit.** With ``--json`` every message carries its position, so an axiom audit
reads only the information messages positioned at its own ``#print axioms`` lines (one per
audited declaration, from line L of ``audit-L..-D..``). Text that the proof prints (``#eval``)
is positioned at the proof's own lines and is ignored, however much it looks like an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from calib_async.checkers.lean.axioms import parse_axioms, plan_audit, strip_comments
from calib_async.checkers.lean.messages import LeanMessage, Severity

STATEMENT_FLAG = "statement"
KERNEL_FLAG = "kernel"
_CHECK_FILE_RE = re.compile(
    r"\.(?:audit-L(?P<line>\d+)-D(?P<decls>\d+)|check)(?P<flags>(?:-(?:statement|kernel))*)"
    r"\.lean$"
)
_KERNEL_BYPASS_RE = re.compile(r"\bdebug\.skipKernelTC\b|\baddDeclWithoutChecking\b")
_TRAILING_RE = re.compile(r"(?:\s*(?::=|\bby\b|\bsorry\b))+\s*$")
#: Lean's warning for ``#exit``: nothing after it (the audit included) was checked.
EXIT_RE = re.compile(r"using 'exit' to interrupt Lean")
#: Audit errors that say nothing about the proof: a declaration name the audit guessed wrong.
EXCUSED_AUDIT_ERROR_RE = re.compile(r"unknown (?:constant|identifier)")


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """What a checked copy's file name says: the audit window and the failed source checks."""

    audit_line: int | None
    audit_decls: int
    flags: frozenset[str]


def check_file_suffix(audit: tuple[int, int] | None, flags: Sequence[str]) -> str:
    """``.audit-L{line}-D{n}[-flag...].lean`` or ``.check-flag[-flag].lean``."""
    head = f".audit-L{audit[0]}-D{audit[1]}" if audit is not None else ".check"
    return head + "".join(f"-{f}" for f in sorted(flags)) + ".lean"


def read_checked_file(argv: Sequence[str]) -> CheckedFile | None:
    """The checked copy named in ``argv`` (last match), or None when the item itself ran."""
    for arg in reversed(argv):
        if match := _CHECK_FILE_RE.search(arg):
            line = int(match["line"]) if match["line"] else None
            flags = frozenset(f for f in match["flags"].split("-") if f)
            return CheckedFile(line, int(match["decls"] or 0), flags)
    return None


def normalize_lean(text: str) -> str:
    """Comments removed and whitespace collapsed to single spaces."""
    return " ".join(strip_comments(text).split())


def statement_matches(source: str, formal_statement: str) -> bool:
    """Whether ``source`` still states ``formal_statement`` (see ``check_statement``)."""
    wanted = _TRAILING_RE.sub("", normalize_lean(formal_statement))
    return not wanted or wanted in normalize_lean(source)


def uses_kernel_bypass(source: str) -> bool:
    """Whether ``source`` turns kernel checking off (see ``reject_skip_kernel``)."""
    return bool(_KERNEL_BYPASS_RE.search(strip_comments(source)))


def positioned_answers(
    messages: Sequence[LeanMessage], first_line: int, count: int
) -> dict[int, dict[str, list[str]]]:
    """``{line: {declaration: axioms}}`` from information messages at the audit's lines only."""
    lines = range(first_line, first_line + count)
    out: dict[int, dict[str, list[str]]] = {}
    for message in messages:
        if message.severity is Severity.INFORMATION and message.line in lines:
            assert message.line is not None
            found = parse_axioms(message.text)
            if found:
                out.setdefault(message.line, {}).update(found)
    return out


def checked_copy_text(
    source: str,
    *,
    audit: bool,
    check_statement: bool,
    formal_statement: str | None,
    reject_skip_kernel: bool,
) -> tuple[str, str] | None:
    """(text, file-name suffix) of the copy Lean should read, or None to read the item itself."""
    flags = []
    stated = formal_statement is None or statement_matches(source, formal_statement)
    if check_statement and not stated:
        flags.append(STATEMENT_FLAG)
    if reject_skip_kernel and uses_kernel_bypass(source):
        flags.append(KERNEL_FLAG)
    if not audit and not flags:
        return None
    plan = plan_audit(source) if audit else None
    window = (plan.first_line, len(plan.names)) if plan is not None else None
    return (plan.text if plan is not None else source), check_file_suffix(window, flags)


@dataclass(frozen=True, slots=True)
class AuditReading:
    """The axiom audit as read from one run's messages."""

    window: tuple[int, int] | None  # (first #print axioms line, declarations audited)
    positional: bool  # --json: answers are tied to the audit's own lines
    axioms_by_decl: dict[str, list[str]]
    answers: dict[int, dict[str, list[str]]]
    flags: frozenset[str]

    def in_audit(self, m: LeanMessage) -> bool:
        return self.window is not None and m.line is not None and m.line >= self.window[0]


def read_audit(
    argv: Sequence[str], messages: Sequence[LeanMessage], leftover: str, *, audit_axioms: bool
) -> AuditReading:
    """Read the audit: positionally with ``--json``, else by text match (a weaker fallback:
    in Lean's text format information messages carry no position)."""
    checked = read_checked_file(argv)
    window = None
    if audit_axioms and checked is not None and checked.audit_line is not None:
        window = (checked.audit_line, checked.audit_decls)
    positional = window is not None and "--json" in argv
    answers: dict[int, dict[str, list[str]]] = {}
    if positional:
        assert window is not None
        answers = positioned_answers(messages, *window)
        axioms = {d: a for found in answers.values() for d, a in found.items()}
    elif audit_axioms:
        info = "\n".join(m.text for m in messages if m.severity is Severity.INFORMATION)
        axioms = parse_axioms(info + "\n" + leftover)
    else:
        axioms = {}
    flags = checked.flags if checked is not None else frozenset()
    return AuditReading(window, positional, axioms, answers, flags)


def audit_problem(reading: AuditReading, messages: Sequence[LeanMessage]) -> str | None:
    """Why the audit cannot vouch for the file (before looking at which axioms), or None.

    ``#exit`` (nothing after it ran), an error in the audit section other than an unknown
    name, or an audited declaration without an answer (positional mode: at its own line).
    """
    stop = next((m for m in messages if EXIT_RE.search(m.text)), None)
    if stop is not None:
        return f"#exit before the axiom audit: {stop.header()}"
    errors = [m for m in messages if m.severity is Severity.ERROR and reading.in_audit(m)]
    failed = [m for m in errors if not EXCUSED_AUDIT_ERROR_RE.search(m.text)]
    if failed:
        return f"axiom audit failed: {failed[0].header()}"
    window = reading.window
    if window is None or window[1] == 0:
        return None
    excused = {m.line for m in errors}
    expected = [line for line in range(window[0], window[0] + window[1]) if line not in excused]
    if reading.positional:
        missing = [line for line in expected if line not in reading.answers]
    else:
        missing = [] if reading.axioms_by_decl else expected
    if missing:
        return f"axiom audit printed no report for {len(missing)} of {window[1]} declarations"
    return None
