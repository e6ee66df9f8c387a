"""A service profile's settings, read and checked once (``kind: service`` in YAML).

Profile keys (top level of the profile, or under ``options``):

``url`` (required)
    The service's base URL, e.g. ``http://127.0.0.1:8000`` (no credentials in it).
``api``
    The adapter: ``kimina`` (default; the only one so far).
``token_env``
    An environment variable holding a bearer token, sent as ``Authorization: Bearer ...``.
    The token is read when the checker opens and is never logged or recorded.
``headers``
    Extra request headers (a mapping; values are sent, never recorded: only their names are).
``grace_s``
    Seconds the client waits beyond the request's timeout before it gives up (default 10). No
    check lasts longer than the request timeout plus this grace.
``max_reply_kb``
    A reply larger than this is cut and read as VERIFIER_ERROR (default 16384 KiB).
``connect_timeout_s``
    Bound on opening a connection (default 10 s, and never beyond the deadline).
``axiom_allowlist``
    As for the Lean profile: the axioms a proof may use when a tier audits axioms.
``designs``
    The service designs to run (:mod:`calib_async.checkers.service.designs`).

Tier options (``tiers.<NAME>.options``): ``reuse`` (the API's ``reuse``, default true),
``headers`` and ``token_env`` (override the profile's for that tier), ``reject_sorry`` and
``audit_axioms`` (:mod:`calib_async.checkers.service.strict`).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calib_async.checkers.lean.axioms import DEFAULT_AXIOM_ALLOWLIST
from calib_async.checkers.service.adapter import ADAPTERS, ServiceAdapter
from calib_async.errors import ConfigError

PROFILE_KEYS = frozenset(
    {
        "url",
        "api",
        "token_env",
        "headers",
        "grace_s",
        "max_reply_kb",
        "connect_timeout_s",
        "axiom_allowlist",
        "designs",
    }
)
TIER_KEYS = frozenset({"reuse", "headers", "token_env", "reject_sorry", "audit_axioms"})
DEFAULT_GRACE_S = 10.0
DEFAULT_MAX_REPLY_KB = 16384


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    name: str
    url: str
    adapter: ServiceAdapter
    token_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    grace_s: float = DEFAULT_GRACE_S
    max_reply_bytes: int = DEFAULT_MAX_REPLY_KB * 1024
    connect_timeout_s: float = 10.0
    allowlist: tuple[str, ...] = DEFAULT_AXIOM_ALLOWLIST

    def endpoint(self, path: str) -> str:
        return self.url.rstrip("/") + path


def _fail(name: str, what: str) -> ConfigError:
    return ConfigError(f"service profile {name!r}: {what}")


def _headers(name: str, value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(name, f"{where} must be a mapping of header names to strings")
    return {k: str(v) for k, v in value.items()}


def _positive(name: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(name, f"{key} must be a positive number of seconds or KiB, not {value!r}")
    return float(value)


def check_token_env(name: str, variable: Any) -> str | None:
    if variable is None:
        return None
    if not isinstance(variable, str) or not variable:
        raise _fail(name, "token_env must name an environment variable")
    if not os.environ.get(variable):
        raise _fail(name, f"token_env names ${variable}, which is not set: export it")
    return variable


def read_settings(name: str, options: Mapping[str, Any]) -> ServiceSettings:
    """The profile's settings; :class:`ConfigError` with the fix for a bad value."""
    url = options.get("url")
    if not isinstance(url, str) or not url:
        raise _fail(name, "set url: to the service's base URL, e.g. http://127.0.0.1:8000")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, f"url {url!r} must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise _fail(name, "url must not hold credentials: use token_env")
    api = options.get("api", "kimina")
    if api not in ADAPTERS:
        raise _fail(name, f"api {api!r} is not known; known: {', '.join(sorted(ADAPTERS))}")
    allowlist = options.get("axiom_allowlist", DEFAULT_AXIOM_ALLOWLIST)
    if isinstance(allowlist, str) or not all(isinstance(a, str) for a in allowlist):
        raise _fail(name, "axiom_allowlist must be a list of axiom names")
    return ServiceSettings(
        name=name,
        url=url,
        adapter=ADAPTERS[api],
        token_env=check_token_env(name, options.get("token_env")),
        headers=_headers(name, options.get("headers"), "headers"),
        grace_s=_positive(name, options, "grace_s", DEFAULT_GRACE_S),
        max_reply_bytes=int(_positive(name, options, "max_reply_kb", DEFAULT_MAX_REPLY_KB) * 1024),
        connect_timeout_s=_positive(name, options, "connect_timeout_s", 10.0),
        allowlist=tuple(allowlist),
    )


def check_tier_options(name: str, tier: str, options: Mapping[str, Any]) -> None:
    where = f"tier {tier!r} options"
    for key in ("reuse", "reject_sorry", "audit_axioms"):
        if key in options and not isinstance(options[key], bool):
            raise _fail(name, f"{where}: {key} must be true or false")
    _headers(name, options.get("headers"), f"{where}: headers")
    check_token_env(name, options.get("token_env"))
