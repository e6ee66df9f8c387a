"""Corpus files read safely: regular files only, UTF-8 names and text, no loops, no NULs.

Every path of a corpus goes through here before it is opened, so a FIFO, a device, a symlink
loop or an undecodable name ends in one :class:`~calib_async.errors.CorpusError` line instead of
a hang or a traceback. Non-UTF-8 file names are refused (see
:func:`calib_async.inputs.safe_path_name` for why they are not recorded with surrogateescape).
"""

from __future__ import annotations

from pathlib import Path

from calib_async.errors import CorpusError
from calib_async.inputs import (
    UserRegex,
    compile_user_regex,
    no_nul,
    open_regular_file,
    output_file_target,
    regular_file,
    safe_path_name,
)


def read_utf8(path: Path, where: str = "corpus file") -> tuple[bytes, str]:
    """The bytes and text of a regular UTF-8 file; a FIFO or device is refused unopened."""
    try:
        with open_regular_file(path, where, error=CorpusError) as fh:
            data = fh.read()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(
            f"{path}:{line}: not UTF-8 (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None


def checked_relative(path: Path, root: Path) -> Path:
    """``path`` relative to ``root``, every part a UTF-8 name (else one CorpusError line)."""
    rel = path.relative_to(root)
    for part in rel.parts:
        safe_path_name(part, where=f"file name in {root}:", error=CorpusError)
    return rel


def list_entry_file(entry: str, base: Path, where: str) -> Path:
    """The regular file a list entry names (relative to ``base``), resolved."""
    no_nul(entry, f"{where}: entry", error=CorpusError)
    candidate = base / entry
    try:
        regular_file(candidate, f"{where}:", error=CorpusError)
    except CorpusError as exc:
        if "does not exist" in str(exc):
            raise CorpusError(f"{where}: {entry} does not exist") from None
        raise
    try:
        return candidate.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop (Python 3.11/3.12)
        raise CorpusError(f"{where}: {entry} cannot be resolved ({exc}); fix the path") from None


def attempt_target(path: Path, where: str) -> None:
    """Refuse to write an attempt where something other than a regular file is."""
    output_file_target(path, where, error=CorpusError)


def compile_filter(pattern: str | None) -> UserRegex | None:
    """The --corpus-filter regex compiled by RE2 (linear time), or a one-line CorpusError."""
    if pattern is None:
        return None
    return compile_user_regex(pattern, "--corpus-filter", error=CorpusError)
