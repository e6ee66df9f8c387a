"""Text from a checker or a file, made safe to show on a terminal: controls are shown, never
interpreted.

A hostile proof's output can hold escape sequences that set the window title, write the
clipboard (OSC 52), clear the screen or move the cursor to print over what we wrote. Every
C0 control (except a newline; a tab stays a tab), DEL, every C1 control, and the Unicode
direction overrides are replaced by their escape (``\\x1b``, ``\\x9b``, ``\\u202e``), so the
human sees what the checker printed instead of what it wanted the terminal to do.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``str(text)`` with every control character shown as its escape (newlines and tabs kept)."""
    return _CONTROL.sub(_escape, str(text))


def visible_line(text: object) -> str:
    """:func:`visible`, with newlines escaped too: for a value shown on one line."""
    return visible(text).replace("\n", "\\n")
