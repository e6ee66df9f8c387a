"""Field checks of the YAML config (``--config``), built on :mod:`calib_async.inputs`.

Each function validates one kind of field and raises :class:`~calib_async.errors.ConfigError`
with one line naming the profile or tier, the key and what to write instead. The loader
(config/schema.py) and the checker kinds (their own options) call them.
"""

from __future__ import annotations

from typing import Any

from calib_async.errors import ConfigError
from calib_async.inputs import (
    INT32_MAX,
    INT64_MAX,
    UserRegex,
    check_placeholders,
    compile_user_regex,
    describe,
    exit_status,
    finite_float,
    kernel_int,
    no_nul,
)

#: Placeholders a profile's ``command`` may use (``{args}`` only as a whole element).
PLACEHOLDERS = frozenset(
    {"file", "stem", "module", "timeout_s", "memory_mb", "args", "workdir"}
)
MAX_TIMEOUT_S = 10_000_000.0  # 115 days: beyond it, deadlines overflow the event loop's clock
MAX_GRACE_S = 3600.0
#: Upper bounds of the size keys: the value is scaled to bytes (or 512-byte blocks) later.
SIZE_MAX = {
    "memory_limit_mb": INT64_MAX // 2**20,
    "address_space_limit_mb": INT64_MAX // 2**20,
    "max_file_mb": INT64_MAX // 2**20,
    "output_cap_kb": INT64_MAX // 2**10,
    "max_processes": INT32_MAX,
}


def argv_list(value: Any, where: str, *, placeholders: bool) -> list[str]:
    """A non-empty list of text without NUL; with ``placeholders``, only known ``{names}``."""
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise ConfigError(f"{where} must be a non-empty list of strings (an argv list)")
    for i, arg in enumerate(value):
        no_nul(arg, f"{where}[{i}]", error=ConfigError)
        if placeholders:
            check_placeholders(arg, f"{where}[{i}]", allowed=PLACEHOLDERS, error=ConfigError)
    return value


def environment(value: Any, where: str) -> dict[str, str]:
    """``env``: names without ``=``/NUL mapped to scalar values (written as text)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of names to values")
    env: dict[str, str] = {}
    for key, raw in value.items():
        if not key or "=" in key:
            raise ConfigError(f"{where}: {describe(key)} is not a variable name; fix it")
        no_nul(key, f"{where} name", error=ConfigError)
        if isinstance(raw, dict | list) or raw is None:
            raise ConfigError(f"{where}.{key} must be text or a number, not {describe(raw)}")
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        env[key] = no_nul(text, f"{where}.{key}", error=ConfigError)
    return env


def exit_codes(value: Any, where: str) -> tuple[int, ...]:
    """A rule's ``exit_code``: one status or a list, each 0..255."""
    items = value if isinstance(value, list) else [value]
    return tuple(exit_status(c, f"{where}: exit_code", error=ConfigError) for c in items)


def output_regex(value: Any, where: str) -> UserRegex:
    """A rule's ``output`` regex, compiled by RE2 (linear time: it cannot hang a run)."""
    return compile_user_regex(value, f"{where}: output", error=ConfigError)


def timeout_s(value: Any, where: str) -> float:
    return finite_float(
        value, f"{where}: timeout_s", min=0.0, min_exclusive=True, max=MAX_TIMEOUT_S,
        error=ConfigError,
    )  # fmt: skip


def grace_s(value: Any, where: str) -> float:
    return finite_float(value, f"{where}: grace_s", min=0.0, max=MAX_GRACE_S, error=ConfigError)


def size(value: Any, where: str, key: str) -> int | None:
    """A positive size/count key that fits the kernel type it ends up in, or None if unset."""
    if value is None:
        return None
    return kernel_int(value, f"{where}: {key}", min=1, max=SIZE_MAX[key], error=ConfigError)
