#!/usr/bin/env python3
"""Coverage of the recommended timeouts' bootstrap intervals (issue 27), by simulation.

One tier of ``--items`` runs (``calib_async.stats.duration_sim``) with the ground-truth
stage's escalation ladders (``--labels`` labelled runs; sampled killed runs re-run at 2x ...
10x the budget). Each repetition fits the tier (``calib_async.stats.timeouts``) and
bootstraps the items (``--replicates``) for an interval on each recommended budget
(``calib_async.stats.recommend_ci``). Scenarios (budget 800 ms unless named):

* ``weibull``: Weibull (1.5, 300 ms), no runaways;
* ``heavy tail``: log-logistic (shape 2, scale 300 ms), no runaways;
* ``reported 4%``: the Weibull with 4 % timeouts the checker reports itself (floor 0.04);
* ``5% runaways``: the Weibull with 5 % runs that never finish (floor 0.05).

Per scenario and target (10 %, 5 %, 1 %): the true budget (None where the target is at or
below the true floor), the coverage of the interval where the budget exists, the median
relative error of the point recommendation, how often it is reachable, and how often the
interval's upper end is ``unreachable``. Every repetition's recommendations and interval
ends are checked to be monotone in the target; the count of violations is printed and the
script fails if any.

Usage: python scripts/recommend_ci_study.py [--reps 200] [--items 500] [--labels 300]
       [--bootstrap 49] [--replicates 99] [--seed 2027] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time

import numpy as np

from calib_async.stats.duration_sim import DurationScenario, simulate_ladders, simulate_runs
from calib_async.stats.durations import frozen
from calib_async.stats.recommendation import Recommendation
from calib_async.stats.timeouts import fit_tier_timeouts

TARGETS = (0.10, 0.05, 0.01)
SCENARIOS = (
    DurationScenario("weibull"),
    DurationScenario("heavy tail", "fisk", {"shape": 2.0, "scale": 300.0}),
    DurationScenario("reported 4%", reported=0.04),
    DurationScenario("5% runaways", cure=0.05),
)


def true_budget_s(sc: DurationScenario, target: float) -> float | None:
    """The smallest budget whose true timeout rate is at most ``target`` (None: none)."""
    if target <= sc.floor + 1e-12:
        return None
    h, pi = sc.reported, sc.cure
    base = ((target - h) / (1 - h) - pi) / (1 - pi)
    return float(frozen(sc.family, sc.params).isf(base)) / 1000.0


def monotone(recs: tuple[Recommendation, ...]) -> bool:
    """Budgets and interval ends never shrink as the target shrinks (inf: unreachable)."""
    by = sorted(recs, key=lambda r: -r.target)
    points = [math.inf if r.timeout_s is None else r.timeout_s for r in by]
    lows = [r.ci[0] if r.ci else math.nan for r in by]
    highs = [r.ci[1] if r.ci else math.nan for r in by]
    return all(
        all(b >= a for a, b in itertools.pairwise(seq) if not math.isnan(a + b))
        for seq in (points, lows, highs)
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--labels", type=int, default=300)
    ap.add_argument("--bootstrap", type=int, default=49)
    ap.add_argument("--replicates", type=int, default=99)
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--only", default="", help="run the scenarios whose name contains this")
    args = ap.parse_args()
    print(
        f"items={args.items} labels={args.labels} reps={args.reps} bootstrap={args.bootstrap} "
        f"replicates={args.replicates} seed={args.seed}"
    )
    violations = 0
    for k, sc in enumerate(SCENARIOS):
        if args.only not in sc.name:
            continue
        truth = {r: true_budget_s(sc, r) for r in TARGETS}
        covered = dict.fromkeys(TARGETS, 0)
        reachable = dict.fromkeys(TARGETS, 0)
        open_top = dict.fromkeys(TARGETS, 0)
        errors: dict[float, list[float]] = {r: [] for r in TARGETS}
        bad = 0
        start = time.perf_counter()
        for rep in range(args.reps):
            rng = np.random.default_rng([args.seed, k, rep])
            runs = simulate_runs(sc, args.items, rng)
            ladders = simulate_ladders(sc, runs, args.labels, rng)
            t = fit_tier_timeouts(
                runs,
                sc.timeout_ms / 1000.0,
                bootstrap=args.bootstrap,
                rng=np.random.default_rng([args.seed, k, rep, 1]),
                targets=TARGETS,
                ladders=ladders,
                replicates=args.replicates,
            )
            bad += int(not monotone(t.recommendations))
            for r in t.recommendations:
                lo, hi = r.ci or (math.nan, math.nan)
                true = truth[r.target]
                reachable[r.target] += int(r.timeout_s is not None)
                open_top[r.target] += int(math.isinf(hi))
                if true is not None:
                    covered[r.target] += int(lo <= true <= hi)
                    if r.timeout_s is not None:
                        errors[r.target].append(r.timeout_s / true - 1.0)
        violations += bad
        n = args.reps
        print(
            f"\n{sc.name}: floor {sc.floor:g}, budget {sc.timeout_ms / 1000:g} s, "
            f"{time.perf_counter() - start:.0f} s; non-monotone repetitions {bad} of {n}"
        )
        print(
            f"  {'target':>6} {'true s':>7} {'coverage':>8} {'med rel err':>11} "
            f"{'reachable':>9} {'upper unreach':>13}"
        )
        for r in TARGETS:
            true = truth[r]
            med = f"{float(np.median(errors[r])):+.3f}" if errors[r] else "–"
            cov = f"{covered[r] / n:.3f}" if true is not None else "–"
            shown = f"{true:.3f}" if true is not None else "none"
            print(
                f"  {r:>6g} {shown:>7} {cov:>8} {med:>11} {reachable[r] / n:>9.2f} "
                f"{open_top[r] / n:>13.2f}"
            )
    print(f"\nnon-monotone repetitions in all: {violations}")
    if violations:
        sys.exit(1)


if __name__ == "__main__":
    main()
