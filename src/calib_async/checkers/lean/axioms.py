"""The axiom audit: which axioms each declaration of a Lean file depends on.

The audit appends ``#print axioms NAME`` for every theorem, lemma and def the file declares and
reads Lean's answers::

    'NAME' depends on axioms: [propext, Classical.choice, Quot.sound]
    'NAME' does not depend on any axioms

``sorryAx`` means the proof used ``sorry``; ``Lean.ofReduceBool`` (Lean <= 4.28) and axioms named
``..._native.native_decide.ax_...`` (Lean >= 4.29) mean ``native_decide``, which trusts the
compiler. Both are always rejected unless allowlisted explicitly (see :func:`forbidden_axioms`).

Declaration names are found with a regex over the source with comments removed, tracking
``namespace``/``section``/``end`` (best effort: macros that generate declarations are not seen,
and the audit is not hardened against adversarial input such as a trailing ``#exit``; the
verifier treats an audit that produced no report as a failure).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The axioms of ordinary classical Lean/Mathlib proofs.
DEFAULT_AXIOM_ALLOWLIST: tuple[str, ...] = ("propext", "Classical.choice", "Quot.sound")

SORRY_AXIOM = "sorryAx"
_NATIVE_AXIOMS = frozenset({"Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler"})
_NATIVE_RE = re.compile(r"_native\.native_decide\.ax_")
#: An allowlist entry that admits every native_decide axiom (both naming schemes).
NATIVE_DECIDE_ENTRY = "native_decide"

AUDIT_MARKER = "-- calib-async: axiom audit (generated; the lines below are not part of the proof)"

_AXIOMS_RE = re.compile(
    r"(?:^|: )'(?P<name>[^\n]+?)' (?:depends on axioms: \[(?P<axioms>[^\]]*)\]"
    r"|(?P<none>does not depend on any axioms))",
    re.MULTILINE,
)


def is_native_decide_axiom(name: str) -> bool:
    """Whether ``name`` is an axiom that ``native_decide`` introduces."""
    return name in _NATIVE_AXIOMS or bool(_NATIVE_RE.search(name))


def parse_axioms(text: str) -> dict[str, list[str]]:
    """``{declaration: [axioms]}`` from ``#print axioms`` output (text or JSON ``data``).

    A declaration printed twice keeps the union, in first-seen order. Lists that Lean wraps over
    several lines are read whole.
    """
    found: dict[str, list[str]] = {}
    for match in _AXIOMS_RE.finditer(text):
        names = found.setdefault(match["name"], [])
        if match["none"]:
            continue
        for axiom in match["axioms"].split(","):
            axiom = axiom.strip()
            if axiom and axiom not in names:
                names.append(axiom)
    return found


def forbidden_axioms(
    axioms: Mapping[str, Iterable[str]] | Iterable[str],
    allowlist: Iterable[str] = DEFAULT_AXIOM_ALLOWLIST,
) -> list[str]:
    """The axioms (sorted, unique) that make a proof unacceptable.

    ``sorryAx`` is always forbidden. native_decide axioms are forbidden unless the allowlist
    names them, or holds the entry ``native_decide``. Any other axiom is forbidden unless
    allowlisted.
    """
    allowed = set(allowlist)
    values: Iterable[str]
    if isinstance(axioms, Mapping):
        values = (a for names in axioms.values() for a in names)
    else:
        values = axioms
    bad: set[str] = set()
    for axiom in values:
        if axiom == SORRY_AXIOM:
            bad.add(axiom)
        elif is_native_decide_axiom(axiom):
            if axiom not in allowed and NATIVE_DECIDE_ENTRY not in allowed:
                bad.add(axiom)
        elif axiom not in allowed:
            bad.add(axiom)
    return sorted(bad)


# ---------------------------------------------------------------------------------------------
# Finding declarations and writing the audit file


def strip_comments(source: str) -> str:
    """``source`` with comments blanked out (newlines kept, so line numbers still match)."""
    out: list[str] = []
    i, n, depth = 0, len(source), 0
    in_string = False
    while i < n:
        c = source[i]
        two = source[i : i + 2]
        if depth:
            if two == "/-":
                depth, i = depth + 1, i + 2
                out.append("  ")
            elif two == "-/":
                depth, i = depth - 1, i + 2
                out.append("  ")
            else:
                out.append("\n" if c == "\n" else " ")
                i += 1
        elif in_string:
            if c == "\\" and i + 1 < n:
                out.append(source[i : i + 2] if source[i + 1] != "\n" else " \n")
                i += 2
                continue
            in_string = c != '"'
            out.append(c)
            i += 1
        elif two == "/-":
            depth, i = 1, i + 2
            out.append("  ")
        elif two == "--":
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        else:
            in_string = c == '"'
            out.append(c)
            i += 1
    return "".join(out)


_MODIFIERS = r"(?:(?:private|protected|noncomputable|partial|unsafe|nonrec|scoped)\s+)*"
_DECL_RE = re.compile(
    rf"^\s*(?:@\[[^\]]*\]\s*)*{_MODIFIERS}(?:theorem|lemma|def|abbrev)\s+"
    r"(?P<name>«[^»]+»(?:\.[^\s:({\[⦃]+)?|[^\s:({\[⦃«]+)"
)
_NAMESPACE_RE = re.compile(r"^\s*namespace\s+(?P<name>\S+)")
_SECTION_RE = re.compile(r"^\s*(?:noncomputable\s+)?section\b(?:\s+(?P<name>\S+))?")
_MUTUAL_RE = re.compile(r"^\s*mutual\s*$")
_END_RE = re.compile(r"^\s*end\b(?:\s+(?P<name>[^\s-]+))?\s*$")


def declared_names(source: str) -> list[str]:
    """Fully qualified names of the theorems, lemmas, defs and abbrevs ``source`` declares."""
    scopes: list[tuple[str, str | None]] = []  # ("ns" | "sec" | "mutual", name)
    names: list[str] = []
    for line in strip_comments(source).splitlines():
        if m := _NAMESPACE_RE.match(line):
            scopes.append(("ns", m["name"]))
        elif m := _SECTION_RE.match(line):
            scopes.append(("sec", m["name"]))
        elif _MUTUAL_RE.match(line):
            scopes.append(("mutual", None))
        elif _END_RE.match(line):
            if scopes:
                scopes.pop()
        elif m := _DECL_RE.match(line):
            name = m["name"].rstrip(".")  # `foo.{u}`: universe parameters are not the name
            if name.startswith("_root_."):
                full = name.removeprefix("_root_.")
            else:
                prefix = ".".join(s for kind, s in scopes if kind == "ns" and s)
                full = f"{prefix}.{name}" if prefix else name
            if full not in names:
                names.append(full)
    return names


@dataclass(frozen=True, slots=True)
class AuditPlan:
    """The audit file's text, the 1-based line of its first ``#print axioms``, and the names."""

    text: str
    first_line: int
    names: tuple[str, ...]


def plan_audit(source: str) -> AuditPlan:
    """The source with ``#print axioms NAME`` appended for each declared name."""
    names = declared_names(source)
    head = source if source.endswith("\n") or not source else source + "\n"
    head += "\n" + AUDIT_MARKER + "\n"
    first_line = head.count("\n") + 1
    text = head + "".join(f"#print axioms {name}\n" for name in names)
    return AuditPlan(text=text, first_line=first_line, names=tuple(names))


def audit_source(source: str) -> str:
    """The text of the audit file for ``source`` (see :func:`plan_audit`)."""
    return plan_audit(source).text
