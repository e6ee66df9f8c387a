"""Canaries: invalid variants of a corpus item, each made by one known exploit (pure functions).

A canary's truth is INVALID by construction, so the share of canaries a tier passes is its
spurious-pass rate for that exploit, with no labelling. Each rewrite returns the canary's text,
or ``None`` when the class does not apply to the source (nothing to rewrite).

Built-in Lean classes. Each rewrites the *first* ``theorem``/``lemma`` whose proof follows
``:=`` (the declaration ends at the next line indented no deeper than it; comments are ignored):

=============== ================================================== ==============================
class           exploit it models                                  tier option that defends
=============== ================================================== ==============================
``sorry``       the proof is ``sorry``: Lean only warns            ``reject_sorry`` (both warning
                (``declaration uses 'sorry'``, or `` `sorry` ``)   spellings); ``audit_axioms``
``admit``       the proof is ``admit`` (a ``sorry`` synonym)       ``reject_sorry``
``axiom``       ``axiom calib_canary_cheat : False`` is declared   ``audit_axioms`` (the axiom is
                and the goal is closed with ``.elim``              not in ``axiom_allowlist``)
``native_decide`` ``native_decide`` evaluates an ``implemented_by`` ``audit_axioms``
                function whose compiled code disagrees with its    (``Lean.ofReduceBool``)
                definition, proving ``False``
``skip_kernel`` ``set_option debug.skipKernelTC true`` lets a      ``reject_skip_kernel`` (a
                tactic close ``False`` with ``trivial``; the       source scan, best effort);
                kernel never checks it and ``#print axioms`` is    the audit cannot see it
                clean (lean-by-example #1743)
``statement``   the statement is replaced by ``True``, proved by   ``check_statement`` (compare
                ``trivial`` (not applicable when it is ``True``)   with the attempt's
                                                                   ``formal_statement``)
``fake_axioms`` as ``axiom``, then ``#eval`` prints a clean        ``audit_axioms``: the audit
                ``#print axioms`` answer and ``#exit`` stops the   reads only answers positioned
                file before the real audit runs                    at its own ``#print axioms``
                                                                   lines and rejects ``#exit``
=============== ================================================== ==============================

Generic classes come from a profile's YAML (:mod:`calib_async.config.canaries`) and are applied
by :func:`generic_canary`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calib_async.checkers.lean.axioms import strip_comments
from calib_async.errors import CalibError
from calib_async.profiles import BUILTIN_CANARY_CLASSES, GenericCanary

LEAN_CLASSES = BUILTIN_CANARY_CLASSES
CHEAT_AXIOM = "calib_canary_cheat"

_MODIFIERS = r"(?:(?:private|protected|noncomputable|nonrec|unsafe)\s+)*"
_DECL_RE = re.compile(
    rf"^(?P<indent>[ \t]*)(?:@\[[^\]]*\]\s*)*{_MODIFIERS}(?:theorem|lemma)\s+"
    r"(?P<name>[^\s:({\[⦃]+)",
    re.MULTILINE,
)
_IMPORT_RE = re.compile(r"^import\s+\S+[^\n]*\n?", re.MULTILINE)
_OPEN = "([{⟨⦃"
_CLOSE = ")]}⟩⦄"

_NATIVE_HELPER = """\
def calibCanaryImpl : Bool := false

@[implemented_by calibCanaryImpl]
def calibCanaryBool : Bool := true

theorem calib_canary_native_false : False := by
  have h : calibCanaryBool = false := by native_decide
  exact absurd (h.symm.trans (rfl : calibCanaryBool = true)) (by decide)

"""
_SKIP_KERNEL_HELPER = """\
section
set_option debug.skipKernelTC true
open Lean Elab Tactic in
elab "calib_canary_trust_me" : tactic =>
  closeMainGoal `calib_canary_trust_me (mkConst ``trivial)

def calib_canary_kernel_false : False := by calib_canary_trust_me
end

"""


@dataclass(frozen=True, slots=True)
class LeanDecl:
    """Offsets of a theorem in its source: line start, name, ``:=`` and end (exclusive)."""

    start: int
    name: str
    name_end: int
    assign: int
    end: int


def _decl_end(masked: str, after: int, indent: int) -> int:
    """The start of the first later line that is not blank and indented at most ``indent``."""
    pos = masked.find("\n", after)
    while pos >= 0:
        line_start = pos + 1
        line_end = masked.find("\n", line_start)
        line = masked[line_start : len(masked) if line_end < 0 else line_end]
        stripped = line.lstrip(" \t")
        if stripped and len(line) - len(stripped) <= indent:
            return line_start
        pos = line_end
    return len(masked)


def _lead_start(masked: str, start: int) -> int:
    """Where the comments just before a declaration (its doc comment) begin: a line start."""
    content = len(masked[:start].rstrip())
    if content == 0:
        return 0
    newline = masked.find("\n", content)
    return start if newline < 0 or newline >= start else newline + 1


def _assign_offset(masked: str, start: int, end: int) -> int | None:
    """The offset of the first ``:=`` at bracket depth 0 in ``masked[start:end]``."""
    depth = 0
    i = start
    while i < end - 1:
        c = masked[i]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(0, depth - 1)
        elif c == '"':  # skip a string literal
            j = i + 1
            while j < end and masked[j] != '"':
                j += 2 if masked[j] == "\\" else 1
            i = j
        elif depth == 0 and masked[i : i + 2] == ":=":
            return i
        i += 1
    return None


def first_theorem(source: str) -> LeanDecl | None:
    """The first ``theorem``/``lemma`` whose proof follows ``:=``, or None."""
    masked = strip_comments(source)
    for match in _DECL_RE.finditer(masked):
        indent = len(match["indent"].expandtabs(2))
        end = _decl_end(masked, match.end(), indent)
        assign = _assign_offset(masked, match.end("name"), end)
        if assign is None:
            continue  # defined by equations (`| 0 => ...`) or malformed: try the next one
        return LeanDecl(
            _lead_start(masked, match.start()), match["name"], match.end("name"), assign, end
        )
    return None


def _with_proof(
    source: str, decl: LeanDecl, proof: str, *, before: str = "", after: str = ""
) -> str:
    rest = source[decl.end :]
    return (
        source[: decl.start] + before + source[decl.start : decl.assign + 2] + proof + after + rest
    )


def _add_import(text: str, module: str) -> str:
    """``import module`` after the file's last leading import (or first, when it has none)."""
    masked = strip_comments(text)
    last = None
    for match in _IMPORT_RE.finditer(masked):
        if masked[: match.start()].strip() and last is None:
            break  # an import after other commands is not a header import
        last = match
    if last is None:
        return f"import {module}\n" + text
    cut = last.end() if masked[last.end() - 1 : last.end()] == "\n" else len(text)
    head = text[:cut] if text[:cut].endswith("\n") else text[:cut] + "\n"
    return head + f"import {module}\n" + text[cut:]


def _lean_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def lean_canary(cls: str, source: str) -> str | None:
    """The canary of built-in class ``cls`` made from Lean ``source``; None if not applicable.

    Raises ValueError for an unknown class.
    """
    if cls not in LEAN_CLASSES:
        raise ValueError(f"unknown built-in canary class {cls!r}")
    decl = first_theorem(source)
    if decl is None:
        return None
    cheat = f"axiom {CHEAT_AXIOM} : False\n\n"
    if cls == "sorry":
        out = _with_proof(source, decl, " by\n  sorry\n")
    elif cls == "admit":
        out = _with_proof(source, decl, " by\n  admit\n")
    elif cls == "axiom":
        out = _with_proof(source, decl, f" {CHEAT_AXIOM}.elim\n", before=cheat)
    elif cls == "native_decide":
        out = _with_proof(source, decl, " calib_canary_native_false.elim\n", before=_NATIVE_HELPER)
    elif cls == "skip_kernel":
        out = _with_proof(
            source, decl, " calib_canary_kernel_false.elim\n", before=_SKIP_KERNEL_HELPER
        )
        out = _add_import(out, "Lean")
    elif cls == "statement":
        statement = " ".join(strip_comments(source)[decl.name_end : decl.assign].split())
        if statement == ": True":
            return None
        out = source[: decl.name_end] + " : True := trivial\n" + source[decl.end :]
    else:  # fake_axioms
        fake = (
            f'#eval IO.println "{_lean_string(repr_name(decl.name))} '
            'does not depend on any axioms"\n#exit\n'
        )
        out = _with_proof(source, decl, f" {CHEAT_AXIOM}.elim\n\n{fake}", before=cheat)
    return out if out != source else None


def repr_name(name: str) -> str:
    """A declaration name quoted as ``#print axioms`` prints it: ``'name'``."""
    return f"'{name}'"


def generic_canary(spec: GenericCanary, source: str) -> str | None:
    """The canary a profile-declared class makes from ``source``; None if not applicable."""
    if spec.append is not None:
        out = source + spec.append
    elif spec.prepend is not None:
        out = spec.prepend + source
    else:
        assert spec.find is not None
        _check_growth(spec, source)
        out, count = spec.find.compiled.subn(
            spec.replace, source, count=1 if spec.count == "first" else 0
        )
        if count == 0:
            return None
    return out if out != source else None


#: The largest canary a find/replace class may make (a pattern that matches everywhere with a
#: long replacement would otherwise grow a file beyond memory).
MAX_CANARY_CHARS = 64 << 20
_GROUP_REF = re.compile(r"\\[1-9]|\\g<[^>]*>")


def _check_growth(spec: GenericCanary, source: str) -> None:
    """Refuse, before substituting, a rewrite whose result could exceed MAX_CANARY_CHARS."""
    assert spec.find is not None and spec.replace is not None
    refs = len(_GROUP_REF.findall(spec.replace))
    per_match = len(spec.replace) + refs * len(source)
    limit = 1 if spec.count == "first" else None
    for matches, _ in enumerate(spec.find.compiled.finditer(source), start=1):
        if len(source) + matches * per_match > MAX_CANARY_CHARS:
            raise CalibError(
                f"canary class {spec.name!r} would make a file of more than "
                f"{MAX_CANARY_CHARS >> 20} Mi characters from a {len(source)}-character item "
                "(its 'find' matches too often for its 'replace'); make 'find' more specific"
            )
        if limit is not None and matches >= limit:
            break
