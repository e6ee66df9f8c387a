"""Tiers, checker-profile configuration and the run configuration.

The YAML schema (``--config FILE``) is documented in README.md; this module validates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calib_async.config import checks
from calib_async.config.canaries import GenericCanary, parse_canaries
from calib_async.errors import ConfigError
from calib_async.inputs import UserRegex, load_yaml_text, no_nul, open_regular_file
from calib_async.records import Outcome, Tier, plain_value

VERIFIER_KINDS = ("command", "lean", "simulated")
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


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule: all given conditions must match."""

    outcome: Outcome
    exit_codes: tuple[int, ...] | None = None
    output: UserRegex | None = None


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    """A checker profile as written in YAML (see README "Config file")."""

    name: str
    kind: str = "command"
    command: tuple[str, ...] = ()
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    default: Outcome = Outcome.PROOF_INVALID
    version_command: tuple[str, ...] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: exploit classes for canaries (not part of the identity: canaries are new files)
    canaries: tuple[GenericCanary, ...] = ()

    def identity(self) -> dict[str, Any]:
        """What a resumed run's fingerprint must match."""
        return {
            "kind": self.kind,
            "command": list(self.command),
            "cwd": self.cwd,
            "env": dict(sorted(self.env.items())),
            "rules": [
                [r.outcome.value, list(r.exit_codes or ()), r.output.pattern if r.output else None]
                for r in self.rules
            ],
            "default": self.default.value,
            "options": plain_value(self.options),
        }


@dataclass(frozen=True, slots=True)
class CheckerConfig:
    """Verifier profiles, tiers and default consensus profiles, from YAML or built in."""

    verifiers: Mapping[str, VerifierConfig]
    tiers: Mapping[str, Tier]
    consensus_verifiers: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Built-in defaults

LEAN_TIMEOUTS = {"FAST": 30.0, "BALANCED": 60.0, "SLOW": 120.0}

#: Tier precision for Lean (and the simulated checker, which mimics it):
#: FAST trusts the exit code only, BALANCED also rejects sorry, SLOW also audits axioms.
TIER_PRECISION: dict[str, dict[str, Any]] = {
    "FAST": {"reject_sorry": False, "audit_axioms": False},
    "BALANCED": {"reject_sorry": True, "audit_axioms": False},
    "SLOW": {"reject_sorry": True, "audit_axioms": True},
}


def default_lean_config() -> CheckerConfig:
    """Lean 4 at the plan's 30/60/120 s, differing in precision as well as time."""
    verifiers = {"lean": VerifierConfig(name="lean", kind="lean")}
    heartbeats = {"FAST": 200000, "BALANCED": 400000, "SLOW": 800000}
    memory = {"FAST": 4096, "BALANCED": 8192, "SLOW": 16384}
    tiers = {
        name: Tier(
            name=name,
            timeout_s=t,
            verifier="lean",
            memory_limit_mb=memory[name],
            options={**TIER_PRECISION[name], "max_heartbeats": heartbeats[name]},
        )
        for name, t in LEAN_TIMEOUTS.items()
    }
    return CheckerConfig(verifiers=verifiers, tiers=tiers, consensus_verifiers=("lean",))


#: Timeouts for the simulated checker: sub-second to seconds, so the demo finishes quickly.
SIM_TIMEOUTS = {"FAST": 0.5, "BALANCED": 1.0, "SLOW": 2.0}


def default_synthetic_config() -> CheckerConfig:
    """The bundled simulated checker, with a strict reference profile used for consensus."""
    verifiers = {
        "simulated": VerifierConfig(name="simulated", kind="simulated"),
        "sim-reference-a": VerifierConfig(
            name="sim-reference-a",
            kind="simulated",
            options={"precision": "reference", "seed": 1, "timeout_s": 6.0},
        ),
        "sim-reference-b": VerifierConfig(
            name="sim-reference-b",
            kind="simulated",
            options={"precision": "reference", "seed": 2, "timeout_s": 6.0},
        ),
        "sim-reference-c": VerifierConfig(
            name="sim-reference-c",
            kind="simulated",
            options={"precision": "reference", "seed": 3, "timeout_s": 6.0},
        ),
    }
    memory = {"FAST": 80, "BALANCED": 160, "SLOW": 320}
    tiers = {
        name: Tier(
            name=name,
            timeout_s=t,
            verifier="simulated",
            memory_limit_mb=memory[name],
            options={"precision": name.lower()},
            grace_s=0.2,
        )
        for name, t in SIM_TIMEOUTS.items()
    }
    return CheckerConfig(
        verifiers=verifiers,
        tiers=tiers,
        consensus_verifiers=("sim-reference-a", "sim-reference-b", "sim-reference-c"),
    )


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
        if config.verifiers[tier.verifier].kind == "simulated":
            checks.precision(tier.options.get("precision"), f"tier {tier.name}: options.precision")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return value


def parse_verifier(name: str, raw: Any) -> VerifierConfig:
    where = f"verifier {name!r}"
    raw = _mapping(raw, where)
    unknown = set(raw) - _VERIFIER_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_VERIFIER_KEYS)}"
        )
    kind = raw.get("kind", "command")
    if kind not in VERIFIER_KINDS:
        raise ConfigError(f"{where}: kind must be one of {list(VERIFIER_KINDS)}, not {kind!r}")
    command = raw.get("command")
    if kind == "command" and command is None:
        raise ConfigError(
            f'{where}: \'command\' is required (an argv list such as ["coqc", "{{file}}"])'
        )
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
    if kind == "simulated":
        checks.simulated_options(options, where)
    return VerifierConfig(
        name=name,
        kind=kind,
        command=tuple(command or ()),
        cwd=cwd,
        env=env,
        rules=rules,
        default=default,
        version_command=tuple(version) if version else None,
        options=options,
        canaries=parse_canaries(raw.get("canaries"), where),
    )


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
