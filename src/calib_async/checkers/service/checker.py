"""The service checker: one snippet per request, mapped through the profile's adapter.

What the tool sees through a service is what the service reports: the HTTP status, the
server's status and raw error string, the server's ``time`` against our client-side wall time,
and the REPL's id. There is no per-process memory, CPU time or process age: the observation's
``cpu_time_ms`` and memory fields are 0 with ``memory_peak_source: "service"``.

Per check, ``details`` (the record's ``checker`` block) holds: ``api``, ``http_status``,
``server_status``, ``raw_error``, ``server_time_s``, ``client_time_s``, ``repl_uuid``,
``reuse``, ``request_timeout_s``, ``reason`` (the sub-reason), ``header_names`` (never their
values) and, when the tier audits, ``axioms``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import structlog

from calib_async.checkers.api import Observation, Verdict
from calib_async.checkers.service import strict
from calib_async.checkers.service.answer import BadReply, Mapped, Reason, bad_reply, map_exchange
from calib_async.checkers.service.settings import ServiceSettings
from calib_async.checkers.service.transport import Exchange, Transport
from calib_async.errors import CalibError
from calib_async.records import Task, Tier
from calib_async.runner.spec import ExecResult, Termination

log = structlog.get_logger(__name__)

VERSION_TIMEOUT_S = 10.0
#: between the head and the tail of a reply kept in the observation (each the tier's output cap)
_MARKER = b"\n...[reply cut]...\n"


class ServiceUnavailable(CalibError):
    """The service does not answer at all (raised before any check runs)."""


class ServiceChecker:
    """A :class:`~calib_async.checkers.api.Checker` over one service profile."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.transport = Transport(
            max_body_bytes=settings.max_reply_bytes,
            connect_timeout_s=settings.connect_timeout_s,
        )
        self._version: str | None = None
        self._probed = False

    # -- the seam --------------------------------------------------------------------------

    async def check(self, task: Task) -> Observation:
        """Post the item's source (with the tier's audit appended) and map the reply.

        **Cancellation:** the request's connection is closed (the service sees the client go)
        and the cancellation re-raised; no observation is produced.
        """
        tier = task.tier
        code = Path(task.item.path).read_text(encoding="utf-8", errors="replace")
        adapter = self.settings.adapter
        audit = strict.plan(code) if tier.options.get("audit_axioms") else None
        sent = audit.code if audit is not None else code
        reuse = bool(tier.options.get("reuse", True))
        timeout = adapter.request_timeout(task.effective_timeout_s)
        snippet_id = f"{task.item.item_id}-{uuid.uuid4().hex[:8]}"
        payload = adapter.build_request(snippet_id, sent, timeout_s=timeout, reuse=reuse)
        headers = self.headers(tier)
        url = self.settings.endpoint(adapter.check_path)
        exchange = await self.transport.post_json(
            url, payload, headers, deadline_s=timeout + self.settings.grace_s
        )
        answer = None
        mapped = map_exchange(exchange)
        if mapped is None:
            try:
                answer = adapter.read_reply(exchange.body, snippet_id)
            except BadReply as exc:
                mapped = bad_reply(str(exc))
            else:
                mapped = strict.apply(
                    adapter.map_answer(answer),
                    answer,
                    reject_sorry=bool(tier.options.get("reject_sorry")),
                    audit=audit,
                    line_offset=adapter.body_line_offset(sent),
                    allowlist=self.settings.allowlist,
                )
        details: dict[str, Any] = {
            "api": adapter.name,
            "http_status": exchange.http_status,
            "server_status": answer.server_status if answer else None,
            "raw_error": answer.raw_error if answer else exchange.detail,
            "server_time_s": answer.server_time_s if answer else None,
            "client_time_s": round(exchange.client_time_s, 6),
            "repl_uuid": answer.repl_uuid if answer else None,
            "reuse": reuse,
            "request_timeout_s": timeout,
            "reason": mapped.reason.value,
            "header_names": sorted(headers),
            **mapped.extra,
        }
        return Observation(
            result=self._result(url, exchange, mapped, tier),
            verdict=self._verdict(mapped),
            details=details,
        )

    async def version(self) -> str | None:
        """The service's version (the adapter reads it); :class:`ServiceUnavailable` when the
        service does not answer, so that a run stops before its first check.

        **Cancellation:** as :meth:`check`; a cancelled probe is not cached.
        """
        if self._probed:
            return self._version
        adapter = self.settings.adapter
        path = adapter.version_path or "/"
        url = self.settings.endpoint(path)
        try:
            doc = await self.transport.get_json(url, self.headers(None), VERSION_TIMEOUT_S)
        except (httpx.ConnectError, httpx.TimeoutException) as exc:
            raise ServiceUnavailable(
                f"service profile {self.name!r}: {self.settings.url} does not answer "
                f"({type(exc).__name__}: {str(exc)[:120] or 'no reply'}); start the service "
                "or fix the profile's url"
            ) from exc
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (401, 403):
                raise ServiceUnavailable(
                    f"service profile {self.name!r}: {self.settings.url} refused our "
                    f"credentials (HTTP {exc.response.status_code}); check token_env"
                ) from exc
            doc = None
        except (httpx.HTTPError, ValueError):
            doc = None
        self._version = adapter.read_version(doc) if doc is not None else None
        self._probed = True
        return self._version

    async def aclose(self) -> None:
        """Close the HTTP client. Idempotent.

        **Cancellation:** shielded; this checker starts no process.
        """
        await self.transport.aclose()

    # -- parts -------------------------------------------------------------------------------

    def headers(self, tier: Tier | None) -> dict[str, str]:
        """The request headers (values are secrets as far as logging goes)."""
        options = tier.options if tier is not None else {}
        headers = {**self.settings.headers, **dict(options.get("headers") or {})}
        variable = options.get("token_env") or self.settings.token_env
        if variable:
            token = _environ(str(variable))
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _result(self, url: str, exchange: Exchange, mapped: Mapped, tier: Tier) -> ExecResult:
        deadline = mapped.reason is Reason.CLIENT_DEADLINE
        cap = tier.output_cap_kb * 1024
        body = exchange.body
        kept = body if len(body) <= 2 * cap else body[:cap] + _MARKER + body[-cap:]
        return ExecResult(
            argv=("POST", url),
            termination=Termination.TIMEOUT if deadline else Termination.EXITED,
            exit_code=None,
            signal=None,
            duration_ms=exchange.client_time_s * 1000.0,
            cpu_time_ms=0.0,
            memory_peak_mb=0.0,
            memory_peak_source="service",
            memory_peak_is_floor=False,
            memory_final_mb=0.0,
            stdout=kept,
            stderr=b"",
            stdout_bytes=exchange.body_bytes,
            stderr_bytes=0,
            message=f"{mapped.reason.value}: {mapped.first_error}" if mapped.first_error else None,
        )

    @staticmethod
    def _verdict(mapped: Mapped) -> Verdict:
        axioms = mapped.extra.get("axioms")
        return Verdict(
            mapped.outcome,
            timeout_kind=mapped.timeout_kind,
            uses_sorry=mapped.uses_sorry,
            error_count=mapped.error_count,
            first_error=mapped.first_error,
            axioms=tuple(axioms) if axioms is not None else None,
        )


def _environ(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise CalibError(f"${variable} (token_env) is not set: export it")
    return value
