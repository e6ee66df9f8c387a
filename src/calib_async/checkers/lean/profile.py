"""The Lean 4 checker profile: ``lean FILE`` or ``lake env lean FILE``, classified by its messages.

Verifier options (``verifiers.<name>.options`` in YAML, all optional):

``lean_project``
    Lake workspace root. When set, runs ``lake env lean`` there; when unset, the root is found by
    walking up from the checked file to a ``lakefile.lean``/``lakefile.toml`` (a file under
    ``WS/.lake/packages/...`` belongs to ``WS``). With no workspace, plain ``lean`` runs.
``use_lake``
    ``true``/``false`` forces or forbids ``lake env``; unset means "when a workspace is known".
``lean``, ``lake``
    Executable names or paths (default ``lean``, ``lake``).
``json``
    ``true``: pass ``--json``; ``false``: parse the text format; unset: auto — use ``--json``
    once :meth:`LeanVerifier.observe_version` has seen Lean >= 4.0.0, text before that. The
    classifier reads both formats either way.
``axiom_allowlist``
    Axioms a proof may depend on (default ``[propext, Classical.choice, Quot.sound]``). The entry
    ``native_decide`` admits native_decide's axioms; ``sorryAx`` is never admitted.
``work_dir``
    Where axiom-audit files are written (default: ``$TMPDIR/calib-async-lean-audit-<uid>``).
``runner_memory_mb``
    The runner's own memory limit (the run cgroup's memory limit; without a memory controller,
    the RSS watchdog). Default: the tier's ``memory_limit_mb`` + 25 % + 512 MiB, so Lean's own
    ``-M`` limit is hit first and its message says what happened; ``0`` disables it. RLIMIT_AS
    is set only by the tier key ``address_space_limit_mb``, and without a memory controller at
    ``max(runner memory, 16 GiB)``: Lean maps its .olean files, so ``import Mathlib`` takes
    gigabytes of address space it never makes resident (RL pipelines set 10-12 GB for this
    reason; 16 GiB leaves room for Mathlib's growth). See README "Limits".

Tier options (``tiers.<NAME>.options``): ``max_heartbeats`` (``-D maxHeartbeats=N``),
``reject_sorry``, ``audit_axioms``, ``threads`` (``-j N``), ``check_statement`` and
``reject_skip_kernel`` (:mod:`calib_async.checkers.lean.checks`). ``memory_limit_mb`` becomes
``-M MB``. ``args`` are appended before the file. With ``--json`` the axiom audit reads only
the answers positioned at its own ``#print axioms`` lines; ``#exit`` fails the audit.

Classification (:func:`classify_lean_result`, pure) — resource failures win over proof errors,
because a run cut short by a limit is not a complete check:

1. killed by SIGKILL (or exit status 137), or a memory message in an error or on stderr:
   MEMORY_LIMIT_EXCEEDED;
2. a heartbeat message (elaborator or kernel): VERIFIER_TIMEOUT with timeout_kind=heartbeat;
3. an internal limit (kernel deep recursion, maxRecDepth, native stack overflow): VERIFIER_ERROR,
   since it is a property of the checker's configuration, not of the proof;
4. any other error message: PROOF_INVALID;
5. killed by another signal, or a non-zero exit with no error message (Lean crashed, lake failed):
   VERIFIER_ERROR;
6. otherwise (exit 0, no error): PROOF_INVALID if the tier rejects sorry and a sorry warning was
   printed, or the tier audits axioms and a forbidden axiom (or no audit report at all) was
   found; else VERIFIED.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import structlog

from calib_async.checkers.api import Verdict
from calib_async.checkers.environment import allowlisted_env, workdir_env
from calib_async.checkers.lean.axioms import (
    DEFAULT_AXIOM_ALLOWLIST,
    audit_source,
    forbidden_axioms,
    parse_axioms,
)
from calib_async.checkers.lean.checks import (
    checked_copy_text,
)
from calib_async.checkers.lean.classify import classify_lean_result
from calib_async.checkers.oneshot import limits_for
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Tier
from calib_async.runner.spec import ExecResult, ExecSpec, Limits
from calib_async.runner.workdir import PLACEHOLDER, new_workdir

__all__ = [
    "DEFAULT_AXIOM_ALLOWLIST",
    "LeanVerifier",
    "audit_source",
    "classify_lean_result",
    "find_workspace_root",
    "forbidden_axioms",
    "parse_axioms",
    "parse_lean_version",
]

#: RLIMIT_AS floor for Lean without a memory controller (see ``runner_memory_mb`` above).
LEAN_ADDRESS_SPACE_MB = 16384

log = structlog.get_logger(__name__)

#: The first Lean release whose ``lean`` accepts ``--json``.
JSON_MIN_VERSION = (4, 0, 0)
_VERSION_RE = re.compile(r"version (\d+)\.(\d+)\.(\d+)")
_MEMORY_EXIT_CODES = frozenset({137})  # 128 + SIGKILL, as a wrapper (lake, a shell) reports it


def parse_lean_version(text: str) -> tuple[int, int, int] | None:
    """``(4, 19, 0)`` from ``Lean (version 4.19.0, x86_64-unknown-linux-gnu, ...)``."""
    match = _VERSION_RE.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def find_workspace_root(file: Path) -> Path | None:
    """The Lake workspace that ``file`` belongs to, or None.

    A file under ``WS/.lake/packages/PKG/...`` belongs to ``WS`` (running ``lake env`` inside a
    dependency's own directory would resolve the wrong workspace). Otherwise the nearest ancestor
    with ``lakefile.lean`` or ``lakefile.toml``.
    """
    file = file.resolve()
    parts = file.parts
    if ".lake" in parts:
        return Path(*parts[: parts.index(".lake")])
    for parent in file.parents:
        if (parent / "lakefile.lean").is_file() or (parent / "lakefile.toml").is_file():
            return parent
    return None


def _flag(options: Any, key: str) -> bool:
    return bool(options.get(key, False))


class LeanVerifier:
    """Lean 4 as a checker (see the module docstring for options and classification)."""

    def __init__(self, config: VerifierConfig, *, work_dir: Path | None = None) -> None:
        if config.kind != "lean":
            raise ConfigError(f"verifier {config.name!r}: LeanVerifier needs kind: lean")
        self.name = config.name
        self.config = config
        opts = config.options
        self._lean = str(opts.get("lean", "lean"))
        self._lake = str(opts.get("lake", "lake"))
        project = opts.get("lean_project")
        self._project = Path(str(project)).expanduser().resolve() if project else None
        self._use_lake: bool | None = opts.get("use_lake")
        self._json: bool | None = opts.get("json")
        self._json_auto = False  # set by observe_version
        allow = opts.get("axiom_allowlist", list(DEFAULT_AXIOM_ALLOWLIST))
        if not isinstance(allow, list | tuple) or not all(isinstance(a, str) for a in allow):
            raise ConfigError(f"verifier {config.name!r}: axiom_allowlist must be a list of names")
        self.allowlist: tuple[str, ...] = tuple(allow)
        runner = opts.get("runner_memory_mb")
        if runner is not None and (isinstance(runner, bool) or not isinstance(runner, int)):
            raise ConfigError(f"verifier {config.name!r}: runner_memory_mb must be an integer")
        self._runner_memory_mb: int | None = runner
        configured = opts.get("work_dir") or work_dir
        self._work_dir = (
            Path(str(configured)).resolve()  # checkers run in their own {workdir}
            if configured
            else Path(tempfile.gettempdir()) / f"calib-async-lean-audit-{os.getuid()}"
        )

    # -- version -------------------------------------------------------------------------------

    def version_argv(self) -> tuple[str, ...] | None:
        if self.config.version_command:
            return self.config.version_command
        if self._project is not None and self._use_lake is not False:
            return (self._lake, "-d", str(self._project), "env", self._lean, "--version")
        return (self._lean, "--version")

    def observe_version(self, text: str) -> None:
        """Tell the profile what ``version_argv()`` printed; enables ``--json`` in auto mode."""
        version = parse_lean_version(text)
        self._json_auto = version is not None and version >= JSON_MIN_VERSION

    @property
    def uses_json(self) -> bool:
        return self._json if self._json is not None else self._json_auto

    # -- spec ----------------------------------------------------------------------------------

    def lean_options(self, tier: Tier) -> list[str]:
        """The flags passed to ``lean`` for ``tier`` (before the tier's own args)."""
        opts: list[str] = []
        if self.uses_json:
            opts.append("--json")
        heartbeats = tier.options.get("max_heartbeats")
        if heartbeats is not None:
            opts += ["-D", f"maxHeartbeats={int(heartbeats)}"]
        if tier.memory_limit_mb:
            opts += ["-M", str(tier.memory_limit_mb)]
        threads = tier.options.get("threads")
        if threads is not None:
            opts += ["-j", str(int(threads))]
        return opts

    def runner_limits(self, tier: Tier) -> Limits:
        base = limits_for(tier)
        if self._runner_memory_mb is not None:
            memory = self._runner_memory_mb or None
        elif tier.memory_limit_mb:
            memory = tier.memory_limit_mb + tier.memory_limit_mb // 4 + 512
        else:
            memory = None
        return Limits(
            memory_mb=memory,
            max_processes=base.max_processes,
            max_file_mb=base.max_file_mb,
            output_cap_bytes=base.output_cap_bytes,
            address_space_mb=base.address_space_mb,
            fallback_address_space_mb=max(memory, LEAN_ADDRESS_SPACE_MB) if memory else None,
        )

    def workspace_for(self, file: Path) -> Path | None:
        if self._use_lake is False:
            return None
        root = self._project or find_workspace_root(file)
        if root is None and self._use_lake:
            raise ConfigError(
                f"verifier {self.name!r}: use_lake is set but {file} is in no Lake workspace; "
                "set options.lean_project"
            )
        return root

    def checked_file(self, item: CorpusItem, tier: Tier) -> Path:
        """The file Lean reads: the item itself, or a copy (axiom audit, failed source checks;
        see :mod:`calib_async.checkers.lean.checks`)."""
        path = Path(item.path)
        audit = _flag(tier.options, "audit_axioms")
        checks = _flag(tier.options, "check_statement") or _flag(tier.options, "reject_skip_kernel")
        if not audit and not checks:
            return path
        try:
            source = path.read_bytes().decode("utf-8", errors="surrogateescape")
        except OSError:
            return path  # Lean itself will report the missing file (VERIFIER_ERROR)
        copy = checked_copy_text(
            source,
            audit=audit,
            check_statement=_flag(tier.options, "check_statement"),
            formal_statement=item.formal_statement,
            reject_skip_kernel=_flag(tier.options, "reject_skip_kernel"),
        )
        if copy is None:
            return path
        data = copy[0].encode("utf-8", errors="surrogateescape")
        name = f"{item.item_id}.{item.content_hash[:12]}{copy[1]}"
        target = self._work_dir / name
        self._work_dir.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_name(f".{name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)  # atomic: tiers may prepare the same file concurrently
        return target

    def build_spec(
        self, item: CorpusItem, tier: Tier, *, timeout_s: float, attempt: int
    ) -> ExecSpec:
        """``lean FILE`` (or ``lake env lean FILE`` from the workspace root, which Lake needs
        as its working directory) with a fresh private directory per run: ``TMPDIR`` points
        there, and plain ``lean`` runs in it unless ``cwd`` is set, so anything it writes
        (``-o``/``-i`` outputs named with ``{workdir}`` in ``args``) stays private to the run."""
        file = self.checked_file(item, tier)
        root = self.workspace_for(Path(item.path))
        workdir = new_workdir()
        args = [a.replace(PLACEHOLDER, workdir) for a in tier.args]
        lean_argv = [self._lean, *self.lean_options(tier), *args, str(file)]
        if root is not None:
            argv = (self._lake, "env", *lean_argv)
            cwd: str | None = str(root)
        else:
            argv = tuple(lean_argv)
            cwd = self.config.cwd or workdir
        return ExecSpec(
            argv=tuple(argv),
            timeout_s=timeout_s,
            env=workdir_env(allowlisted_env(self.config.env), workdir),
            cwd=cwd,
            limits=self.runner_limits(tier),
            grace_s=tier.grace_s,
            workdir=workdir,
        )

    # -- classification ------------------------------------------------------------------------

    def classify(self, result: ExecResult, tier: Tier) -> Verdict:
        return classify_lean_result(
            result,
            reject_sorry=_flag(tier.options, "reject_sorry"),
            audit_axioms=_flag(tier.options, "audit_axioms"),
            allowlist=self.allowlist,
            check_statement=_flag(tier.options, "check_statement"),
            reject_skip_kernel=_flag(tier.options, "reject_skip_kernel"),
        )
