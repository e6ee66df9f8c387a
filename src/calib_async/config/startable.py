"""Checkers that can never start are refused before stage 2, in one line (exit 2).

Otherwise every run of a tier would be a VERIFIER_ERROR and the export would describe a checker
that never ran. Checked for each ``command`` profile a selected tier uses: its executable exists,
is a regular file (not a directory), is executable, and is a binary or a script with a ``#!``
line (a script without one runs under ``sh`` on one spawn path and fails with ENOEXEC on the
other); the longest command line of the corpus fits the kernel's limits (one argument at most
``MAX_ARG_STRLEN``, all arguments and the environment at most ``ARG_MAX``); and the file system
of the runs' private directories has free inodes and space.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence

from calib_async.errors import CalibError
from calib_async.inputs import describe
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Tier

#: Linux's limit on one argument or environment string (32 pages).
MAX_ARG_STRLEN = 32 * 4096
#: The placeholder standing for the run's private directory, and a length it never exceeds.
_WORKDIR_LEN = 4096
_ELF = b"\x7fELF"
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def check_checkers_can_start(
    verifiers: Mapping[str, VerifierConfig],
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    *,
    profiles: Iterable[str] = (),
) -> None:
    """Raise CalibError naming the first tier (or consensus profile) whose checker cannot start."""
    used: dict[str, Tier | None] = {t.verifier: t for t in reversed(tiers)}
    for name in profiles:
        used.setdefault(name, None)
    for name, tier in used.items():
        config = verifiers.get(name)
        if config is None or config.kind != "command" or not config.command:
            continue
        where = f"tier {tier.name} (profile {name})" if tier else f"consensus profile {name}"
        _check_executable(config, where)
        _check_argv_length(config, tier, items, where)
    _check_workdir_space()


def _resolve(config: VerifierConfig) -> str | None:
    argv0 = config.command[0]
    if "/" in argv0:
        base = config.cwd if config.cwd and not os.path.isabs(argv0) else os.getcwd()
        if "{" in base:  # cwd under {workdir}: the driver's directory, as build_spec uses
            base = os.getcwd()
        return os.path.join(base, argv0)
    path = config.env.get("PATH") or os.environ.get("PATH") or _DEFAULT_PATH
    found = shutil.which(argv0, mode=os.F_OK, path=path)
    if found is None:
        return None
    executable = shutil.which(argv0, path=path)  # the first one exec would run
    return executable or found


def _check_executable(config: VerifierConfig, where: str) -> None:
    argv0 = config.command[0]
    shown = describe(argv0, limit=120)
    if "{" in argv0:
        return  # a placeholder (e.g. {file} itself run): known only per item
    path = _resolve(config)
    if path is None:
        raise CalibError(
            f"{where}: command {shown} is not on PATH; install it or give its absolute path"
        )
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CalibError(
            f"{where}: command {shown} cannot be used ({exc.strerror}); fix command[0]"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise CalibError(f"{where}: command {shown} is a directory; name the checker's executable")
    if not stat.S_ISREG(st.st_mode):
        raise CalibError(f"{where}: command {shown} is not a regular file; fix command[0]")
    if not os.access(path, os.X_OK):
        raise CalibError(f"{where}: command {shown} is not executable; run chmod +x {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return  # executable but unreadable (mode 0111): exec may still work
    if not head.startswith((b"#!", _ELF)):
        raise CalibError(
            f"{where}: command {shown} is neither a binary nor a script with a '#!' line; add "
            "one (e.g. #!/bin/sh) or run it through its interpreter (command: [sh, script])"
        )


def _expanded_len(element: str, values: Mapping[str, int]) -> int:
    length = len(element.encode("utf-8", "surrogateescape"))
    for key, size in values.items():
        length += element.count(key) * (size - len(key))
    return length


def _check_argv_length(
    config: VerifierConfig, tier: Tier | None, items: Sequence[CorpusItem], where: str
) -> None:
    if not items:
        return
    longest = max(items, key=lambda i: len(os.fsencode(os.path.abspath(i.path))))
    values = {
        "{file}": len(os.fsencode(os.path.abspath(longest.path))),
        "{module}": max(len(i.module_name.encode()) for i in items),
        "{timeout_s}": 24,
        "{memory_mb}": 20,
        "{workdir}": _WORKDIR_LEN,
    }
    args = list(tier.args) if tier else []
    sizes = [_expanded_len(e, values) for e in config.command if e != "{args}"]
    sizes += [len(a.encode("utf-8", "surrogateescape")) for a in args]
    env = {**os.environ, **config.env}
    total = sum(s + 1 for s in sizes) + sum(len(k) + len(v) + 2 for k, v in env.items())
    total += 8 * (len(sizes) + len(env) + 2)  # the pointer arrays
    biggest = max(sizes, default=0)
    limit = os.sysconf("SC_ARG_MAX")
    if biggest > MAX_ARG_STRLEN or total > limit:
        raise CalibError(
            f"{where}: its command line for {describe(longest.item_id)} would be "
            f"{max(total, biggest)} bytes, above the kernel's limit ({MAX_ARG_STRLEN} per "
            f"argument, {limit} in all); shorten its arguments or pass long ones in a file"
        )


def _check_workdir_space() -> None:
    root = tempfile.gettempdir()
    try:
        st = os.statvfs(root)
    except OSError:
        return
    if st.f_files > 0 and st.f_favail == 0:
        raise CalibError(
            f"the file system of {root} has no free inodes for the runs' private directories; "
            "free some, or set TMPDIR to another file system"
        )
    if st.f_bavail == 0:
        raise CalibError(
            f"the file system of {root} is full; free space, or set TMPDIR to another file system"
        )
