"""The Lean REPL's command mode (leanprover-community/repl) on the wire.

A request is one JSON object followed by a blank line; the reply is a JSON object (the real REPL
prints it over several lines, never with a blank line inside: strings escape their newlines)
followed by a blank line. :class:`ReplyFramer` cuts replies out of the stdout byte stream
without assuming one line per reply; bytes before a reply's ``{`` (a stray print) are kept as
noise. A reply is ``{"env", "messages", "sorries"}`` (empty lists left out) or an error object
``{"message": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from calib_async.checkers.lean.messages import LeanMessage, Severity

_SEVERITY = {
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFORMATION,
    "information": Severity.INFORMATION,
    "trace": Severity.INFORMATION,
}


def encode_command(cmd: str, env: int | None = None) -> bytes:
    """``{"cmd": ..., "env": N}`` and the blank line that ends a request."""
    request: dict[str, Any] = {"cmd": cmd}
    if env is not None:
        request["env"] = env
    return orjson.dumps(request) + b"\n\n"


@dataclass(frozen=True, slots=True)
class ReplReply:
    """One decoded reply."""

    env: int | None
    messages: tuple[LeanMessage, ...] = ()
    sorries: tuple[dict[str, Any], ...] = ()
    error: str | None = None  # the REPL's own error object ({"message": ...})
    raw_bytes: int = 0

    @property
    def has_sorries(self) -> bool:
        return bool(self.sorries)


def _message(obj: Any) -> LeanMessage | None:
    if not isinstance(obj, dict):
        return None
    severity = _SEVERITY.get(str(obj.get("severity")))
    data = obj.get("data")
    if severity is None or not isinstance(data, str):
        return None
    raw_pos = obj.get("pos")
    pos: dict[str, Any] = raw_pos if isinstance(raw_pos, dict) else {}
    line = pos.get("line")
    column = pos.get("column")
    return LeanMessage(
        severity=severity,
        text=data,
        file="<repl>",
        line=line if isinstance(line, int) else None,
        column=column if isinstance(column, int) else None,
    )


def decode_reply(text: bytes) -> ReplReply:
    """The reply in ``text`` (one JSON object); ValueError when it is not one
    (``orjson.JSONDecodeError`` is one)."""
    obj = orjson.loads(text)
    if not isinstance(obj, dict):
        raise ValueError("the REPL's reply is not a JSON object")
    env = obj.get("env")
    messages = tuple(m for m in map(_message, obj.get("messages") or ()) if m is not None)
    sorries = tuple(s for s in obj.get("sorries") or () if isinstance(s, dict))
    error = obj.get("message") if isinstance(obj.get("message"), str) else None
    return ReplReply(
        env=env if isinstance(env, int) and not isinstance(env, bool) else None,
        messages=messages,
        sorries=sorries,
        error=error,
        raw_bytes=len(text),
    )


@dataclass(slots=True)
class ReplyFramer:
    """Feeds stdout bytes; yields each complete reply's JSON text (without the blank line)."""

    _buffer: bytearray = field(default_factory=bytearray)
    noise_bytes: int = 0  # stdout bytes that were not part of a reply

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            start = self._buffer.find(b"{")
            if start < 0:
                # keep a possible partial line; everything before a newline is noise
                cut = self._buffer.rfind(b"\n") + 1
                self.noise_bytes += cut
                del self._buffer[:cut]
                return out
            if start:
                line_start = self._buffer.rfind(b"\n", 0, start) + 1
                self.noise_bytes += line_start
                del self._buffer[:line_start]
                start -= line_start
            end = self._buffer.find(b"\n\n", start)
            if end < 0:
                return out
            out.append(bytes(self._buffer[start:end]))
            del self._buffer[: end + 2]

    @property
    def pending(self) -> int:
        return len(self._buffer)
