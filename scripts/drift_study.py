#!/usr/bin/env python3
"""A machine that changes under the run (issue 27): status and coverage, by simulation.

One tier, ``--items`` items run once each in a random (interleaved) order, one run every
0.5 s. Item i has a typical duration exp(N(log 1 s, 0.8)); each run multiplies it by
exp(N(0, 0.2)) and by the machine's slowdown at that moment. Budget 4 s (about 5 % timeouts
on a steady machine). 80 % of items are valid; an invalid one fails unless it times out;
every run is labelled (the conditional rates are then point-identified, so a steady tier is
``ok``). Scenarios:

* ``steady``: slowdown 1 throughout (false alarms);
* ``drift 2x``: the slowdown grows linearly from 1 to 2 over the run;
* ``burst, load flat``: slowdown 3 in the middle third, the load average flat (I/O, memory
  bandwidth, a neighbour VM);
* ``burst, in load``: the same burst, with the load average at 15 instead of 2 during it.

For each: the share of repetitions whose tier status is not ``ok`` (and which status), and
when ``ok``, whether the exported timeout-rate interval covers the run-averaged truth (the
timeout probability averaged over the run, by Monte Carlo with 200 000 draws).

Usage: python scripts/drift_study.py [--reps 200] [--items 300] [--seed 2027]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from calib_async.records import Outcome
from calib_async.stats.record_arrays import OUTCOME_CODE, LabelColumns, RunColumns
from calib_async.stats.tier_fit import fit_tier

BUDGET_MS = 4000.0
SPACING_S = 0.5

Slowdown = Callable[[np.ndarray], np.ndarray]  # run position in [0, 1) -> factor


def _burst(position: np.ndarray) -> np.ndarray:
    return np.where((position >= 1 / 3) & (position < 2 / 3), 3.0, 1.0)


SCENARIOS: dict[str, tuple[Slowdown, bool]] = {
    "steady": (lambda x: np.ones_like(x), False),
    "drift 2x": (lambda x: 1.0 + x, False),
    "burst, load flat": (_burst, False),
    "burst, in load": (_burst, True),
}


def simulate(
    slow: Slowdown, load_follows: bool, items: int, rng: np.random.Generator
) -> tuple[RunColumns, LabelColumns]:
    position = rng.permutation(items) / items  # interleaved: item i runs at position[i]
    typical = np.exp(rng.normal(np.log(1000.0), 0.8, items))
    duration = typical * np.exp(rng.normal(0, 0.2, items)) * slow(position)
    killed = duration > BUDGET_MS
    valid = rng.random(items) < 0.8
    outcome = np.where(
        killed,
        OUTCOME_CODE[Outcome.VERIFIER_TIMEOUT.value],
        np.where(valid, OUTCOME_CODE[Outcome.VERIFIED.value], OUTCOME_CODE[Outcome.PROOF_INVALID]),
    ).astype(np.int8)
    load = rng.normal(2.0, 0.3, items)
    if load_follows:
        load = load + 13.0 * (slow(position) > 1)
    measured = np.where(killed, BUDGET_MS + rng.uniform(5, 50, items), duration)
    runs = RunColumns(
        item=np.arange(items),
        outcome=outcome,
        timed_out=killed,
        duration_ms=measured,
        timeout_ms=np.full(items, BUDGET_MS),
        load_avg_1m=load,
        concurrency=np.full(items, 2.0),
        started_s=position * items * SPACING_S,
    )
    labels = LabelColumns(item=np.arange(items), outcome=outcome, truth=valid.astype(np.int8))
    return runs, labels


def run_averaged_truth(slow: Slowdown, rng: np.random.Generator, draws: int = 200_000) -> float:
    position = rng.random(draws)
    typical = np.exp(rng.normal(np.log(1000.0), 0.8, draws))
    duration = typical * np.exp(rng.normal(0, 0.2, draws)) * slow(position)
    return float((duration > BUDGET_MS).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"items={args.items} reps={args.reps} seed={args.seed} budget={BUDGET_MS / 1000:g} s")
    for name, (slow, load_follows) in SCENARIOS.items():
        truth = run_averaged_truth(slow, rng)
        statuses: Counter[str] = Counter()
        covered = ok = 0
        started = time.perf_counter()
        for _ in range(args.reps):
            runs, labels = simulate(slow, load_follows, args.items, rng)
            fit = fit_tier("T", BUDGET_MS / 1000, runs, labels, bootstrap=0, rng=rng)
            statuses[fit.status] += 1
            if fit.status == "ok":
                ok += 1
                lo, hi = fit.timeout_rate.ci or (1.0, 0.0)
                covered += lo <= truth <= hi
        not_ok = 1 - statuses["ok"] / args.reps
        coverage = f"{covered / ok:.3f} ({ok} ok)" if ok else "– (none ok)"
        print(
            f"{name:18s} truth={truth:.3f} not_ok={not_ok:.3f} "
            f"statuses={dict(sorted(statuses.items()))} coverage_when_ok={coverage} "
            f"[{time.perf_counter() - started:.0f} s]"
        )


if __name__ == "__main__":
    main()
