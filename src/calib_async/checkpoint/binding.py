"""What binds a file derived from a log (``labels.json``) to that very log: its header's digest.

The header line holds the fingerprint and the time the log was created, so two runs with the
same settings still have different digests, and a log moved aside by ``--fresh`` is told from
its successor.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: A header line longer than this is not one this tool wrote.
MAX_HEADER_BYTES = 1 << 30


def header_digest(first_line: bytes) -> str:
    """sha256 of a log's header line (without its newline)."""
    return hashlib.sha256(first_line.rstrip(b"\n")).hexdigest()


def log_header_digest(path: Path) -> str | None:
    """:func:`header_digest` of the log at ``path``; None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return header_digest(fh.readline(MAX_HEADER_BYTES))
    except OSError:
        return None
