"""A pool of long-lived REPLs, run as RL pipelines run them, with every stage measured.

``size`` slots; a proof waits for a free slot (queue wait), the slot's REPL is started if it has
none (its generation counts the starts after the first), the header is imported once per
process and header text (cold; later proofs on that process are warm), and the proof runs on
the header's environment. After the proof the reuse policy may retire the process (it is killed
at once; the next proof on the slot starts a new one and pays the import):

- ``fresh``: one process per proof (the baseline);
- ``warm``: reuse, restarted only when it died or was killed (timeout, memory limit);
- ``max_uses``: also after that many proofs; ``max_rss_mb``: also when the REPL's RSS after a
  proof is above it; the tier's ``memory_limit_mb`` also retires a REPL whose RSS grew past it
  between commands (it kills one that passes it during a command).

``base_env: first_proof`` reproduces pipelines that send no header command: a process's first
proof runs with the header in the same command, and later proofs run on *its* environment, so
its declarations leak into them (the state-leak canaries show it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import anyio

from calib_async.checkers.lean.messages import Severity
from calib_async.checkers.lean_repl.process import Exchange, ReplProcess
from calib_async.checkers.lean_repl.protocol import encode_command
from calib_async.checkers.lean_repl.source import Prepared
from calib_async.runner.spec import Termination


@dataclass(frozen=True, slots=True)
class Policy:
    """The reuse policy (see the module docstring)."""

    fresh: bool = False
    max_uses: int | None = None
    max_rss_mb: float | None = None
    base_env: str = "header"  # "header" | "first_proof"

    @property
    def name(self) -> str:
        if self.fresh:
            return "fresh"
        parts = ["warm"]
        if self.max_uses:
            parts.append(f"max_uses={self.max_uses}")
        if self.max_rss_mb:
            parts.append(f"max_rss_mb={self.max_rss_mb:g}")
        return ",".join(parts)


@dataclass(slots=True)
class _Slot:
    index: int
    starts: int = 0
    process: ReplProcess | None = None
    header_envs: dict[str, int] = field(default_factory=dict)
    uses: int = 0
    pending_reason: str | None = None  # why the previous process was retired


@dataclass(frozen=True, slots=True)
class PoolRun:
    """One proof through the pool, with its stages."""

    exchange: Exchange | None  # the proof command; None when a stage before it failed
    header_exchange: Exchange | None  # the cold import, when this proof paid it
    slot: int
    pid: int | None
    generation: int
    age_commands: int  # commands the process had answered before this proof (header included)
    header_state: str  # "cold" | "warm"
    queue_ms: float
    import_ms: float
    timeout_stage: str | None  # "queue" | "import" | "elaboration"
    restart_reason: str | None  # why this slot's previous process was retired
    retired: str | None  # why this proof's process was retired after it (None: kept)
    policy: str
    header_error: str | None = None
    command: Prepared | None = None


class ReplPool:
    """The slots and the policy. :meth:`run` is safe from many tasks at once."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        size: int,
        policy: Policy,
        sample_interval_s: float = 0.1,
    ) -> None:
        self.argv = tuple(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.policy = policy
        self.sample_interval_s = sample_interval_s
        self.slots = [_Slot(i) for i in range(size)]
        self._send, self._free = anyio.create_memory_object_stream[int](max_buffer_size=size)
        for i in range(size):
            self._send.send_nowait(i)
        self.spawned = 0  # processes started, over the pool's life
        self._closed = False

    async def run(
        self,
        prepared: Prepared,
        *,
        timeout_s: float,
        header_timeout_s: float,
        memory_limit_mb: float | None,
        queue_timeout_s: float | None = None,
        fresh_process: bool = False,
    ) -> PoolRun:
        """Check one prepared proof (see the module docstring).

        **Cancellation:** a REPL in the middle of the proof (or of its header) is killed and
        reaped (its state is unknown); the slot is free again and starts a new one next time.
        """
        waited = time.monotonic()
        index = None
        try:
            index = self._free.receive_nowait()  # a free slot: no trip through the loop
        except anyio.WouldBlock:
            limit = queue_timeout_s if queue_timeout_s is not None else math.inf
            with anyio.move_on_after(limit):
                index = await self._free.receive()
        queue_ms = (time.monotonic() - waited) * 1000
        if index is None:
            return PoolRun(
                None,
                None,
                -1,
                None,
                0,
                0,
                "cold",
                queue_ms,
                0.0,
                "queue",
                None,
                None,
                self.policy.name,
                command=prepared,
            )
        try:
            return await self._on_slot(
                self.slots[index],
                prepared,
                queue_ms,
                timeout_s,
                header_timeout_s,
                memory_limit_mb,
                fresh_process,
            )
        finally:
            self._send.send_nowait(index)

    async def _on_slot(
        self,
        slot: _Slot,
        prepared: Prepared,
        queue_ms: float,
        timeout_s: float,
        header_timeout_s: float,
        memory_limit_mb: float | None,
        fresh_process: bool,
    ) -> PoolRun:
        if slot.process is not None and (fresh_process or not slot.process.alive):
            reason = "escalation" if fresh_process and slot.process.alive else "exited"
            await self._retire(slot, reason)
        if slot.process is None:
            slot.process = ReplProcess(self.argv, env=self.env, cwd=self.cwd)
            slot.starts += 1
            self.spawned += 1
            slot.header_envs = {}
            slot.uses = 0
        process = slot.process
        restart_reason, slot.pending_reason = slot.pending_reason, None
        generation = slot.starts - 1
        age = process.commands
        leaky = self.policy.base_env == "first_proof"
        header_ex = None
        text = prepared.text
        command = prepared
        env = slot.header_envs.get(prepared.header)
        cold = env is None
        if cold and not leaky:
            header_ex = await process.exchange(
                encode_command(prepared.header),
                timeout_s=header_timeout_s,
                memory_limit_mb=memory_limit_mb,
                sample_interval_s=self.sample_interval_s,
            )
            problem = _header_problem(header_ex)
            if problem is not None:
                stage = "import" if header_ex.termination is Termination.TIMEOUT else None
                retired = await self._after(slot, header_ex, memory_limit_mb)
                return PoolRun(
                    None,
                    header_ex,
                    slot.index,
                    process.pid,
                    generation,
                    age,
                    "cold",
                    queue_ms,
                    header_ex.elapsed_ms,
                    stage,
                    restart_reason,
                    retired,
                    self.policy.name,
                    problem,
                    prepared,
                )
            assert header_ex.reply is not None
            env = header_ex.reply.env
            slot.header_envs[prepared.header] = env if env is not None else -1
        elif cold:  # leaky: the header rides along with the first proof
            lines = prepared.header.count("\n") + 1 if prepared.header else 0
            text = (prepared.header + "\n" if prepared.header else "") + prepared.text
            window = prepared.command.audit_window
            if window is not None:
                window = (window[0] + lines, window[1])
            command = replace(prepared, command=replace(prepared.command, audit_window=window))
        ex = await process.exchange(
            encode_command(text, env if env is not None and env >= 0 else None),
            timeout_s=timeout_s,
            memory_limit_mb=memory_limit_mb,
            sample_interval_s=self.sample_interval_s,
        )
        if cold and leaky and ex.reply is not None and ex.reply.env is not None:
            slot.header_envs[prepared.header] = ex.reply.env
        slot.uses += 1
        retired = await self._after(slot, ex, memory_limit_mb)
        stage = "elaboration" if ex.termination is Termination.TIMEOUT else None
        import_ms = header_ex.elapsed_ms if header_ex is not None else 0.0
        return PoolRun(
            ex,
            header_ex,
            slot.index,
            process.pid,
            generation,
            age,
            "cold" if cold else "warm",
            queue_ms,
            import_ms,
            stage,
            restart_reason,
            retired,
            self.policy.name,
            None,
            command,
        )

    async def _after(self, slot: _Slot, ex: Exchange, memory_limit_mb: float | None) -> str | None:
        """Apply the policy after a command; the reason the process was retired, or None."""
        reason = None
        if ex.termination is Termination.TIMEOUT:
            reason = "killed: timeout"
        elif ex.termination is Termination.MEMORY:
            reason = "killed: memory limit"
        elif ex.reply is None:
            reason = "crashed"
        elif self.policy.fresh:
            reason = "fresh policy"
        elif self.policy.max_uses and slot.uses >= self.policy.max_uses:
            reason = "max_uses"
        elif self.policy.max_rss_mb and ex.rss_after_mb > self.policy.max_rss_mb:
            reason = "max_rss_mb"
        elif memory_limit_mb and ex.rss_after_mb > memory_limit_mb:
            reason = "memory limit (between commands)"
        if reason is not None:
            await self._retire(slot, reason)
        return reason

    async def _retire(self, slot: _Slot, reason: str) -> None:
        process, slot.process = slot.process, None
        slot.pending_reason = reason
        if process is not None:
            await process.aclose()

    async def aclose(self) -> None:
        """Kill and reap every REPL; idempotent.

        **Cancellation:** shielded: it finishes, and no REPL survives it.
        """
        with anyio.CancelScope(shield=True):
            for slot in self.slots:
                process, slot.process = slot.process, None
                if process is not None:
                    await process.aclose()


def _header_problem(ex: Exchange) -> str | None:
    if ex.termination is Termination.TIMEOUT:
        return "the header import ran out of time"
    if ex.reply is None:
        return "the REPL died importing the header"
    if ex.reply.error is not None:
        return f"header: REPL error: {ex.reply.error[:200]}"
    errors = [m for m in ex.reply.messages if m.severity is Severity.ERROR]
    if errors:
        return f"header: {errors[0].header()}"
    return None
