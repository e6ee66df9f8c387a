#!/usr/bin/env python3
"""Runaways against heavy tails, with and without the escalation ladders (issue 27).

One tier of ``--items`` runs (``calib_async.stats.duration_sim``); the ground-truth stage
labels ``--labels`` runs of the tier by stratified sampling, and every sampled killed run is
re-run at 2x, 4x, 8x, 10x the budget until it finishes (the re-run takes the item's own
latent duration). Each repetition fits the tier's timeout model twice, side by side: on the
tier's runs alone (``no ladders``) and with the ladders (``ladders``,
``calib_async.stats.escalations``). Scenarios:

* ``heavy tail``: log-logistic (fisk, shape 2, scale 300 ms), budget 800 ms (12 % killed),
  no runaways; the true 1 % budget is 2.98 s, inside the ladder's reach (8 s);
* ``10% runaways``: Weibull (1.5, 300 ms) with 10 % of runs that never finish;
* ``1% runaways, heavy censoring`` and ``5% runaways, heavy censoring``: the same Weibull
  at a 300 ms budget (about 37 % of runs killed).

Per scenario and fit: coverage of the true floor h + (1 - h) pi by ``floor_ci``, the mean
and bias of the floor estimate, how often a cure model is chosen, how often the floor is
identified, and per target (5 %, 1 %) how often it is reachable, beside whether it truly is.

Usage: python scripts/runaway_study.py [--reps 200] [--items 500] [--labels 300]
       [--bootstrap 49] [--seed 2027] [--only SUBSTRING] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

import numpy as np

from calib_async.stats.duration_sim import DurationScenario, simulate_ladders, simulate_runs
from calib_async.stats.timeouts import TierTimeouts, fit_tier_timeouts

TARGETS = (0.05, 0.01)
SCENARIOS = (
    DurationScenario("heavy tail", "fisk", {"shape": 2.0, "scale": 300.0}),
    DurationScenario("10% runaways", cure=0.10),
    DurationScenario("1% runaways, heavy censoring", cure=0.01, timeout_ms=300.0),
    DurationScenario("5% runaways, heavy censoring", cure=0.05, timeout_ms=300.0),
)


@dataclass
class Tally:
    covered: int = 0
    floors: list[float] = field(default_factory=list)
    cure: int = 0
    identified: int = 0
    reachable: dict[float, int] = field(default_factory=lambda: dict.fromkeys(TARGETS, 0))
    non_monotone: int = 0

    def add(self, t: TierTimeouts, truth: float) -> None:
        lo, hi = t.floor_ci or (math.nan, math.nan)
        self.covered += int(lo - 1e-12 <= truth <= hi + 1e-12)
        self.floors.append(t.floor)
        chosen = t.model.chosen if t.model else None
        self.cure += int(chosen is not None and chosen.cure and t.status == "ok")
        self.identified += int(t.floor_identified)
        budgets = {r.target: r.timeout_s for r in t.recommendations}
        for r in TARGETS:
            self.reachable[r] += int(budgets[r] is not None)
        small, large = budgets[0.01], budgets[0.05]
        if small is not None and (large is None or small < large):
            self.non_monotone += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--labels", type=int, default=300)
    ap.add_argument("--bootstrap", type=int, default=49)
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--only", default="", help="run the scenarios whose name contains this")
    ap.add_argument(
        "--skip-baseline", action="store_true", help="fit with the ladders only (half the time)"
    )
    args = ap.parse_args()
    print(
        f"items={args.items} labels={args.labels} reps={args.reps} "
        f"bootstrap={args.bootstrap} seed={args.seed}"
    )
    for k, sc in enumerate(SCENARIOS):
        if args.only not in sc.name:
            continue
        tallies = {"no ladders": Tally(), "ladders": Tally()}
        escalated = []
        start = time.perf_counter()
        for rep in range(args.reps):
            rng = np.random.default_rng([args.seed, k, rep])
            runs = simulate_runs(sc, args.items, rng)
            ladders = simulate_ladders(sc, runs, args.labels, rng)
            escalated.append(np.unique(ladders.item).size)
            for name, lad in (("no ladders", None), ("ladders", ladders)):
                if lad is None and args.skip_baseline:
                    continue
                t = fit_tier_timeouts(
                    runs,
                    sc.timeout_ms / 1000.0,
                    bootstrap=args.bootstrap,
                    rng=np.random.default_rng([args.seed, k, rep, 1]),
                    targets=TARGETS,
                    ladders=lad,
                    replicates=0,
                )
                tallies[name].add(t, sc.floor)
        n = args.reps
        truly = {r: r > sc.floor for r in TARGETS}
        print(
            f"\n{sc.name}: true floor {sc.floor:g}, timeout rate at the budget "
            f"{sc.timeout_rate(sc.timeout_ms):.3f}, killed runs re-run per repetition "
            f"{np.mean(escalated):.1f} ({time.perf_counter() - start:.0f} s)"
        )
        print(
            f"  {'fit':<11} {'floor cov':>9} {'mean floor':>10} {'bias':>8} {'cure':>6} "
            f"{'identif':>7} {'reach 5%':>9} {'reach 1%':>9} {'non-monot':>9}"
        )
        for name, tl in tallies.items():
            if not tl.floors:
                continue
            mean = float(np.mean(tl.floors))
            print(
                f"  {name:<11} {tl.covered / n:>9.3f} {mean:>10.4f} {mean - sc.floor:>+8.4f} "
                f"{tl.cure / n:>6.2f} {tl.identified / n:>7.2f} "
                f"{tl.reachable[0.05] / n:>9.2f} {tl.reachable[0.01] / n:>9.2f} "
                f"{tl.non_monotone:>9d}"
            )
        print(
            "  truly reachable: "
            + ", ".join(f"{r:g}: {'yes' if truly[r] else 'no'}" for r in TARGETS)
        )


if __name__ == "__main__":
    main()
