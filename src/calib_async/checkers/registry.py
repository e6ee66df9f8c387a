"""Which checker kinds exist, and opening the checkers of a run.

The built-in kinds (``command``, ``lean``, ``simulated``) are packages of this one; any
installed distribution adds more through the entry-point group ``calib_async.checkers``::

    [project.entry-points."calib_async.checkers"]
    mykind = "mypackage.checker:KIND"

The entry point's name is the YAML ``kind:`` value and its object a
:class:`~calib_async.checkers.api.CheckerKind` (or a class of one, instantiated without
arguments). A built-in name cannot be replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import structlog

from calib_async.checkers.api import Checker, CheckerKind, OpenContext
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig

log = structlog.get_logger(__name__)

#: The entry-point group third-party kinds register in.
GROUP = "calib_async.checkers"
#: Built-in kinds: name -> the module whose ``KIND`` it is.
BUILTIN = {
    "command": "calib_async.checkers.command",
    "lean": "calib_async.checkers.lean",
    "lean_repl": "calib_async.checkers.lean_repl",
    "simulated": "calib_async.checkers.simulated",
    "service": "calib_async.checkers.service",
}


@cache
def _installed() -> dict[str, EntryPoint]:
    """Entry points of the group by name (read once per process)."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        if point.name in BUILTIN:
            log.warning("checkers.entry_point_shadows_builtin", name=point.name, value=point.value)
            continue
        found[point.name] = point
    return found


def kind_names() -> tuple[str, ...]:
    """Every kind available here: the built-in ones, then the installed ones (sorted)."""
    return (*BUILTIN, *sorted(_installed()))


@cache
def kind_for(name: str) -> CheckerKind:
    """The kind called ``name``; ConfigError naming the available ones otherwise."""
    if name in BUILTIN:
        return import_module(BUILTIN[name]).KIND  # type: ignore[no-any-return]
    point = _installed().get(name)
    if point is None:
        raise ConfigError(
            f"unknown checker kind {name!r}; available: {', '.join(kind_names())} "
            f"(a third-party kind registers in the entry-point group {GROUP!r})"
        )
    try:
        loaded = point.load()
    except Exception as exc:  # a broken plug-in: say which, never a traceback
        raise ConfigError(
            f"checker kind {name!r} ({point.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}; reinstall the package that provides it"
        ) from None
    kind = loaded() if isinstance(loaded, type) else loaded
    if not callable(getattr(kind, "open", None)) or getattr(kind, "name", None) != name:
        raise ConfigError(
            f"checker kind {name!r} ({point.value}) is not a CheckerKind named {name!r}; "
            "fix the entry point"
        )
    return kind  # type: ignore[no-any-return]


def open_checkers(configs: Mapping[str, VerifierConfig], ctx: OpenContext) -> dict[str, Checker]:
    """A checker per profile (by profile name), each opened by its kind.

    ``ctx.sandbox`` ("bwrap") wraps every one-shot checker's runs in the sandbox (probed once;
    CalibError when it cannot work here, or when a kind does not run one process per check).
    The caller owns the checkers: close each with ``aclose()`` (the scheduler does).
    """
    ctx = _absolute(ctx)
    checkers = {name: kind_for(cfg.kind).open(cfg, ctx) for name, cfg in configs.items()}
    if ctx.sandbox not in (None, "none"):
        from calib_async.checkers.sandboxed import sandboxed_checkers

        checkers = sandboxed_checkers(checkers, ctx.sandbox, work_dir=ctx.work_dir)
    return checkers


def _absolute(ctx: OpenContext) -> OpenContext:
    """``ctx`` with an absolute work_dir: every checker runs in its own private ``{workdir}``,
    where a path relative to the driver's directory means nothing."""
    work_dir = Path(ctx.work_dir).resolve()
    if work_dir == ctx.work_dir:
        return ctx
    return replace(ctx, work_dir=work_dir)
