"""The kimina-lean-server API (``kimina-ast-server`` 2.x): request, reply, status, mapping.

Request: ``POST /api/check`` with ``{"snippets": [{"id", "code"}], "timeout", "reuse",
"debug"}`` (``timeout`` in whole seconds; ``debug`` adds ``diagnostics.repl_uuid``). Reply:
``{"results": [{"id", "time", "error" | "response", "diagnostics"}]}``.

The server status is kimina's own analysis (its client's ``ReplResponse.analyze``): an
``error`` containing "timed out" is ``timeout_error``, any other ``error`` ``server_error``; a
``response`` with a ``message`` is ``repl_error``; an error-severity message ``lean_error``;
a non-empty ``sorries`` list ``sorry``; else ``valid``.

The server splits each snippet into a header (its leading ``import`` and blank lines, run once
per REPL) and a body; messages are positioned in the body, so a line of the snippet is the
body's line plus :func:`body_line_offset`. A snippet without imports has an empty header and
shares REPLs (and, with ``reuse``, the first snippet's environment) with every other such
snippet: the state leak the canaries measure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from calib_async.checkers.lean.messages import HEARTBEAT_RE, MEMORY_RE
from calib_async.checkers.service.answer import (
    BadReply,
    Mapped,
    Reason,
    ServiceAnswer,
    error_texts,
)
from calib_async.records import Outcome, TimeoutKind

NAME = "kimina"
CHECK_PATH = "/api/check"
VERSION_PATH = "/api/openapi.json"

#: Error strings of kimina's /api/check (server/routers/check.py, 2.1.x) that mean the REPL
#: died or stopped answering: a crash reads back as an empty reply ("JSON decode error"), a
#: broken pipe, or a failed start / health check.
CRASH_MARKERS = (
    "Snippet execution failed",
    "REPL prep failed",
    "Failed to start REPL",
    "failed health check",
    "Failed to get replacement REPL",
    "broken pipe",
)
CAPACITY_MARKER = "No available REPLs"
COLD_START_MARKER = "header command"


def request_timeout(timeout_s: float) -> int:
    """The API takes whole seconds: the tier's timeout rounded up (at least 1)."""
    return max(1, math.ceil(timeout_s - 1e-9))


def build_request(snippet_id: str, code: str, *, timeout_s: int, reuse: bool) -> dict[str, Any]:
    return {
        "snippets": [{"id": snippet_id, "code": code}],
        "timeout": timeout_s,
        "reuse": reuse,
        "debug": True,
    }


def body_line_offset(code: str) -> int:
    """Lines of ``code`` the server moves into the header (leading imports and blank lines)."""
    count = 0
    for line in code.splitlines():
        if line.strip() == "" or line.strip().startswith("import "):
            count += 1
        else:
            break
    return count


def read_reply(body: bytes, snippet_id: str) -> ServiceAnswer:
    """Parse the reply for ``snippet_id``; :class:`BadReply` says what is wrong."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReply(f"reply is not JSON ({exc}); starts {body[:80]!r}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise BadReply("reply has no 'results' list")
    found = [r for r in doc["results"] if isinstance(r, dict) and r.get("id") == snippet_id]
    if len(found) != 1:
        raise BadReply(f"reply has {len(found)} results for snippet id {snippet_id!r}")
    result = found[0]
    error, response = result.get("error"), result.get("response")
    if (error is None) == (response is None):
        raise BadReply("result has neither or both of 'error' and 'response'")
    if error is not None and not isinstance(error, str):
        raise BadReply("result 'error' is not a string")
    if response is not None and not isinstance(response, dict):
        raise BadReply("result 'response' is not an object")
    server_time = result.get("time")
    if server_time is not None and not isinstance(server_time, int | float):
        raise BadReply("result 'time' is not a number")
    diagnostics = result.get("diagnostics")
    uuid = diagnostics.get("repl_uuid") if isinstance(diagnostics, dict) else None
    messages: list[Mapping[str, Any]] = []
    sorries = 0
    if response is not None:
        raw_messages = response.get("messages") or []
        if not isinstance(raw_messages, list) or not all(isinstance(m, dict) for m in raw_messages):
            raise BadReply("response 'messages' is not a list of objects")
        messages = raw_messages
        raw_sorries = response.get("sorries") or []
        sorries = len(raw_sorries) if isinstance(raw_sorries, list) else 0
    repl_message = response is not None and "message" in response
    answer = ServiceAnswer(
        server_status="",
        raw_error=error,
        server_time_s=float(server_time) if server_time is not None else None,
        repl_uuid=str(uuid) if uuid is not None else None,
        messages=tuple(messages),
        sorries=sorries,
    )
    status = server_status(answer, repl_message=repl_message)
    if repl_message:
        assert response is not None
        answer = replace(answer, raw_error=str(response["message"]))
    return replace(answer, server_status=status)


def server_status(answer: ServiceAnswer, *, repl_message: bool = False) -> str:
    """kimina's own status for a result (see the module docstring)."""
    if answer.raw_error is not None:
        return "timeout_error" if "timed out" in answer.raw_error else "server_error"
    if repl_message:
        return "repl_error"
    if error_texts(answer.messages):
        return "lean_error"
    return "sorry" if answer.sorries > 0 else "valid"


def map_answer(answer: ServiceAnswer) -> Mapped:
    """Our outcome and sub-reason for kimina's status (raw strings decide the sub-reason)."""
    status, error = answer.server_status, answer.raw_error or ""
    errors = error_texts(answer.messages)
    first = errors[0].strip().splitlines()[0][:300] if errors else None
    if status == "valid":
        return Mapped(Outcome.VERIFIED, Reason.VALID)
    if status == "sorry":
        return Mapped(Outcome.PROOF_INVALID, Reason.SORRY, uses_sorry=True, first_error="sorry")
    if status == "lean_error":
        if hit := next((e for e in errors if HEARTBEAT_RE.search(e)), None):
            return Mapped(
                Outcome.VERIFIER_TIMEOUT,
                Reason.HEARTBEAT,
                timeout_kind=TimeoutKind.HEARTBEAT,
                first_error=hit.splitlines()[0][:300],
                error_count=len(errors),
            )
        if hit := next((e for e in errors if MEMORY_RE.search(e)), None):
            return Mapped(
                Outcome.MEMORY_LIMIT_EXCEEDED,
                Reason.MEMORY,
                first_error=hit.splitlines()[0][:300],
                error_count=len(errors),
            )
        return Mapped(
            Outcome.PROOF_INVALID, Reason.LEAN_ERROR, first_error=first, error_count=len(errors)
        )
    if status == "timeout_error":
        reason = Reason.COLD_START if COLD_START_MARKER in error else Reason.TIMEOUT
        return Mapped(
            Outcome.VERIFIER_TIMEOUT, reason, timeout_kind=TimeoutKind.WALL, first_error=error
        )
    if status == "repl_error":
        return Mapped(Outcome.VERIFIER_ERROR, Reason.REPL_ERROR, first_error=error)
    if CAPACITY_MARKER in error:
        return Mapped(Outcome.VERIFIER_ERROR, Reason.CAPACITY, first_error=error)
    lowered = error.lower()
    if any(marker.lower() in lowered for marker in CRASH_MARKERS):
        return Mapped(Outcome.VERIFIER_ERROR, Reason.CRASH, first_error=error)
    return Mapped(Outcome.VERIFIER_ERROR, Reason.SERVER_ERROR, first_error=error or None)


def read_version(doc: Any) -> str | None:
    """``kimina-lean-server X.Y.Z`` from the OpenAPI document's ``info``."""
    info = doc.get("info") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        return None
    title, version = info.get("title"), info.get("version")
    if version is None:
        return None
    return f"{title or 'kimina'} {version}"[:200]
