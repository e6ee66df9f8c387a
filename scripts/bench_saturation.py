"""Core saturation with a CPU-bound checker: calib-async against ``xargs -P <cores>``.

The checker burns a fixed amount of CPU (``--cpu-s``, default 0.5 s of ``time.process_time`` in a
busy loop of a fresh Python). ``--runs`` of them (default 8 per core) go through the full
calib-async path (Scheduler, LocalBackend with its sampler and per-run cgroup, the spawn path
with its limits, classification, telemetry record, canonical JSONL append, the progress listener)
with ``workers`` = cores, and through ``xargs -P <cores>``; rounds are interleaved so that machine
noise hits both alike. Per round it prints

    saturation = sum of the checkers' CPU / (cores x wall)

for both, their ratio, and the 1-minute load average when the round started (on a machine
that other work loads, absolute saturation says little; the ratio is the figure to read).
The checkers' CPU is what the telemetry records say for calib-async (``cpu_time_ms``, wait4)
and RUSAGE_CHILDREN around the ``xargs`` call for xargs (which adds xargs' own few ms). Each
xargs checker is started through ``setsid`` (its own session, as calib-async's checkers; see
``bench_xargs``).

    python scripts/bench_saturation.py [--cpu-s 0.5] [--runs 16] [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from rich.console import Console

from calib_async.backends import running
from calib_async.backends.local import LocalBackend
from calib_async.checkers.command.profile import CommandVerifier
from calib_async.checkers.oneshot import one_shot_checkers
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.writing import CheckpointWriter
from calib_async.cli.logs import configure_logging
from calib_async.cli.progress import ProgressDisplay
from calib_async.config.schema import parse_verifier
from calib_async.records import CorpusItem, Task, Tier
from calib_async.telemetry.scheduler import Scheduler

PYTHON = shutil.which("python3") or sys.executable
SETSID = [p] if (p := shutil.which("setsid")) else []
BURN = "import time\ne = time.process_time() + {cpu}\nwhile time.process_time() < e:\n    pass\n"


def checker_argv(cpu_s: float) -> list[str]:
    return [PYTHON, "-S", "-c", BURN.format(cpu=cpu_s)]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_xargs(argv: list[str], runs: int, workers: int) -> tuple[float, float]:
    """(wall s, checkers' CPU s) of ``runs`` checkers under ``xargs -P workers``."""
    data = "".join("x\n" for _ in range(runs)).encode()
    # xargs appends the input word as one more argument; the checker ignores it. Each checker
    # gets its own session, as calib-async gives it: with sched_autogroup_enabled a session is
    # its own scheduling group, and on a machine other work loads, checkers sharing xargs'
    # session would get less CPU for that reason alone.
    cmd = ["xargs", "-P", str(workers), "-n", "1", *SETSID, *argv]
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run(cmd, input=data, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, children_cpu() - c0


def bench_calib(argv: list[str], runs: int, workers: int, tmp: Path) -> tuple[float, float]:
    """(wall s, sum of the records' cpu_time_ms in s) through the full calib-async path."""
    profile = parse_verifier(
        "burn", {"command": argv, "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}
    )
    verifiers = {"burn": CommandVerifier(profile)}
    tier = Tier(name="CPU", timeout_s=600.0, verifier="burn", grace_s=0.5)
    items = [CorpusItem(f"i{i}", f"M.i{i}", "/dev/null", f"{i:064x}") for i in range(runs)]
    log = tmp / f"saturation-{time.monotonic_ns()}.jsonl"
    prepare_log(log, {"bench": "saturation"}, resume=False, fresh=False)
    # disabled display (not a terminal): counts per event, logs a plain line now and then
    progress = ProgressDisplay(console=Console(file=io.StringIO()), tiers=["CPU"], enabled=False)
    cpu_ms = 0.0

    async def main() -> int:
        nonlocal cpu_ms
        done = 0
        with CheckpointWriter(log) as writer, progress:
            backend = LocalBackend()
            checkers = one_shot_checkers(verifiers, backend)
            async with running(backend), Scheduler(
                checkers=checkers, workers=workers, listeners=[progress]
            ) as scheduler:
                async for record in scheduler.map(Task(item, tier, "burn") for item in items):
                    writer.append(record.to_dict())
                    assert record.outcome == "VERIFIED", record
                    cpu_ms += record.cpu_time_ms
                    done += 1
        return done

    t0 = time.perf_counter()
    done = anyio.run(main)
    wall = time.perf_counter() - t0
    assert done == runs, (done, runs)
    log.unlink()
    return wall, cpu_ms / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-s", type=float, default=0.5, help="CPU seconds per checker run")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--runs", type=int, default=None, help="runs per round (default 8/core)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cores = args.workers
    runs = args.runs or 8 * cores
    configure_logging(level="WARNING")  # as the CLI does at its default level
    argv = checker_argv(args.cpu_s)
    print(
        f"{runs} runs of a {args.cpu_s:g} s CPU busy loop, workers = {cores}, "
        f"{args.rounds} interleaved rounds"
    )
    print(f"  {'round':<6} {'load1':>6} {'xargs':>7} {'calib':>7} {'calib/xargs':>12}")
    sat: dict[str, list[float]] = {"xargs": [], "calib": []}
    with tempfile.TemporaryDirectory() as d:
        for k in range(args.rounds):
            load = os.getloadavg()[0]
            order = ("xargs", "calib") if k % 2 == 0 else ("calib", "xargs")
            for name in order:
                if name == "xargs":
                    wall, cpu = bench_xargs(argv, runs, cores)
                else:
                    wall, cpu = bench_calib(argv, runs, cores, Path(d))
                sat[name].append(cpu / (cores * wall))
            x, c = sat["xargs"][-1], sat["calib"][-1]
            print(f"  {k + 1:<6} {load:6.2f} {x:7.3f} {c:7.3f} {c / x:12.3f}")
    x, c = statistics.median(sat["xargs"]), statistics.median(sat["calib"])
    ratios = [c / x for c, x in zip(sat["calib"], sat["xargs"], strict=True)]
    print(f"  median saturation: xargs {x:.3f}, calib-async {c:.3f} (goal >= 0.95)")
    print(f"  median ratio calib/xargs per round = {statistics.median(ratios):.3f} (goal >= 0.97)")


if __name__ == "__main__":
    main()
