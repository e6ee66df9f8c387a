"""The ``lean_repl`` profile's keys, validated with messages that say what to write instead.

Profile keys (top level or under ``options``): ``command`` (argv of one REPL; required) and
``cwd`` as for every profile; ``header`` (the import block every proof runs on, or
``from_item``: each item's own import lines; default ``from_item``); ``pool_size`` (REPLs, default
2); ``policy`` (``warm`` or ``fresh``; default ``warm``); ``max_uses`` and ``max_rss_mb``
(restart thresholds); ``base_env`` (``header``, or ``first_proof`` to reproduce a pipeline that
sends no header command); ``header_timeout_s`` (the import's own budget, default 600);
``queue_timeout_s`` (default: none); ``axiom_allowlist`` (as the Lean profile's); ``designs``
(the calibration designs: :mod:`calib_async.checkers.lean_repl.designs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calib_async.checkers.lean.axioms import DEFAULT_AXIOM_ALLOWLIST
from calib_async.checkers.lean_repl.pool import Policy
from calib_async.checkers.lean_repl.source import FROM_ITEM
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig

PROFILE_KEYS = frozenset(
    {
        "header",
        "pool_size",
        "policy",
        "max_uses",
        "max_rss_mb",
        "base_env",
        "header_timeout_s",
        "queue_timeout_s",
        "axiom_allowlist",
        "designs",
    }
)


def _positive(opts: Mapping[str, Any], key: str, where: str, *, integer: bool) -> Any:
    value = opts.get(key)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        what = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{where}: {key} must be {what}, not {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class ReplOptions:
    """A validated ``lean_repl`` profile."""

    command: tuple[str, ...]
    header: str
    pool_size: int
    policy: Policy
    header_timeout_s: float
    queue_timeout_s: float | None
    allowlist: tuple[str, ...]
    designs: Mapping[str, Any]

    @classmethod
    def parse(cls, config: VerifierConfig) -> ReplOptions:
        where = f"verifier {config.name!r} (kind lean_repl)"
        opts = config.options
        if not config.command:
            raise ConfigError(
                f'{where}: \'command\' is required, the argv of one REPL (e.g. ["lake", "env",'
                ' "repl"] with cwd: your Lean project)'
            )
        header = opts.get("header", FROM_ITEM)
        if not isinstance(header, str):
            raise ConfigError(f"{where}: header must be the import block (a string) or from_item")
        policy_name = opts.get("policy", "warm")
        if policy_name not in ("warm", "fresh"):
            raise ConfigError(f"{where}: policy must be warm or fresh, not {policy_name!r}")
        base_env = opts.get("base_env", "header")
        if base_env not in ("header", "first_proof"):
            raise ConfigError(f"{where}: base_env must be header or first_proof")
        allow = opts.get("axiom_allowlist", list(DEFAULT_AXIOM_ALLOWLIST))
        if not isinstance(allow, list | tuple) or not all(isinstance(a, str) for a in allow):
            raise ConfigError(f"{where}: axiom_allowlist must be a list of names")
        designs = opts.get("designs") or {}
        if not isinstance(designs, Mapping):
            raise ConfigError(f"{where}: designs must be a mapping (see README, REPL pools)")
        policy = Policy(
            fresh=policy_name == "fresh",
            max_uses=_positive(opts, "max_uses", where, integer=True),
            max_rss_mb=_positive(opts, "max_rss_mb", where, integer=False),
            base_env=base_env,
        )
        return cls(
            command=tuple(config.command),
            header=header,
            pool_size=_positive(opts, "pool_size", where, integer=True) or 2,
            policy=policy,
            header_timeout_s=float(
                _positive(opts, "header_timeout_s", where, integer=False) or 600
            ),
            queue_timeout_s=_positive(opts, "queue_timeout_s", where, integer=False),
            allowlist=tuple(allow),
            designs=designs,
        )
