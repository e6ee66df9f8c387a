"""The ``lean_repl`` checker: a task through the pool, read by the Lean profile's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from calib_async.checkers.api import Observation, OpenContext, Verdict
from calib_async.checkers.environment import allowlisted_env
from calib_async.checkers.lean_repl.classify import Command, Strictness, classify_exchange
from calib_async.checkers.lean_repl.options import ReplOptions
from calib_async.checkers.lean_repl.pool import PoolRun, ReplPool
from calib_async.checkers.lean_repl.source import Prepared, prepare
from calib_async.profiles import VerifierConfig
from calib_async.records import Outcome, Task, Tier, TimeoutKind
from calib_async.runner.spec import ExecResult, Termination

_PREPARED_CACHE = 512


class LeanReplChecker:
    """One ``lean_repl`` profile, opened: a pool started lazily, closed by :meth:`aclose`."""

    def __init__(self, config: VerifierConfig, ctx: OpenContext, *, policy: Any = None) -> None:
        self.name = config.name
        self.config = config
        self.options = ReplOptions.parse(config)
        env = allowlisted_env(config.env)
        self.pool = ReplPool(
            self.options.command,
            env=env,
            cwd=config.cwd,
            size=self.options.pool_size,
            policy=policy or self.options.policy,
            sample_interval_s=min(ctx.sample_interval_s, 0.1),
        )
        self._version: str | None = None
        self._version_known = False
        #: prepared commands by (item, tier): replicates and designs check an item many times
        self._prepared: dict[tuple[str, str, str], tuple[Tier, Prepared]] = {}

    async def check(self, task: Task) -> Observation:
        """Check ``task`` on a pool REPL (see :mod:`calib_async.checkers.lean_repl.pool`).

        **Cancellation:** the REPL running the proof is killed and reaped, then the
        cancellation propagates; no observation.
        """
        tier = task.tier
        key = (task.item.key, task.item.path, tier.name)
        cached = self._prepared.get(key)
        prepared = cached[1] if cached is not None and cached[0] is tier else None
        if prepared is None:
            try:
                source = Path(task.item.path).read_bytes().decode("utf-8", errors="replace")
            except OSError as exc:
                return _error_observation(self.options.command, f"cannot read the item: {exc}")
            heartbeats = tier.options.get("max_heartbeats")
            prepared = prepare(
                source,
                header=self.options.header,
                max_heartbeats=int(heartbeats) if heartbeats is not None else None,
                audit=bool(tier.options.get("audit_axioms", False)),
                check_statement=bool(tier.options.get("check_statement", False)),
                formal_statement=task.item.formal_statement,
                reject_skip_kernel=bool(tier.options.get("reject_skip_kernel", False)),
            )
            if len(self._prepared) >= _PREPARED_CACHE:
                self._prepared.pop(next(iter(self._prepared)))
            self._prepared[key] = (tier, prepared)
        escalated = task.timeout_s is not None and task.timeout_s > tier.timeout_s
        run = await self.pool.run(
            prepared,
            timeout_s=task.effective_timeout_s,
            header_timeout_s=self.options.header_timeout_s,
            memory_limit_mb=tier.memory_limit_mb,
            queue_timeout_s=self.options.queue_timeout_s,
            fresh_process=escalated,
        )
        strict = Strictness.of(tier.options, self.options.allowlist)
        return observe(run, strict, self.options.command)

    async def version(self) -> str | None:
        """The first line of the profile's ``version_command`` (the REPL has no version flag).

        **Cancellation:** the probe is killed; nothing is cached.
        """
        if self._version_known:
            return self._version
        argv = self.config.version_command
        if argv:
            with anyio.move_on_after(10):
                try:
                    done = await anyio.run_process(list(argv), check=False, env=allowlisted_env())
                except OSError:  # a version command that cannot run: no version
                    done = None
                lines = done.stdout.decode(errors="replace").strip().splitlines() if done else []
                self._version = lines[0][:200] if done and done.returncode == 0 and lines else None
        self._version_known = True
        return self._version

    async def aclose(self) -> None:
        """Kill and reap every REPL of the pool; idempotent.

        **Cancellation:** shielded: no REPL survives it.
        """
        await self.pool.aclose()


def _error_observation(argv: tuple[str, ...], message: str) -> Observation:
    result = ExecResult(
        argv=argv,
        termination=Termination.SPAWN_ERROR,
        exit_code=None,
        signal=None,
        duration_ms=0.0,
        cpu_time_ms=0.0,
        memory_peak_mb=0.0,
        memory_peak_source="none",
        memory_peak_is_floor=False,
        memory_final_mb=0.0,
        stdout=b"",
        stderr=b"",
        stdout_bytes=0,
        stderr_bytes=0,
        message=message,
    )
    return Observation(result, Verdict(Outcome.VERIFIER_ERROR, first_error=message))


def observe(run: PoolRun, strict: Strictness, argv: tuple[str, ...]) -> Observation:
    """The observation of one pool run: the verdict, the measurements, the stage details."""
    ex = run.exchange
    header = run.header_exchange
    if ex is None:  # the queue or the header failed
        failed = header
        if run.timeout_stage in ("queue", "import"):
            verdict = Verdict(
                Outcome.VERIFIER_TIMEOUT,
                timeout_kind=TimeoutKind.WALL,
                first_error=f"timed out in stage {run.timeout_stage}",
            )
        else:
            verdict = Verdict(Outcome.VERIFIER_ERROR, first_error=run.header_error)
    else:
        failed = ex
        command = run.command.command if run.command is not None else Command()
        verdict = classify_exchange(ex, command, strict)
    used = failed
    termination = (
        Termination.TIMEOUT
        if run.timeout_stage
        else (used.termination if used is not None else Termination.EXITED)
    )
    text = b""
    if ex is not None and ex.reply is not None:
        text = "\n".join(m.header() for m in ex.reply.messages).encode()
    result = ExecResult(
        argv=argv,
        termination=termination,
        exit_code=used.exit_code if used is not None else None,
        signal=used.signal if used is not None else None,
        duration_ms=ex.elapsed_ms if ex is not None else (header.elapsed_ms if header else 0.0),
        cpu_time_ms=used.cpu_ms if used is not None else 0.0,
        memory_peak_mb=used.rss_peak_mb if used is not None else 0.0,
        memory_peak_source=used.peak_source if used is not None else "none",
        memory_peak_is_floor=False,
        memory_final_mb=used.rss_after_mb if used is not None else 0.0,
        stdout=text,
        stderr=used.stderr_tail if used is not None else b"",
        stdout_bytes=(used.reply.raw_bytes if used and used.reply else 0)
        + (used.stdout_noise_bytes if used else 0),
        stderr_bytes=used.stderr_bytes if used is not None else 0,
        message=used.message if used is not None else None,
    )
    return Observation(result, verdict, details(run))


def details(run: PoolRun) -> dict[str, Any]:
    """The record's ``checker`` field: process, stages, resources (JSON-ready)."""
    ex = run.exchange
    elaboration = ex.elapsed_ms if ex is not None else 0.0
    out: dict[str, Any] = {
        "kind": "lean_repl",
        "policy": run.policy,
        "slot": run.slot,
        "pid": run.pid,
        "generation": run.generation,
        "age_commands": run.age_commands,
        "header": run.header_state,
        "import_ms": round(run.import_ms, 3),
        "queue_ms": round(run.queue_ms, 3),
        "elaboration_ms": round(elaboration, 3),
        "total_ms": round(run.queue_ms + run.import_ms + elaboration, 3),
        "timeout_stage": run.timeout_stage,
        "restart_reason": run.restart_reason,
        "retired": run.retired,
    }
    if ex is not None:
        out |= {
            "cpu_ms": round(ex.cpu_ms, 3),
            "cpu_share": round(ex.cpu_ms / ex.elapsed_ms, 4) if ex.elapsed_ms > 0 else None,
            "rss_before_mb": round(ex.rss_before_mb, 3),
            "rss_after_mb": round(ex.rss_after_mb, 3),
            "rss_peak_mb": round(ex.rss_peak_mb, 3),
            "stderr_bytes": ex.stderr_bytes,
            "stderr_idle_bytes": ex.stderr_idle_bytes,
            "sorries": len(ex.reply.sorries) if ex.reply is not None else None,
        }
    if run.header_exchange is not None:
        out["header_stderr_bytes"] = run.header_exchange.stderr_bytes
    return out
