"""From a corpus item to the REPL command: the header split off, the tier's heartbeats, the
axiom audit appended, and the source checks decided before the command is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from calib_async.checkers.lean.axioms import plan_audit
from calib_async.checkers.lean.checks import (
    KERNEL_FLAG,
    STATEMENT_FLAG,
    statement_matches,
    uses_kernel_bypass,
)
from calib_async.checkers.lean_repl.classify import Command

#: The profile's ``header`` value that takes each item's own import block.
FROM_ITEM = "from_item"
_IMPORT_RE = re.compile(r"^\s*import\s+\S")


@dataclass(frozen=True, slots=True)
class Prepared:
    """The header to import (once per REPL when warm) and the proof command to run on it."""

    header: str
    text: str
    command: Command


def split_imports(source: str) -> tuple[str, str]:
    """(the item's import lines, the source with those lines blanked): line numbers are kept,
    so messages point at the item's own lines."""
    imports: list[str] = []
    body: list[str] = []
    for line in source.splitlines():
        if _IMPORT_RE.match(line):
            imports.append(line.strip())
            body.append("")
        else:
            body.append(line)
    return "\n".join(imports), "\n".join(body) + ("\n" if source.endswith("\n") else "")


def prepare(
    source: str,
    *,
    header: str,
    max_heartbeats: int | None,
    audit: bool,
    check_statement: bool,
    formal_statement: str | None,
    reject_skip_kernel: bool,
) -> Prepared:
    """The command for ``source`` (see the module docstring).

    ``set_option maxHeartbeats N`` goes on a first line of its own (for every declaration of
    the command, not only the next one as ``... in`` would); the audit window is shifted by it.
    """
    own_imports, body = split_imports(source)
    chosen = own_imports if header == FROM_ITEM else header
    flags: set[str] = set()
    stated = formal_statement is None or statement_matches(source, formal_statement)
    if check_statement and not stated:
        flags.add(STATEMENT_FLAG)
    if reject_skip_kernel and uses_kernel_bypass(source):
        flags.add(KERNEL_FLAG)
    window = None
    if audit:
        plan = plan_audit(body)
        body = plan.text
        window = (plan.first_line, len(plan.names))
    prefix = f"set_option maxHeartbeats {int(max_heartbeats)}\n" if max_heartbeats else ""
    if prefix and window is not None:
        window = (window[0] + 1, window[1])
    return Prepared(header=chosen, text=prefix + body, command=Command(window, frozenset(flags)))
