"""The environment a checker process sees: an allowlist of the parent's, plus the profile's."""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Environment variables passed through from the parent. Everything else is dropped.
ENV_ALLOWLIST = ("PATH", "HOME", "LANG", "TMPDIR", "TZ", "USER", "LOGNAME")
ENV_ALLOWLIST_PREFIXES = ("LC_",)


def allowlisted_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's allowlisted environment plus ``extra`` (which wins)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ENV_ALLOWLIST or k.startswith(ENV_ALLOWLIST_PREFIXES)
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def workdir_env(env: Mapping[str, str], workdir: str) -> dict[str, str]:
    """``env`` with ``TMPDIR`` set to the run's private directory and ``{workdir}`` filled in
    wherever a value names it."""
    out = {k: v.replace("{workdir}", workdir) for k, v in env.items()}
    out["TMPDIR"] = workdir
    return out
