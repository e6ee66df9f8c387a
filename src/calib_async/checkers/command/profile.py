"""The generic checker profile: an argv template plus first-match-wins rules, from YAML."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from calib_async.checkers.api import Verdict
from calib_async.checkers.command.coq_audit import AUDIT_OPTION, COQ_ASSUMPTIONS, audited_copy
from calib_async.checkers.diagnostics import first_error_line
from calib_async.checkers.environment import allowlisted_env, workdir_env
from calib_async.checkers.oneshot import limits_for
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Outcome, Tier
from calib_async.runner.spec import ExecResult, ExecSpec
from calib_async.runner.workdir import PLACEHOLDER, new_workdir


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every placeholder of ``values`` replaced in one pass, left to right: text
    that was put in is never looked at again (a file named ``{timeout_s}.lean`` keeps its name).
    """
    if not values or "{" not in text:  # every placeholder starts with "{"
        return text
    return _pattern(tuple(values)).sub(lambda match: values[match.group(0)], text)


@functools.lru_cache(maxsize=64)
def _pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(key) for key in keys))


def expand_argv(
    template: tuple[str, ...],
    item: CorpusItem,
    tier: Tier,
    *,
    timeout_s: float,
    workdir: str | None = None,
) -> tuple[str, ...]:
    """Substitute placeholders in each argv element.

    ``{file}`` absolute path, ``{stem}`` the file's name without its extension (so that a
    compiler can write ``{workdir}/{stem}.vo`` instead of next to the corpus), ``{module}``
    module name, ``{timeout_s}``, ``{memory_mb}``, ``{workdir}`` the run's private directory
    (when given).
    An element that is exactly ``{args}`` expands to the tier's args; without it, the tier's
    args are appended.
    """
    values: Mapping[str, str] = {
        "{file}": os.path.abspath(item.path),  # no syscalls: items carry absolute paths
        "{stem}": os.path.splitext(os.path.basename(item.path))[0],
        "{module}": item.module_name,
        "{timeout_s}": f"{timeout_s:g}",
        "{memory_mb}": str(tier.memory_limit_mb or 0),
    }
    if workdir is not None:
        values = {**values, PLACEHOLDER: workdir}
    out: list[str] = []
    used_args = False
    for element in template:
        if element == "{args}":
            out.extend(tier.args)
            used_args = True
            continue
        out.append(substitute(element, values))
    if not used_args:
        out.extend(tier.args)
    return tuple(out)


class CommandVerifier:
    """Any command-line checker, described by a YAML profile."""

    def __init__(self, config: VerifierConfig, *, work_dir: Path | None = None) -> None:
        self.name = config.name
        self.config = config
        self._env = allowlisted_env(config.env)  # the allowlist is read once, not per run
        self._audit_dir = work_dir  # Coq assumptions audit copies (checkers.command.coq_audit)

    def build_spec(
        self, item: CorpusItem, tier: Tier, *, timeout_s: float, attempt: int
    ) -> ExecSpec:
        """The command with its placeholders filled in, run in a fresh private directory
        (``{workdir}``, also ``TMPDIR`` and the working directory unless ``cwd`` is set)."""
        workdir = new_workdir()
        if self.config.options.get(AUDIT_OPTION) == COQ_ASSUMPTIONS:
            audit_dir = self._audit_dir or Path(tempfile.gettempdir()) / "calib-async-coq-audit"
            item = replace(item, path=str(audited_copy(item, audit_dir)))
        argv = expand_argv(self.config.command, item, tier, timeout_s=timeout_s, workdir=workdir)
        cwd = self.config.cwd
        cwd = workdir if cwd is None else substitute(cwd, {PLACEHOLDER: workdir})
        if self.config.cwd is None and "/" in argv[0] and not os.path.isabs(argv[0]):
            argv = (os.path.abspath(argv[0]), *argv[1:])  # relative to the driver, as before
        return ExecSpec(
            argv=argv,
            timeout_s=timeout_s,
            env=workdir_env(self._env, workdir),
            cwd=cwd,
            limits=limits_for(tier),
            grace_s=tier.grace_s,
            workdir=workdir,
        )

    def classify(self, result: ExecResult, tier: Tier) -> Verdict:
        text = result.output_text
        code = result.exit_code
        for rule in self.config.rules:
            if rule.exit_codes is not None and code not in rule.exit_codes:
                continue
            if rule.output is not None and not rule.output.search(text):
                continue
            return self._verdict(rule.outcome, text)
        if code is None:  # died of a signal and no rule claimed it: not the proof's verdict
            return self._verdict(Outcome.VERIFIER_ERROR, text)
        return self._verdict(self.config.default, text)

    def _verdict(self, outcome: Outcome, text: str) -> Verdict:
        first = None if outcome is Outcome.VERIFIED else first_error_line(text)
        return Verdict(outcome, first_error=first)

    def version_argv(self) -> tuple[str, ...] | None:
        return self.config.version_command
