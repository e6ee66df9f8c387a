"""Profiles whose runs happen inside the bubblewrap sandbox (``--sandbox bwrap``).

The spec transform itself is :mod:`calib_async.runner.sandbox`; this module wraps a one-shot
profile so that its verdicts mean the same inside the sandbox as outside it. Only one-shot
checkers (:class:`~calib_async.checkers.oneshot.OneShotChecker`) can be sandboxed this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calib_async.checkers.api import Checker, Verdict
from calib_async.checkers.oneshot import OneShotChecker, Verifier, as_signal_death
from calib_async.errors import CalibError
from calib_async.records import CorpusItem, Outcome, Tier
from calib_async.runner.sandbox import SANDBOXES, Bwrap, find_bwrap, sandbox_failure, sandbox_spec
from calib_async.runner.spec import ExecResult, ExecSpec


class SandboxedVerifier:
    """A profile whose runs happen inside bwrap; everything else is the wrapped profile's."""

    def __init__(self, inner: Verifier, bwrap: Bwrap, *, hide: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.name = inner.name
        self.bwrap = bwrap
        self.hide = hide

    def build_spec(
        self, item: CorpusItem, tier: Tier, *, timeout_s: float, attempt: int
    ) -> ExecSpec:
        spec = self.inner.build_spec(item, tier, timeout_s=timeout_s, attempt=attempt)
        return sandbox_spec(spec, self.bwrap, item=item, hide=self.hide)

    def classify(self, result: ExecResult, tier: Tier) -> Verdict:
        """The wrapped profile's verdict, as if the checker had run outside the sandbox.

        bwrap failing to set up is VERIFIER_ERROR. bwrap reports a checker's death by signal N
        as exit status 128+N; :func:`~calib_async.checkers.oneshot.classify_run` reads that
        status as signal N before any profile sees it, with and without the sandbox, so one
        status gives one outcome both ways. (The record keeps bwrap's exit status.)
        """
        failure = sandbox_failure(result)
        if failure is not None:
            return Verdict(Outcome.VERIFIER_ERROR, first_error=failure)
        return self.inner.classify(as_signal_death(result), tier)

    def version_argv(self) -> tuple[str, ...] | None:
        return self.inner.version_argv()

    def __getattr__(self, name: str) -> Any:  # observe_version, checked_file, config, ...
        return getattr(self.inner, name)


def sandboxed_verifiers(
    verifiers: Mapping[str, Verifier], sandbox: str, *, work_dir: Path
) -> dict[str, Verifier]:
    """Every profile wrapped for ``sandbox`` ("none" returns them unchanged).

    ``work_dir`` (the output directory) is hidden from the checkers. Raises CalibError when
    bwrap is missing or cannot create namespaces here (probed once, by running it).
    """
    if sandbox == "none":
        return dict(verifiers)
    if sandbox != "bwrap":
        raise CalibError(f"unknown sandbox {sandbox!r}; use one of {', '.join(SANDBOXES)}")
    bwrap = find_bwrap()
    hide = (str(Path(work_dir).resolve()),)
    return {name: SandboxedVerifier(v, bwrap, hide=hide) for name, v in verifiers.items()}


def sandboxed_checkers(
    checkers: Mapping[str, Checker], sandbox: str, *, work_dir: Path
) -> dict[str, Checker]:
    """Every one-shot checker with its runs in ``sandbox`` (see :func:`sandboxed_verifiers`).

    Raises CalibError for a checker that does not run one process per check: the sandbox is a
    transform of a process spec, and such a checker has none to transform.
    """
    other = [name for name, c in checkers.items() if not isinstance(c, OneShotChecker)]
    if other and sandbox != "none":
        raise CalibError(
            f"--sandbox {sandbox} applies to one-shot checkers only; profile(s) "
            f"{', '.join(sorted(other))} do not run one process per check: use --sandbox none"
        )
    one_shot = {name: c for name, c in checkers.items() if isinstance(c, OneShotChecker)}
    verifiers = {name: c.verifier for name, c in one_shot.items()}
    wrapped = sandboxed_verifiers(verifiers, sandbox, work_dir=work_dir)
    return {name: one_shot[name].with_verifier(wrapped[name]) for name in checkers}


__all__ = ["SandboxedVerifier", "sandboxed_checkers", "sandboxed_verifiers"]
