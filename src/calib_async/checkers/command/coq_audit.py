"""The Coq assumptions audit: a copy of the file with ``Print Assumptions`` for every theorem.

A command profile with ``options: {audit: coq_assumptions}`` checks a copy of the item
instead of the item: the file's text, then one ``Print Assumptions NAME.`` per theorem,
lemma, corollary, proposition, fact, remark, example, definition, fixpoint and instance the
file declares (names qualified by the enclosing ``Module``s; ``Section`` names are not part
of a name). Coq prints ``Axioms:`` when a proof depends on anything assumed, an ``Admitted``
proof included, so a rule on that output makes the profile a stronger reference than the
plain ``coqc`` the tiers run (``examples/coq.yaml``). Names are found with a regex over the
text with comments removed: declarations inside a ``Module Type`` or built by a tactic or
notation are missed, and a name the regex gets wrong makes Coq print an error. This audit
catches accidents (``Admitted``, a stray ``Axiom``); it is not a defence against a proof
written to fool it.

The copy keeps the item's file name (Coq derives the module name from it) in a directory
named by the item and its content hash under the profile's work directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from calib_async.records import CorpusItem

AUDIT_OPTION = "audit"
COQ_ASSUMPTIONS = "coq_assumptions"

_DECL = re.compile(
    r"^\s*(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Polymorphic|Program)\s+)*"
    r"(?:Theorem|Lemma|Corollary|Proposition|Fact|Remark|Example|Definition|Fixpoint|"
    r"CoFixpoint|Instance)\s+([A-Za-z_][\w']*)"
)
_MODULE = re.compile(r"^\s*Module\s+(?:(Type)\s+)?(?:(?:Import|Export)\s+)?([A-Za-z_][\w']*)")
_SECTION = re.compile(r"^\s*Section\s+([A-Za-z_][\w']*)")
_END = re.compile(r"^\s*End\s+([A-Za-z_][\w']*)\s*\.")
#: the end of a Coq sentence: a period followed by white space (or the end of the text)
_SENTENCE_END = re.compile(r"\.(?=\s|$)")


def strip_comments(text: str) -> str:
    """``text`` with Coq comments (nested ``(* ... *)``) replaced by spaces, strings kept."""
    out: list[str] = []
    depth, i, in_string = 0, 0, False
    while i < len(text):
        two = text[i : i + 2]
        ch = text[i]
        if depth == 0 and ch == '"':
            in_string = not in_string
        if not in_string and two == "(*":
            depth += 1
            out.append("  ")
            i += 2
            continue
        if depth and two == "*)":
            depth -= 1
            out.append("  ")
            i += 2
            continue
        out.append(ch if depth == 0 or ch == "\n" else " ")
        i += 1
    return "".join(out)


def theorem_names(text: str) -> list[str]:
    """Qualified names of the declarations ``Print Assumptions`` can audit, in file order."""
    scopes: list[tuple[str, str]] = []  # (kind, name): kind module | module_type | section
    names: list[str] = []
    for sentence in _SENTENCE_END.split(strip_comments(text)):
        line = sentence.strip() + "."
        if m := _MODULE.match(line):
            if ":=" not in line:  # ``Module X := Y.`` opens nothing
                scopes.append(("module_type" if m.group(1) else "module", m.group(2)))
            continue
        if m := _SECTION.match(line):
            scopes.append(("section", m.group(1)))
            continue
        if m := _END.match(line):
            if scopes and scopes[-1][1] == m.group(1):
                scopes.pop()
            continue
        if (m := _DECL.match(line)) and not any(k == "module_type" for k, _ in scopes):
            prefix = [n for k, n in scopes if k == "module"]
            names.append(".".join([*prefix, m.group(1)]))
    return list(dict.fromkeys(names))


def audited_text(text: str) -> str:
    """The file's text followed by ``Print Assumptions`` for each of its theorems."""
    lines = [f"Print Assumptions {name}." for name in theorem_names(text)]
    return text.rstrip("\n") + "\n\n(* calib-async assumptions audit *)\n" + "\n".join(lines) + "\n"


def audited_copy(item: CorpusItem, work_dir: Path) -> Path:
    """Write (once, atomically) and return the audited copy of ``item``'s file."""
    path = Path(item.path)
    try:
        source = path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError:
        return path  # coqc itself reports the missing file
    data = audited_text(source).encode("utf-8", errors="surrogateescape")
    target = work_dir / f"{item.item_id}.{item.content_hash[:12]}" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_bytes() != data:
        tmp = target.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target
