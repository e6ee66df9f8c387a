"""Throughput of the scheduler against xargs and the plan's ProcessPoolExecutor design.

2000 runs of /bin/true at concurrency 8 through the full path (spawn, wait4, sampling,
classification, telemetry record, canonical JSONL append; the runner's one spawn path),
interleaved with
``xargs -P 8 -n 1 /bin/true`` and ``ProcessPoolExecutor(8)`` + ``subprocess.run``; median of 3.
Prints runs/s, ratios, and the orchestrator's own CPU ms per run.

    python scripts/bench_scheduler.py [--runs 2000] [--workers 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import anyio

from calib_async.backends import running
from calib_async.backends.local import LocalBackend
from calib_async.checkers.command.profile import CommandVerifier
from calib_async.checkers.oneshot import one_shot_checkers
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import CheckpointWriter
from calib_async.cli.logs import configure_logging
from calib_async.config.schema import parse_verifier
from calib_async.records import CorpusItem, Task, Tier
from calib_async.runner.sampler import TreeSampler
from calib_async.telemetry.scheduler import Scheduler


class _NoCgroupBackend(LocalBackend):
    async def start(self) -> None:
        self._sampler = TreeSampler(interval_s=0.2, cgroups=False)
        await self._sampler.__aenter__()


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bench_xargs(runs: int, workers: int) -> tuple[float, float]:
    data = ("x\n" * runs).encode()
    t0, c0 = time.perf_counter(), self_cpu()
    subprocess.run(["xargs", "-P", str(workers), "-n", "1", "/bin/true"], input=data, check=True)
    return time.perf_counter() - t0, self_cpu() - c0


def _one(_: int) -> int:
    return subprocess.run(["/bin/true"], check=False).returncode


def bench_pool(runs: int, workers: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), self_cpu()
    with ProcessPoolExecutor(workers) as pool:
        for _ in pool.map(_one, range(runs), chunksize=1):
            pass
    return time.perf_counter() - t0, self_cpu() - c0


def bench_scheduler(
    runs: int, workers: int, tmp: Path, *, cgroups: bool | None = None
) -> tuple[float, float]:
    profile = parse_verifier(
        "true", {"command": ["/bin/true"], "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}
    )
    verifiers = {"true": CommandVerifier(profile)}
    tier = Tier(name="FAST", timeout_s=10.0, verifier="true", grace_s=0.2)
    items = [CorpusItem(f"item{i}", f"M.item{i}", "/dev/null", f"{i:064x}") for i in range(runs)]
    log = tmp / f"bench-{time.monotonic_ns()}.jsonl"

    prepare_log(log, {"bench": "scheduler"}, resume=False, fresh=False)

    async def main() -> int:
        count = 0
        with CheckpointWriter(log) as writer:
            backend = LocalBackend()
            if cgroups is False:  # the runner without its per-run cgroups
                backend = _NoCgroupBackend()
            checkers = one_shot_checkers(verifiers, backend)
            async with running(backend), Scheduler(
                checkers=checkers, workers=workers
            ) as scheduler:
                tasks = (Task(item, tier, "true") for item in items)
                async for record in scheduler.map(tasks):
                    writer.append(record.to_dict())
                    assert record.outcome == "VERIFIED", record  # a fast wrong run is no result
                    count += 1
        return count

    t0, c0 = time.perf_counter(), self_cpu()
    done = anyio.run(main)
    elapsed, cpu = time.perf_counter() - t0, self_cpu() - c0
    assert done == runs, (done, runs)
    log.unlink()
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    configure_logging(level="WARNING")  # as the CLI does at its default level
    results: dict[str, list[tuple[float, float]]] = {
        "xargs": [],
        "pool": [],
        "calib": [],
        "nocg": [],
    }
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeats):  # interleaved, so machine noise hits all alike
            results["xargs"].append(bench_xargs(args.runs, args.workers))
            results["pool"].append(bench_pool(args.runs, args.workers))
            results["calib"].append(bench_scheduler(args.runs, args.workers, Path(d)))
            results["nocg"].append(bench_scheduler(args.runs, args.workers, Path(d), cgroups=False))
    rate = {k: args.runs / statistics.median(t for t, _ in v) for k, v in results.items()}
    names = {
        "xargs": f"xargs -P {args.workers} -n 1 /bin/true",
        "pool": f"ProcessPoolExecutor({args.workers}) + subprocess.run (plan)",
        "calib": "calib-async scheduler (full path)",
        "nocg": "calib-async, no per-run cgroup",
    }
    print(f"{args.runs} runs of /bin/true at concurrency {args.workers}, median of {args.repeats}")
    for key in ("xargs", "pool", "calib", "nocg"):
        print(f"  {names[key]:<58} {rate[key]:8.0f} runs/s")
    print(f"  ratio calib/xargs = {rate['calib'] / rate['xargs']:.2f}  (goal >= 0.8)")
    print(f"  ratio calib/pool  = {rate['calib'] / rate['pool']:.2f}")
    print(f"  ratio no-cgroup/xargs = {rate['nocg'] / rate['xargs']:.2f}")
    for key in ("calib", "nocg"):
        cpu_ms = statistics.median(c for _, c in results[key]) * 1000 / args.runs
        print(f"  orchestrator CPU per run ({names[key]}) = {cpu_ms:.3f} ms  (goal <= 1.0 ms)")


if __name__ == "__main__":
    main()
