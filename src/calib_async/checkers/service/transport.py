"""One HTTP exchange with a verification service, bounded in time and size.

The client is httpx (async, anyio-based so it runs under asyncio and trio like the rest of the
tool, with connect / read / write / pool timeouts and a streamed body that can be cut at a size
cap). Every exchange has one overall deadline: the request's own timeout plus the profile's
``grace_s``. What comes back is an :class:`Exchange`: the status and the body, or why there is
none. Nothing here decides a verdict.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import anyio
import httpx
import orjson


class Failure(StrEnum):
    """Why an exchange produced no complete body."""

    CONNECT = "connect"  # no connection (refused, unreachable, DNS)
    DEADLINE = "deadline"  # no reply headers before the deadline
    SLOW_BODY = "slow_body"  # headers came, the body did not finish before the deadline
    HUGE_BODY = "huge_body"  # the body passed the size cap
    PROTOCOL = "protocol"  # the connection broke mid-exchange, or the reply was not HTTP


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one POST produced. ``body`` is complete only when ``failure`` is None."""

    http_status: int | None
    body: bytes
    body_bytes: int  # bytes received (all of them when complete; up to the cut otherwise)
    client_time_s: float  # wall time from sending to the end of the body (or the failure)
    failure: Failure | None = None
    detail: str | None = None  # the failure's text (no header values: they may hold tokens)


class Transport:
    """A lazily opened httpx client shared by one checker's requests."""

    def __init__(self, *, max_body_bytes: int, connect_timeout_s: float = 10.0) -> None:
        self.max_body_bytes = max_body_bytes
        self.connect_timeout_s = connect_timeout_s
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                trust_env=False,  # no proxy or netrc from the environment
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the client. Idempotent.

        **Cancellation:** shielded.
        """
        client, self._client = self._client, None
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    async def get_json(self, url: str, headers: Mapping[str, str], timeout_s: float) -> Any:
        """A small GET (version probes); raises httpx.HTTPError or ValueError.

        **Cancellation:** the connection is closed; re-raised.
        """
        reply = await self.client().get(url, headers=dict(headers), timeout=timeout_s)
        reply.raise_for_status()
        return orjson.loads(reply.content[: self.max_body_bytes])

    async def post_json(
        self, url: str, payload: Any, headers: Mapping[str, str], deadline_s: float
    ) -> Exchange:
        """POST ``payload`` as JSON; never longer than ``deadline_s`` (cancellation aside).

        **Cancellation:** the connection is closed and the cancellation re-raised.
        """
        start = time.monotonic()
        state: dict[str, Any] = {"status": None, "chunks": [], "size": 0}
        timeout = httpx.Timeout(deadline_s, connect=min(self.connect_timeout_s, deadline_s))
        failure: Failure | None = None
        detail: str | None = None
        with anyio.move_on_after(deadline_s) as scope:
            try:
                failure, detail = await self._stream(url, payload, headers, timeout, state)
            except httpx.ConnectError as exc:
                failure, detail = Failure.CONNECT, _text(exc, "connection failed")
            except httpx.TimeoutException as exc:
                failure = Failure.DEADLINE if state["status"] is None else Failure.SLOW_BODY
                detail = _text(exc, "timed out")
            except httpx.HTTPError as exc:
                failure, detail = Failure.PROTOCOL, _text(exc, type(exc).__name__)
        if scope.cancelled_caught:
            failure = Failure.DEADLINE if state["status"] is None else Failure.SLOW_BODY
            detail = f"no complete reply within {deadline_s:g} s"
        body = b"".join(state["chunks"])
        return Exchange(
            http_status=state["status"],
            body=body,
            body_bytes=state["size"],
            client_time_s=time.monotonic() - start,
            failure=failure,
            detail=detail,
        )

    async def _stream(
        self,
        url: str,
        payload: Any,
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
        state: dict[str, Any],
    ) -> tuple[Failure | None, str | None]:
        content = orjson.dumps(payload)
        all_headers = {"content-type": "application/json", **headers}
        request = self.client().build_request(
            "POST", url, content=content, headers=all_headers, timeout=timeout
        )
        reply = await self.client().send(request, stream=True)
        try:
            state["status"] = reply.status_code
            async for chunk in reply.aiter_bytes():
                state["size"] += len(chunk)
                if state["size"] > self.max_body_bytes:
                    cap = self.max_body_bytes
                    return Failure.HUGE_BODY, f"reply body over the {cap} byte cap"
                state["chunks"].append(chunk)
        finally:
            with anyio.CancelScope(shield=True):
                await reply.aclose()
        return None, None


def _text(exc: BaseException, default: str) -> str:
    return (str(exc) or default)[:300]
