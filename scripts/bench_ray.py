"""Throughput of the Ray backend against the local one, for a trivial checker (/bin/true).

Each round runs ``--runs`` checks through the full scheduler path (spawn, measure, classify,
record) with the local backend, then with the Ray backend on a local Ray, then as bare Ray tasks
that only ``subprocess.run(["/bin/true"])`` (Ray's own floor, the issue's 276-440/s baseline);
rounds are interleaved, median of ``--repeats``. ``ray.init`` is timed once, separately, and
excluded from the rates. Prints runs/s and the ratios.

    python scripts/bench_ray.py [--runs 300] [--workers 8] [--repeats 3] [--num-cpus N]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import time

import anyio

from calib_async.backends import Backend, running
from calib_async.backends.local import LocalBackend
from calib_async.backends.ray import RayBackend
from calib_async.checkers.command.profile import CommandVerifier
from calib_async.checkers.oneshot import one_shot_checkers
from calib_async.cli.logs import configure_logging
from calib_async.config.schema import parse_verifier
from calib_async.records import CorpusItem, Outcome, Task, Tier
from calib_async.telemetry.scheduler import Scheduler


def scheduler_rate(backend: Backend, runs: int, workers: int) -> float:
    profile = parse_verifier(
        "true", {"command": ["/bin/true"], "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}
    )
    verifiers = {"true": CommandVerifier(profile)}
    tier = Tier(name="FAST", timeout_s=10.0, verifier="true", grace_s=0.2)
    items = [CorpusItem(f"i{i}", f"M.i{i}", "/dev/null", f"{i:064x}") for i in range(runs)]

    async def main() -> float:
        checkers = one_shot_checkers(verifiers, backend)
        async with running(backend), Scheduler(checkers=checkers, workers=workers) as s:
            t0 = time.perf_counter()
            n = 0
            async for record in s.map(Task(item, tier, "true") for item in items):
                assert record.outcome == Outcome.VERIFIED, record
                n += 1
            elapsed = time.perf_counter() - t0
        assert n == runs
        return runs / elapsed

    return anyio.run(main)


def _bare_true() -> int:
    return subprocess.run(["/bin/true"], check=False).returncode


def bare_ray_rate(ray: object, runs: int, num_cpus: float) -> float:
    task = ray.remote(num_cpus=num_cpus)(_bare_true)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    codes = ray.get([task.remote() for _ in range(runs)])  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - t0
    assert codes == [0] * runs
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8, help="scheduler concurrency")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-cpus", type=float, default=1.0, help="Ray CPUs per task")
    args = parser.parse_args()
    configure_logging(level="WARNING")

    import ray

    t0 = time.perf_counter()
    ray.init(
        num_cpus=os.cpu_count() or 1,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    init_s = time.perf_counter() - t0
    try:
        # warm-up: worker processes, imports in the workers, the remote function's export
        scheduler_rate(RayBackend(num_cpus=args.num_cpus), 20, args.workers)
        scheduler_rate(LocalBackend(), 20, args.workers)
        bare_ray_rate(ray, 20, args.num_cpus)
        rates: dict[str, list[float]] = {"local": [], "ray": [], "bare ray task": []}
        for _ in range(args.repeats):
            rates["local"].append(scheduler_rate(LocalBackend(), args.runs, args.workers))
            ray_backend = RayBackend(num_cpus=args.num_cpus)
            rates["ray"].append(scheduler_rate(ray_backend, args.runs, args.workers))
            rates["bare ray task"].append(bare_ray_rate(ray, args.runs, args.num_cpus))
    finally:
        ray.shutdown()

    med = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"{args.runs} runs of /bin/true, scheduler workers={args.workers}, Ray num_cpus per task="
        f"{args.num_cpus:g} on {os.cpu_count()} CPUs, median of {args.repeats}"
    )
    print(f"ray.init (local, excluded below): {init_s:.2f} s")
    for name, values in rates.items():
        spread = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {name:<14} {med[name]:7.0f} runs/s   ({spread})")
    print(f"  ratio ray / local         {med['ray'] / med['local']:.2f}")
    print(f"  ratio ray / bare ray task {med['ray'] / med['bare ray task']:.2f}")


if __name__ == "__main__":
    main()
