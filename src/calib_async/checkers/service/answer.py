"""What a service said about one snippet, and how that maps onto our outcomes.

An adapter (kimina first) reads its service's reply into a :class:`ServiceAnswer`, keeping the
server's own status and raw error string so that the mapping can be recomputed from the record,
and maps it to a :class:`Mapped`: the outcome with a sub-reason (:class:`Reason`). Failures of
the exchange itself (no connection, an HTTP error status, a reply that cannot be read) map the
same way for every adapter (:func:`map_exchange`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from calib_async.checkers.service.transport import Exchange, Failure
from calib_async.records import Outcome, TimeoutKind


class Reason(StrEnum):
    """The sub-reason of an outcome (the record's ``checker.reason``)."""

    VALID = "valid"
    SORRY = "sorry"  # the server's own sorry status
    LEAN_ERROR = "lean_error"
    HEARTBEAT = "heartbeat"  # a Lean error that is a heartbeat limit
    MEMORY = "memory"  # a Lean error that is a memory limit
    TIMEOUT = "timeout"  # the server's timeout on the proof's own command
    COLD_START = "cold_start"  # the server's timeout on the header (import) command
    CAPACITY = "capacity"  # the server had no REPL to give
    CRASH = "crash"  # the REPL died or stopped answering mid-check
    SERVER_ERROR = "server_error"  # any other error the server reported for the snippet
    REPL_ERROR = "repl_error"  # the REPL refused the command (e.g. unknown environment)
    SERVICE = "service"  # no connection, or an HTTP 5xx
    AUTH = "auth"  # HTTP 401 / 403
    REJECTED = "rejected"  # any other HTTP 4xx (the request itself was refused)
    BAD_REPLY = "bad_reply"  # a reply that could not be read
    CLIENT_DEADLINE = "client_deadline"  # no reply within the request timeout plus grace
    SORRY_WARNING = "sorry_warning"  # strictness: a sorry warning in a reply the server passed
    AXIOMS = "axioms"  # strictness: the axiom audit failed or found a forbidden axiom


@dataclass(frozen=True, slots=True)
class ServiceAnswer:
    """One snippet's result as the service reported it (raw strings kept)."""

    server_status: str
    raw_error: str | None = None
    server_time_s: float | None = None
    repl_uuid: str | None = None
    #: the Lean messages, as the service returned them (JSON objects)
    messages: tuple[Mapping[str, Any], ...] = ()
    sorries: int = 0


@dataclass(frozen=True, slots=True)
class Mapped:
    """An outcome with its sub-reason."""

    outcome: Outcome
    reason: Reason
    timeout_kind: TimeoutKind | None = None
    first_error: str | None = None
    error_count: int = 0
    uses_sorry: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class BadReply(ValueError):
    """The reply was HTTP 200 but not what the API promises (the message says what)."""


def map_exchange(exchange: Exchange) -> Mapped | None:
    """The outcome when the exchange itself failed or the status is not 200; None when the
    body is there to be read by the adapter."""
    failure = exchange.failure
    if failure is Failure.CONNECT:
        return Mapped(Outcome.VERIFIER_ERROR, Reason.SERVICE, first_error=exchange.detail)
    if failure is Failure.DEADLINE:
        return Mapped(
            Outcome.VERIFIER_TIMEOUT,
            Reason.CLIENT_DEADLINE,
            timeout_kind=TimeoutKind.WALL,
            first_error=exchange.detail,
        )
    status = exchange.http_status
    if status is not None and status != 200:
        text = f"HTTP {status}: {_body_line(exchange.body)}"
        if status >= 500:
            return Mapped(Outcome.VERIFIER_ERROR, Reason.SERVICE, first_error=text)
        reason = Reason.AUTH if status in (401, 403) else Reason.REJECTED
        return Mapped(Outcome.VERIFIER_ERROR, reason, first_error=text)
    if failure is not None:  # slow body, huge body, broken connection
        text = f"{failure.value}: {exchange.detail}"
        return Mapped(Outcome.VERIFIER_ERROR, Reason.BAD_REPLY, first_error=text)
    return None


def bad_reply(why: str) -> Mapped:
    return Mapped(Outcome.VERIFIER_ERROR, Reason.BAD_REPLY, first_error=why[:300])


def error_texts(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``data`` of the error messages, in order."""
    return [str(m.get("data", "")) for m in messages if m.get("severity") == "error"]


def _body_line(body: bytes) -> str:
    text = body[:2000].decode("utf-8", errors="replace").strip()
    return text.splitlines()[0][:200] if text else "(empty body)"
