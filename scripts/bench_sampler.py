"""CPU used by the tree sampler with 8 live checkers (goal: at most 1% of a core at 200 ms).

Starts 8 checkers through ``run_process_measured`` (each ``sh`` with two ``sleep`` children, so
24 live tree members), lets the sampler tick for ``--seconds``, and prints:
  * the driver's CPU over that window with the sampler at ``--interval`` and, interleaved, with
    sampling effectively off (the event loop idles the same way), and the difference as % of a core;
  * the same while an unrelated process keeps creating processes (about 100/s), so that every
    tick has to list /proc (the quiet case skips that when no pid was allocated);
  * the cost of one scan (``TreeSampler.scan``) against one tick of the psutil way
    (``children(recursive=True)`` + ``memory_info`` per root), and their ratio.

Usage: python scripts/bench_sampler.py [--interval 0.2] [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import signal
import statistics
import subprocess
import time

import anyio
import psutil

from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecSpec

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
N_CHECKERS = 8


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def window(
    interval: float, seconds: float, noise: bool = False
) -> tuple[float, list[int], TreeSampler]:
    """Driver CPU seconds over ``seconds`` with 8 live checkers; also the roots and the sampler."""
    churn = "while :; do /bin/true; sleep 0.01; done"
    noisy = subprocess.Popen(["sh", "-c", churn], start_new_session=True) if noise else None
    spec = ExecSpec(("sh", "-c", "sleep 600 & sleep 600 & wait"), timeout_s=600, env=ENV)
    async with TreeSampler(interval_s=interval) as sampler, anyio.create_task_group() as tg:
        for _ in range(N_CHECKERS):
            tg.start_soon(functools.partial(run_process_measured, spec, sampler=sampler))
        while len(sampler._by_root) < N_CHECKERS:  # wait for the spawns (bench only)
            await anyio.sleep(0.01)
        await anyio.sleep(0.3)  # children forked and adopted
        c0 = cpu_s()
        await anyio.sleep(seconds)
        used = cpu_s() - c0
        roots = list(sampler._by_root)
        members = sum(len(t.members) for t in sampler._by_root.values())
        scan_us = time_scans(sampler)
        psutil_us = time_psutil(roots)
        tg.cancel_scope.cancel()
    if noisy is not None:
        os.killpg(noisy.pid, signal.SIGKILL)
        noisy.wait()
    return used, [members, scan_us, psutil_us], sampler


def time_scans(sampler: TreeSampler, n: int = 200) -> int:
    t0 = time.process_time()
    for _ in range(n):
        sampler.scan()
    return round((time.process_time() - t0) / n * 1e6)


def time_psutil(roots: list[int], n: int = 50) -> int:
    t0 = time.process_time()
    for _ in range(n):
        for root in roots:
            try:
                procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
                sum(p.memory_info().rss for p in procs)
            except psutil.NoSuchProcess:
                pass
    return round((time.process_time() - t0) / n * 1e6)


async def main(interval: float, seconds: float, rounds: int) -> None:
    on, off, noisy, extra = [], [], [], []
    for _ in range(rounds):  # interleaved
        used, info, _ = await window(interval, seconds)
        on.append(used)
        extra.append(info)
        used, _, _ = await window(3600.0, seconds)
        off.append(used)
        used, _, _ = await window(interval, seconds, noise=True)
        noisy.append(used)
    on_ms, off_ms = statistics.median(on) * 1000, statistics.median(off) * 1000
    noisy_ms = statistics.median(noisy) * 1000
    members = extra[-1][0]
    scan_us = statistics.median(e[1] for e in extra)
    psutil_us = statistics.median(e[2] for e in extra)
    print(
        f"{N_CHECKERS} live checkers, {members} tree members, {len(os.listdir('/proc'))} /proc "
        f"entries, interval {interval} s, window {seconds} s, median of {rounds}"
    )
    print(f"  driver CPU, sampler on : {on_ms:8.1f} ms  ({on_ms / seconds / 10:.3f}% of a core)")
    print(f"  driver CPU, sampler off: {off_ms:8.1f} ms  ({off_ms / seconds / 10:.3f}% of a core)")
    share = (on_ms - off_ms) / seconds / 10
    print(f"  sampler share          : {share:.3f}% of a core (goal <= 1%)")
    share = (noisy_ms - off_ms) / seconds / 10
    print(f"  sampler share, /proc listed every tick (process churn): {share:.3f}% of a core")
    ticks = seconds / interval
    print(
        f"  per tick in the window : {(on_ms - off_ms) / ticks * 1000:.0f} µs quiet,"
        f" {(noisy_ms - off_ms) / ticks * 1000:.0f} µs with churn"
    )
    print(f"  one scan, back to back (warm caches, no listing): {scan_us} µs")
    print(
        f"  psutil children(recursive=True) per root, one tick: {psutil_us} µs"
        f"  (ratio psutil/scan: {psutil_us / max(scan_us, 1):.1f})"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    anyio.run(main, a.interval, a.seconds, a.rounds)
