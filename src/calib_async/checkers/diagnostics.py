"""Small helpers for reading checker output that every profile shares."""

from __future__ import annotations

import re

_ERROR_RE = re.compile(r"^.*\berror\b.*$", re.IGNORECASE | re.MULTILINE)


def first_error_line(text: str, *, limit: int = 300) -> str | None:
    """The first line that mentions an error, else the first non-empty line, truncated."""
    match = _ERROR_RE.search(text)
    if match:
        return match.group(0).strip()[:limit]
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return None
