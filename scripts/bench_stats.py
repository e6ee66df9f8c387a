#!/usr/bin/env python3
"""Benchmark stages 4-5 (``calib_async.stats.fit_and_validate``) against issue 6's goals.

1. 3 tiers x 100k synthetic records, no bootstrap: goal <= 10 s and <= 1 GB peak.
2. 3 tiers x 10k records, bootstrap B = 199: goal <= 60 s.

Records are simulated in-process (``calib_async.stats.simulate``); building them is not
timed. Peak memory is reported two ways: the stage's own peak of Python/numpy allocations
(tracemalloc, measured in a separate untimed run because tracing slows Python code), and the
process's peak RSS (``resource.getrusage``), which also holds the input records.

Usage: python scripts/bench_stats.py [--large 100000] [--small 10000] [--bootstrap 199]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import resource
import time
import tracemalloc

import numpy as np
import structlog

from calib_async.stats import fit_and_validate
from calib_async.stats.simulate import SimModel, simulate


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run(n_items: int, labels: int, bootstrap: int, seed: int, trace: bool) -> tuple[float, float]:
    model = SimModel()
    telemetry, labeled = simulate(model, n_items, labels, np.random.default_rng(seed))
    gc.collect()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    fit = fit_and_validate(
        telemetry,
        labeled,
        tiers=model.config_tiers(),
        validation_split=0.2,
        seed=seed,
        bootstrap=bootstrap,
    )
    elapsed = time.perf_counter() - t0
    peak = 0.0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert all(t.status == "ok" for t in fit.tiers.values()), "benchmark fit incomplete"
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000, help="records per tier, no bootstrap")
    parser.add_argument("--small", type=int, default=10_000, help="records per tier, bootstrap")
    parser.add_argument("--bootstrap", type=int, default=199)
    parser.add_argument("--labels", type=int, default=1000, help="labelled records per tier")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(f"# stats benchmark (cpus: {os.cpu_count()}, load avg: {os.getloadavg()[0]:.1f})")

    large_time, _ = run(args.large, args.labels, 0, args.seed, trace=False)
    rss = _rss_mb()
    _, large_peak = run(args.large, args.labels, 0, args.seed, trace=True)
    print(f"3 x {args.large} records, no bootstrap:")
    print(f"  time       {large_time:7.2f} s   goal <= 10 s   ratio {large_time / 10:.2f}")
    print(
        f"  peak alloc {large_peak:7.0f} MiB goal <= 1024 MiB ratio {large_peak / 1024:.2f}"
        "  (tracemalloc, stages 4-5 only)"
    )
    print(
        f"  peak RSS   {rss:7.0f} MiB goal <= 1024 MiB ratio {rss / 1024:.2f}"
        "  (whole process, incl. the input records)"
    )

    small_time, _ = run(args.small, args.labels, args.bootstrap, args.seed + 1, trace=False)
    print(f"3 x {args.small} records, bootstrap B = {args.bootstrap}:")
    print(f"  time       {small_time:7.2f} s   goal <= 60 s   ratio {small_time / 60:.2f}")
    print(f"# load avg after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
