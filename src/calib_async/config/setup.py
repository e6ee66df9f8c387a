"""Checker set-up for a run: built-in tiers and profiles overlaid with ``--config``, checked
against the run's flags; and the output paths checked before any checker starts."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path

from calib_async.checkers.registry import kind_for
from calib_async.config.paths import check_no_collisions
from calib_async.config.run import RunConfig
from calib_async.config.schema import check_references, load_checker_config
from calib_async.errors import CalibError
from calib_async.profiles import CheckerConfig
from calib_async.records import Tier

#: The kind whose built-in profiles and tiers a corpus starts from (before ``--config``): the
#: synthetic corpus is written for the simulated checker; every other corpus is Lean source.
CORPUS_KIND = {"synthetic": "simulated"}
DEFAULT_KIND = "lean"


def base_setup(corpus: str) -> CheckerConfig:
    """The built-in profiles and tiers for ``corpus``, declared by its kind."""
    base = kind_for(CORPUS_KIND.get(corpus, DEFAULT_KIND)).defaults()
    if base is None:  # a built-in kind always declares its set-up
        raise AssertionError(f"kind for corpus {corpus!r} declares no built-in profiles")
    return base


def load_checker_setup(config: RunConfig) -> CheckerConfig:
    """Built-in tiers/profiles for the corpus, overlaid with ``--config``; checks --tiers."""
    base = base_setup(config.corpus)
    checker = load_checker_config(config.config_path, base) if config.config_path else base
    if config.lean_project is not None:
        project = str(config.lean_project)
        verifiers = {
            name: kind_for(v.kind).with_project(v, project)
            for name, v in checker.verifiers.items()
        }
        checker = replace(checker, verifiers=verifiers)
    check_references(checker)
    unknown = [t for t in config.tiers if t not in checker.tiers]
    if unknown:
        raise CalibError(
            f"unknown tier(s) {', '.join(unknown)}; defined tiers: {', '.join(checker.tiers)} "
            "(add tiers in --config FILE)"
        )
    missing = [v for v in consensus_profiles(config, checker) if v not in checker.verifiers]
    if missing:
        raise CalibError(
            f"--consensus-verifiers names undefined profile(s) {', '.join(missing)}; "
            f"defined: {', '.join(checker.verifiers)}"
        )
    return checker


def consensus_profiles(config: RunConfig, checker: CheckerConfig) -> tuple[str, ...]:
    """The profiles that vote on ground truth: the flag's, else the checker config's."""
    return tuple(config.consensus_verifiers or checker.consensus_verifiers)


def selected_tiers(config: RunConfig, checker: CheckerConfig) -> list[Tier]:
    """The run's tiers, in the order given on the command line."""
    return [checker.tiers[name] for name in config.tiers]


def prepare_outputs(config: RunConfig) -> None:
    """Create ``--output-dir`` and fail before hours of checking when --export is unwritable
    or any output would overwrite an input or another output."""
    check_no_collisions(config)
    try:
        config.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CalibError(
            f"cannot create --output-dir {config.output_dir}: {exc.strerror or exc}; "
            "choose a writable directory"
        ) from None
    _check_dir_writable(config.output_dir)
    _check_export_writable(config.export)


def _check_dir_writable(directory: Path) -> None:
    """Create and remove a file in ``--output-dir``: a read-only mount or a directory the user
    cannot write fails here, in one line, not as a traceback at its first write."""
    probe = directory / f".calib-async-probe.{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    except OSError as exc:
        raise CalibError(
            f"--output-dir {directory} is not writable ({exc.strerror}); choose a writable "
            "directory"
        ) from None


def _check_export_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CalibError(
            f"cannot create the directory of --export {path}: {exc.strerror or exc}"
        ) from None
    if path.is_dir():
        raise CalibError(
            f"--export {path} is a directory; give a file path such as {path}/calibration.yaml"
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CalibError(f"--export {path} is not writable; choose another path")
