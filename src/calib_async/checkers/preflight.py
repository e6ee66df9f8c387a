"""Before stage 2: is every profile's checker executable there?

A checker that cannot start turns every run into VERIFIER_ERROR, and a calibration of that
says nothing. So every profile the run uses (the tiers' and the consensus profiles') is
checked before the first run, whatever the corpus: ``lean`` (and ``lake`` when the profile
uses it) of a Lean profile, the interpreter of the simulated one. Command profiles are
checked by :mod:`calib_async.config.startable` (executable, script line, argument limits).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable

from calib_async.errors import CalibError
from calib_async.profiles import CheckerConfig, VerifierConfig


def _found(program: str, *, path: str | None, cwd: str | None) -> bool:
    if "/" in program:
        full = program if os.path.isabs(program) else os.path.join(cwd or os.getcwd(), program)
        return os.path.isfile(full) and os.access(full, os.X_OK)
    return shutil.which(program, path=path) is not None


def executables(profile: VerifierConfig) -> list[str]:
    """The programs ``profile`` needs to start its checker."""
    if profile.kind == "simulated":
        return [sys.executable]
    if profile.kind == "lean":
        opts = profile.options
        out = [str(opts.get("lean", "lean"))]
        if opts.get("use_lake") or (opts.get("lean_project") and opts.get("use_lake") is not False):
            out.insert(0, str(opts.get("lake", "lake")))
        return out
    return []  # command profiles: calib_async.config.startable checks them, in more detail


def missing_executable(profile: VerifierConfig) -> str | None:
    """The first program of ``profile`` that cannot be found, or None."""
    path = profile.env.get("PATH") or os.environ.get("PATH") or os.defpath
    for program in executables(profile):
        if not _found(program, path=path, cwd=profile.cwd):
            return program
    return None


def check_executables(checker: CheckerConfig, profiles: Iterable[str]) -> None:
    """CalibError (one line) naming the first profile whose checker is not installed."""
    for name in dict.fromkeys(profiles):
        profile = checker.verifiers.get(name)
        if profile is None:
            continue
        program = missing_executable(profile)
        if program is not None:
            raise CalibError(
                f"checker not found: profile {name!r} runs {program!r}, which is not installed "
                "or not on PATH; install it or fix the profile's command in --config"
            )
