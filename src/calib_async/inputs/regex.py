"""User regexes compiled by RE2, so matching is linear in the text and cannot hang."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import re2

from calib_async.errors import CalibError
from calib_async.inputs.values import Err, describe, writable_text


@dataclass(frozen=True, slots=True)
class UserRegex:
    """A user's regex compiled by RE2: ``.search(text)`` runs in time linear in ``text``.

    ``pattern`` is the source text (for fingerprints and messages); build it with
    :func:`compile_user_regex`. Two values are equal when their patterns are.
    """

    pattern: str
    compiled: Any = field(repr=False, compare=False)

    def search(self, text: str) -> Any:
        """The first match in ``text`` (an RE2 match object, truthy) or ``None``."""
        try:
            return self.compiled.search(text)
        except UnicodeEncodeError:  # lone surrogates: search the bytes RE2 would have seen
            return self.compiled.search(text.encode("utf-8", "surrogatepass"))


_RE2_HINTS = (
    ("(?=", "lookahead (?=...) is not supported"),
    ("(?!", "lookahead (?!...) is not supported"),
    ("(?<=", "lookbehind (?<=...) is not supported"),
    ("(?<!", "lookbehind (?<!...) is not supported"),
    ("(?>", "atomic groups (?>...) are not supported"),
    ("(?P=", "backreferences (?P=name) are not supported"),
    ("\\Z", "write \\z for the end of the text"),
    ("++", "possessive repetition is not supported"),
    ("*+", "possessive repetition is not supported"),
    ("?+", "possessive repetition is not supported"),
)
_BACKREF_RE = re.compile(r"\\[1-9]")

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 otherwise logs each bad pattern to stderr itself


def compile_user_regex(pattern: str, where: str, *, error: Err = CalibError) -> UserRegex:
    """Compile ``pattern`` with RE2, or raise one line saying what RE2 does not support."""
    if not isinstance(pattern, str):
        raise error(f"{where} must be a regex string, not {describe(pattern)}")
    writable_text(pattern, where, error=error)
    try:
        compiled = re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        detail = " ".join(str(detail).split())
        hint = next((h for token, h in _RE2_HINTS if token in pattern), None)
        if hint is None and _BACKREF_RE.search(pattern):
            hint = "backreferences \\1..\\9 are not supported"
        reason = f"RE2 (linear-time matching): {hint}" if hint else detail
        raise error(f"{where}: cannot use regex {describe(pattern)}: {reason}") from None
    return UserRegex(pattern=pattern, compiled=compiled)
