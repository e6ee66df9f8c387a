"""The checker YAML (``--config FILE``): profiles and tiers, documented in README.md.

This module parses the keys every profile has and asks the profile's kind
(:func:`calib_async.checkers.registry.kind_for`) for the rest: the extra top-level keys it
accepts and whether the profile and its tiers suit it. It knows no kind by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_async.checkers.registry import kind_for
from calib_async.config.canaries import parse_canaries
from calib_async.errors import ConfigError
from calib_async.inputs import fields as checks
from calib_async.inputs import load_yaml_text, no_nul, open_regular_file
from calib_async.profiles import CheckerConfig, Rule, VerifierConfig
from calib_async.records import Outcome, Tier

__all__ = [
    "CheckerConfig",
    "Rule",
    "VerifierConfig",
    "check_references",
    "load_checker_config",
    "parse_tier",
    "parse_verifier",
]

_VERIFIER_KEYS = {
    "kind",
    "command",
    "cwd",
    "env",
    "rules",
    "default",
    "version_command",
    "options",
    "canaries",
}
_RULE_KEYS = {"exit_code", "output", "outcome"}
_TIER_KEYS = {
    "timeout_s",
    "verifier",
    "memory_limit_mb",
    "args",
    "options",
    "max_processes",
    "max_file_mb",
    "output_cap_kb",
    "grace_s",
    "address_space_limit_mb",
}


# ---------------------------------------------------------------------------------------------
# YAML loading


def load_checker_config(path: Path, base: CheckerConfig) -> CheckerConfig:
    """Read ``--config FILE`` and merge it over ``base`` (file entries replace same names)."""
    try:
        with open_regular_file(path, "--config", error=ConfigError) as fh:
            text = fh.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 ({exc.reason}); fix it") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    data = load_yaml_text(text, source=f"config file {path}", error=ConfigError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping with 'verifiers' and 'tiers'")
    unknown = set(data) - {"verifiers", "tiers", "consensus_verifiers"}
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown top-level key(s) {sorted(unknown)}; "
            "allowed: verifiers, tiers, consensus_verifiers"
        )
    verifiers = dict(base.verifiers)
    for name, raw in _mapping(data.get("verifiers") or {}, f"{path}: verifiers").items():
        verifiers[str(name)] = parse_verifier(str(name), raw)
    tiers = dict(base.tiers)
    raw_tiers = _mapping(data.get("tiers") or {}, f"{path}: tiers")
    if raw_tiers:
        tiers = {}  # a file that defines tiers defines all of them
    for name, raw in raw_tiers.items():
        tiers[str(name)] = parse_tier(str(name), raw)
    consensus = base.consensus_verifiers
    if "consensus_verifiers" in data:
        cv = data["consensus_verifiers"]
        if not isinstance(cv, list) or not all(isinstance(x, str) for x in cv):
            raise ConfigError(f"{path}: consensus_verifiers must be a list of profile names")
        consensus = tuple(cv)
    config = CheckerConfig(verifiers=verifiers, tiers=tiers, consensus_verifiers=consensus)
    check_references(config)
    return config


def check_references(config: CheckerConfig) -> None:
    for tier in config.tiers.values():
        if tier.verifier not in config.verifiers:
            raise ConfigError(
                f"tier {tier.name} uses verifier {tier.verifier!r}, which is not defined; "
                f"defined: {sorted(config.verifiers)}"
            )
        profile = config.verifiers[tier.verifier]
        kind_for(profile.kind).validate_tier(profile, tier)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return value


def parse_verifier(name: str, raw: Any) -> VerifierConfig:
    where = f"verifier {name!r}"
    raw = _mapping(raw, where)
    kind_name = raw.get("kind", "command")
    if not isinstance(kind_name, str):
        raise ConfigError(f"{where}: kind must be a kind name, not {kind_name!r}")
    try:
        kind = kind_for(kind_name)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    allowed = _VERIFIER_KEYS | kind.profile_keys
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    command = raw.get("command")
    if command is not None:
        checks.argv_list(command, f"{where}: 'command'", placeholders=True)
    cwd = raw.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise ConfigError(f"{where}: 'cwd' must be a string path")
    if cwd is not None:
        no_nul(cwd, f"{where}: cwd", error=ConfigError)
    env = checks.environment(raw.get("env") or {}, f"{where}: env")
    rules = tuple(_parse_rule(where, i, r) for i, r in enumerate(raw.get("rules") or []))
    default = _outcome(raw.get("default", "PROOF_INVALID"), f"{where}: default")
    version = raw.get("version_command")
    if version is not None:
        checks.argv_list(version, f"{where}: 'version_command'", placeholders=False)
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: 'options' must be a mapping")
    extra = {key: raw[key] for key in kind.profile_keys if key in raw}
    clash = sorted(set(extra) & set(options))
    if clash:
        raise ConfigError(f"{where}: {clash} given both at top level and under 'options'; keep one")
    config = VerifierConfig(
        name=name,
        kind=kind_name,
        command=tuple(command or ()),
        cwd=cwd,
        env=env,
        rules=rules,
        default=default,
        version_command=tuple(version) if version else None,
        options={**options, **extra},
        canaries=parse_canaries(raw.get("canaries"), where),
    )
    kind.validate(config)
    return config


def _outcome(value: Any, where: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise ConfigError(
            f"{where}: {value!r} is not an outcome; use one of {[o.value for o in Outcome]}"
        ) from None


def _parse_rule(where: str, index: int, raw: Any) -> Rule:
    where = f"{where} rule {index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping like {{exit_code: 0, outcome: VERIFIED}}")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}"
        )
    if "outcome" not in raw:
        raise ConfigError(f"{where}: 'outcome' is required")
    outcome = _outcome(raw["outcome"], where)
    codes = raw.get("exit_code")
    exit_codes: tuple[int, ...] | None = None
    if codes is not None:
        if isinstance(codes, bool) or not isinstance(codes, int | list):
            raise ConfigError(f"{where}: exit_code must be an integer or a list of integers")
        items = codes if isinstance(codes, list) else [codes]
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in items):
            raise ConfigError(f"{where}: exit_code must be an integer or a list of integers")
        exit_codes = checks.exit_codes(items, where)
    pattern = None
    if "output" in raw:
        if not isinstance(raw["output"], str):
            raise ConfigError(f"{where}: output must be a regex string")
        pattern = checks.output_regex(raw["output"], where)
    return Rule(outcome=outcome, exit_codes=exit_codes, output=pattern)


def parse_tier(name: str, raw: Any) -> Tier:
    where = f"tier {name!r}"
    raw = _mapping(raw, where)
    unknown = set(raw) - _TIER_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TIER_KEYS)}"
        )
    for key in ("timeout_s", "verifier"):
        if key not in raw:
            raise ConfigError(f"{where}: '{key}' is required")
    timeout = checks.timeout_s(raw["timeout_s"], where)
    if not isinstance(raw["verifier"], str):
        raise ConfigError(f"{where}: verifier must be a profile name")

    def opt_int(key: str) -> int | None:
        v = raw.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(f"{where}: {key} must be a positive integer")
        return checks.size(v, where, key)

    args = raw.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}: args must be a list of strings")
    for i, arg in enumerate(args):
        no_nul(arg, f"{where}: args[{i}]", error=ConfigError)
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: options must be a mapping")
    grace = checks.grace_s(raw.get("grace_s", 1.0), where)
    return Tier(
        name=name,
        timeout_s=timeout,
        verifier=raw["verifier"],
        memory_limit_mb=opt_int("memory_limit_mb"),
        args=tuple(args),
        options=options,
        max_processes=opt_int("max_processes"),
        max_file_mb=opt_int("max_file_mb"),
        output_cap_kb=opt_int("output_cap_kb") or 64,
        grace_s=float(grace),
        address_space_limit_mb=opt_int("address_space_limit_mb"),
    )
