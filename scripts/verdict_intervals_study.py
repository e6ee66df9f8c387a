"""Coverage of the verdict's two intervals (calib_async.stats.verdict_intervals), by simulation.

1. Youden's J = 1 − spurious-fail − spurious-pass, MOVER from two Wilson intervals (the
   rates are estimated on disjoint labelled runs): coverage of the true J and bias of the
   point estimate, over (n valid, n invalid) and true rates, including rates at 0.
2. The recommended timeout's order-statistic interval: coverage of the true (1 − r)-quantile
   of run durations (lognormal runs, a runaway share that never finishes, runs killed at the
   tier's timeout counted as longer than any budget), with an upper end beyond the timeout
   counted as covering when the true quantile is beyond it too.

    python scripts/verdict_intervals_study.py            # the figures in the docs
    python scripts/verdict_intervals_study.py --reps 50  # a quick run (CI uses a tiny one)
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats

from calib_async.stats.rates import wilson_interval
from calib_async.stats.verdict_intervals import budget_interval, youden_j

J_CASES = [  # (n valid, n invalid, spurious fail, spurious pass)
    (20, 10, 0.0, 0.0),
    (20, 10, 0.05, 0.3),
    (60, 30, 0.1, 0.1),
    (60, 30, 0.02, 0.5),
    (200, 100, 0.05, 0.05),
]
BUDGET_CASES = [  # (runs, runaway share, target, timeout in units of the median)
    (30, 0.0, 0.05, 4.0),
    (80, 0.02, 0.05, 4.0),
    (80, 0.0, 0.01, 4.0),
    (200, 0.03, 0.05, 2.0),
]


def j_coverage(reps: int, rng: np.random.Generator, level: float) -> list[str]:
    out = []
    for nv, ni, sf, sp in J_CASES:
        hits, errors = 0, []
        for _ in range(reps):
            kf, kp = rng.binomial(nv, sf), rng.binomial(ni, sp)
            j, ci = youden_j(
                kf / nv, wilson_interval(kf, nv, level), kp / ni, wilson_interval(kp, ni, level)
            )
            assert j is not None and ci is not None
            hits += ci[0] <= 1 - sf - sp <= ci[1]
            errors.append(j - (1 - sf - sp))
        out.append(
            f"J  n=({nv:3d} valid, {ni:3d} invalid) sf={sf:.2f} sp={sp:.2f}: "
            f"coverage {hits / reps:.3f}, bias {np.mean(errors):+.4f}"
        )
    return out


def budget_coverage(reps: int, rng: np.random.Generator, level: float) -> list[str]:
    out = []
    sigma = 0.6
    for n, runaway, target, timeout in BUDGET_CASES:
        # true quantile: P(D > t) = runaway + (1 - runaway) S(t) = target
        base = (target - runaway) / (1 - runaway)
        truth = float(stats.lognorm(sigma).isf(base)) if base > 0 else math.inf
        hits = 0
        for _ in range(reps):
            durations = stats.lognorm(sigma).rvs(size=n, random_state=rng)
            never = rng.random(n) < runaway
            runs = [
                None if (x > timeout or nv) else float(x)
                for x, nv in zip(durations, never, strict=True)
            ]
            interval = budget_interval(runs, target, level)
            assert interval is not None
            low, high = interval
            low_ok = low is None or low <= truth
            high_ok = truth <= high if high is not None else True  # beyond the timeout
            hits += low_ok and high_ok
        out.append(
            f"budget n={n:3d} runaway={runaway:.2f} target={target:.2f} timeout={timeout:g}: "
            f"coverage {hits / reps:.3f} (true quantile {truth:.3g})"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"nominal {args.level}, {args.reps} repetitions per case, seed {args.seed}")
    for line in j_coverage(args.reps, rng, args.level) + budget_coverage(
        args.reps, rng, args.level
    ):
        print(line)


if __name__ == "__main__":
    main()
