"""Reading Lean 4's diagnostics: the text format, the ``--json`` format, and what they mean.

Formats (from Lean 4's ``Lean.Message``):

- text: ``FILE:LINE:COL: error: MSG`` or ``FILE:LINE:COL: warning: MSG``; newer versions may name
  the error, ``FILE:LINE:COL: error(lean.unknownIdentifier): MSG``. A message may span several
  lines; the lines up to the next header belong to it. Information messages (``#print``,
  ``#eval``) are printed bare, without a header.
- ``--json``: one JSON object per line with ``fileName``, ``pos`` ({line, column}), ``endPos``,
  ``severity`` (information, warning, error), ``data`` (the text) and other fields.

Runtime failures (out of memory, uncaught exceptions, stack overflow) are printed as plain text on
stderr in either mode, so :func:`parse_messages` accepts a mixture and returns the leftover text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFORMATION = "information"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class LeanMessage:
    """One diagnostic. ``text`` is the message body (all its lines)."""

    severity: Severity
    text: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    name: str | None = None  # the error name of ``error(name):``, if any

    def header(self, *, limit: int = 300) -> str:
        """The message as Lean's text format prints its first line."""
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        if self.file is None or self.line is None:
            return first[:limit]
        label = f"{self.severity.value}({self.name})" if self.name else self.severity.value
        return f"{self.file}:{self.line}:{self.column or 0}: {label}: {first}"[:limit]


_HEADER_RE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)(?:-\d+:\d+)?: "
    r"(?P<sev>error|warning|info|information)(?:\((?P<name>[^)\s]*)\))?:(?: (?P<msg>.*))?$"
)
#: ``lake build`` prints ``error: FILE:LINE:COL: MSG``; accepted too.
_LAKE_HEADER_RE = re.compile(
    r"^(?P<sev>error|warning|info): (?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$"
)
_SEVERITY = {
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFORMATION,
    "information": Severity.INFORMATION,
}


def _json_message(line: str) -> LeanMessage | None:
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "severity" not in obj or "data" not in obj:
        return None
    severity = _SEVERITY.get(str(obj.get("severity")))
    if severity is None:
        return None
    raw_pos = obj.get("pos")
    pos: dict[str, Any] = raw_pos if isinstance(raw_pos, dict) else {}
    kind = obj.get("kind")
    name = None
    if isinstance(kind, str) and kind.endswith("._namedError"):
        name = kind.removesuffix("._namedError")
    data = obj.get("data")
    caption = obj.get("caption") or ""
    text = data if isinstance(data, str) else json.dumps(data)
    if caption:
        text = f"{caption}:\n{text}"
    return LeanMessage(
        severity=severity,
        text=text,
        file=obj.get("fileName") if isinstance(obj.get("fileName"), str) else None,
        line=pos.get("line") if isinstance(pos.get("line"), int) else None,
        column=pos.get("column") if isinstance(pos.get("column"), int) else None,
        name=name,
    )


def parse_messages(text: str) -> tuple[list[LeanMessage], str]:
    """Split Lean output into messages (text or JSON lines, mixed) and leftover text.

    Leftover text is every line that belongs to no headed message: bare information messages in
    text mode, and runtime output such as ``INTERNAL PANIC: out of memory``.
    """
    messages: list[LeanMessage] = []
    leftover: list[str] = []
    current: dict[str, object] | None = None
    body: list[str] = []

    def flush() -> None:
        nonlocal current, body
        if current is not None:
            messages.append(LeanMessage(text="\n".join(body).rstrip("\n"), **current))  # type: ignore[arg-type]
        current, body = None, []

    for line in text.splitlines():
        as_json = _json_message(line.strip())
        if as_json is not None:
            flush()
            messages.append(as_json)
            continue
        match = _HEADER_RE.match(line) or _LAKE_HEADER_RE.match(line)
        if match:
            flush()
            current = {
                "severity": _SEVERITY[match["sev"]],
                "file": match["file"],
                "line": int(match["line"]),
                "column": int(match["col"]),
                "name": match.groupdict().get("name") or None,
            }
            body = [match["msg"] or ""]
        elif current is not None:
            body.append(line)
        else:
            leftover.append(line)
    flush()
    return messages, "\n".join(leftover)


# ---------------------------------------------------------------------------------------------
# What the messages mean

#: ``declaration uses 'sorry'`` (Lean before December 2025) and ``declaration uses `sorry` ``.
SORRY_RE = re.compile(r"declaration uses ['`]sorry['`]")

#: ``(deterministic) timeout at `whnf`, maximum number of heartbeats (200000) has been reached``;
#: older versions quote the name as 'isDefEq' or not at all; the kernel's own variant.
HEARTBEAT_RE = re.compile(
    r"\(deterministic\) timeout\b[^\n]*?maximum number of heartbeats \((?P<n>\d+)\)"
    r"|\(kernel\) deterministic timeout"
)

#: Out-of-memory conditions, from the kernel, the runtime, the C++ allocator or the OS.
MEMORY_RE = re.compile(
    r"\(kernel\) excessive memory consumption detected"
    r"|excessive memory consumption detected"
    r"|\bout of memory\b"
    r"|std::bad_alloc"
    r"|failed to create thread"
    r"|Cannot allocate memory",
    re.IGNORECASE,
)

#: Internal limits that are neither time nor memory: the kernel's recursion guard, the
#: elaborator's ``maxRecDepth`` and a native stack overflow.
INTERNAL_LIMIT_RE = re.compile(
    r"\(kernel\) deep recursion detected"
    r"|maximum recursion depth has been reached"
    r"|Stack overflow detected"
)
