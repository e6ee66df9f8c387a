"""Per-command overhead of the lean_repl checker kind against a bare client loop.

Both sides drive the same stand-in REPL (tests/fixtures/repl/standin_repl.py) at the same pool
size, with one worker per REPL, on proofs that take ``--command-ms`` inside the REPL:

  bare     a minimal client per REPL: write ``{"cmd": ..., "env": 0}`` and a blank line, read
           until the reply's blank line; nothing measured, nothing classified.
  kind     ``LeanReplChecker.check(task)`` (warm policy): slot queue, per-command CPU/RSS
           deltas and window peak, both pipes drained, the reply classified by the Lean rules,
           the observation built. The item file is read and prepared per check, as in a run.

Rounds alternate bare/kind (the machine is shared: interleaving spreads its noise over both);
the median of the rounds is printed as commands/s with the ratio kind/bare. The goal is a ratio
of at least 0.9 on 1 ms commands at pool size 2. The script also checks that the warm path
starts no process after the warm-up (``spawned`` stays at the pool size).

Usage: python scripts/bench_repl_overhead.py [--commands 400] [--rounds 5] [--pool-size 2]
           [--command-ms 1] [--backend asyncio|trio]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from anyio.abc import Process

from calib_async.backends.local import LocalBackend
from calib_async.checkers.api import OpenContext
from calib_async.checkers.lean_repl import KIND
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Outcome, Task, Tier

STANDIN = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "repl" / "standin_repl.py"
HEADER = "import Mathlib"


def proof(ms: float) -> str:
    return f"theorem t : True := by\n  -- standin: sleep {ms:g}\n  trivial\n"


async def _ask(proc: Process, payload: bytes) -> bytes:
    assert proc.stdin is not None and proc.stdout is not None
    await proc.stdin.send(payload)
    buf = b""
    while b"\n\n" not in buf:
        buf += await proc.stdout.receive()
    return buf


async def bare(commands: int, pool: int, ms: float) -> tuple[float, float]:
    """(commands/s, driver CPU µs per command) of the bare loop (REPLs started and warmed
    before the clock starts)."""
    import json

    argv = [sys.executable, str(STANDIN)]
    procs = [await anyio.open_process(argv) for _ in range(pool)]
    try:
        for p in procs:
            await _ask(p, json.dumps({"cmd": HEADER}).encode() + b"\n\n")
        payload = json.dumps({"cmd": proof(ms), "env": 0}).encode() + b"\n\n"
        left = [commands]

        async def worker(p: Process) -> None:
            while left[0] > 0:
                left[0] -= 1
                await _ask(p, payload)

        start, cpu = time.perf_counter(), time.process_time()
        async with anyio.create_task_group() as tg:
            for p in procs:
                tg.start_soon(worker, p)
        cpu_us = (time.process_time() - cpu) / commands * 1e6
        return commands / (time.perf_counter() - start), cpu_us
    finally:
        for p in procs:
            p.kill()
            await p.wait()
            await p.aclose()


async def kind(commands: int, pool: int, ms: float, tmp: Path) -> tuple[float, float, int]:
    """(commands/s, driver CPU µs per command, processes started) of the checker kind."""
    config = VerifierConfig(
        name="repl",
        kind="lean_repl",
        command=(sys.executable, str(STANDIN)),
        options={"header": HEADER, "pool_size": pool},
    )
    checker = KIND.open(config, OpenContext(work_dir=tmp, backend=LocalBackend()))
    path = tmp / "t.lean"
    path.write_text(f"{HEADER}\n{proof(ms)}")
    item = CorpusItem(item_id="t", module_name="t", path=str(path), content_hash="0" * 64)
    task = Task(item=item, tier=Tier(name="T", timeout_s=30, verifier="repl"), verifier="repl")
    try:
        async with anyio.create_task_group() as tg:  # warm-up: one cold proof per slot
            for _ in range(pool):
                tg.start_soon(checker.check, task)
        left = [commands]

        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                obs = await checker.check(task)
                assert obs.verdict.outcome is Outcome.VERIFIED, obs.verdict
                assert obs.details["header"] == "warm"

        start, cpu = time.perf_counter(), time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(pool):
                tg.start_soon(worker)
        rate = commands / (time.perf_counter() - start)
        cpu_us = (time.process_time() - cpu) / commands * 1e6
        return rate, cpu_us, checker.pool.spawned
    finally:
        await checker.aclose()


async def main(args: argparse.Namespace) -> int:
    bare_rates: list[float] = []
    kind_rates: list[float] = []
    bare_cpu: list[float] = []
    kind_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.rounds):
            rate, cpu_us = await bare(args.commands, args.pool_size, args.command_ms)
            bare_rates.append(rate)
            bare_cpu.append(cpu_us)
            rate, cpu_us, spawned = await kind(
                args.commands, args.pool_size, args.command_ms, Path(d)
            )
            kind_rates.append(rate)
            kind_cpu.append(cpu_us)
            if spawned != args.pool_size:
                print(f"FAIL: the warm path started {spawned - args.pool_size} extra processes")
                return 1
    b, k = statistics.median(bare_rates), statistics.median(kind_rates)
    bc, kc = statistics.median(bare_cpu), statistics.median(kind_cpu)
    print(
        f"pool size {args.pool_size}, {args.command_ms:g} ms commands, {args.commands} commands"
        f" x {args.rounds} rounds ({args.backend}), load average {os.getloadavg()[0]:.1f}"
    )
    for name, rate, cpu, rates in (
        ("bare loop", b, bc, bare_rates),
        ("lean_repl", k, kc, kind_rates),
    ):
        listed = ", ".join(f"{r:.0f}" for r in rates)
        print(f"  {name}  {rate:8.1f} commands/s  driver CPU {cpu:6.0f} us/command  ({listed})")
    print(f"  ratio lean_repl/bare: {k / b:.3f} (goal >= 0.9)")
    print(f"  driver CPU overhead of the kind: {kc - bc:.0f} us per command")
    print(f"  processes started by the kind: {args.pool_size} (the warm-up), none after")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument("--command-ms", type=float, default=1.0)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    ns = parser.parse_args()
    sys.exit(anyio.run(main, ns, backend=ns.backend))
