#!/usr/bin/env python3
"""False-alarm rate and power of ``calibrate_noise compare`` on exports fitted by stage 4.

Each repetition simulates two independent runs with ``calib_async.stats.simulate`` (stratified
labels with Horvitz–Thompson weights and undetermined timeouts, so the conditional rates go
through the interval-based test), fits each with the real ``fit_and_validate`` (bootstrap 0),
round-trips the export through YAML and compares them:

* null: both runs from the same model -> share of repetitions with any significant
  difference (``--fail-on any``), goal <= alpha;
* power: B's spurious-pass probability doubled in one tier -> share of repetitions that flag
  that tier's ``spurious_pass_rate`` as worse.

Issue 27: a comparison that misses the doubling no longer prints ``same`` but "not significant
(smallest detectable difference X)"; the script counts those lines and reports the median X.

Measured before issue 27 (seed 2026): 500 items, 150 labels/tier, 200 reps: false alarm
0.025, power 0.08; 2000 items, 600 labels/tier, 100 reps: false alarm 0.030, power 0.50
(FAST 0.2 -> 0.4).

Usage: python scripts/compare_study.py [--reps 100] [--items 500] [--labels 150]
       [--tier FAST] [--alpha 0.05]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

import numpy as np
import structlog
import yaml

from calib_async.stats import fit_and_validate
from calib_async.stats.compare import SUPPORTED_SCHEMA, FailOn, compare_calibrations
from calib_async.stats.simulate import SimModel, simulate


def export(model: SimModel, items: int, labels: int, rng: np.random.Generator, seed: int) -> dict:
    telemetry, labeled = simulate(model, items, labels, rng)
    fit = fit_and_validate(
        telemetry, labeled, tiers=model.config_tiers(), validation_split=0.2, seed=seed,
        bootstrap=0,
    )  # fmt: skip
    body = fit.to_export()
    doc = {
        "calibration_metadata": {"schema_version": SUPPORTED_SCHEMA},
        "validation_report": body["validation_report"],
        "noise_models": body["noise_models"],
    }
    return yaml.safe_load(yaml.safe_dump(doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--labels", type=int, default=150, help="labelled runs per tier")
    ap.add_argument("--tier", default="FAST", help="tier whose spurious-pass rate doubles")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    base = SimModel()
    worse = dataclasses.replace(
        base,
        tiers=tuple(
            dataclasses.replace(t, p_spurious_pass=2 * t.p_spurious_pass)
            if t.name == args.tier
            else t
            for t in base.tiers
        ),
    )
    rng = np.random.default_rng(args.seed)
    alarms = hits = said_mdd = said_same = 0
    mdds: list[float] = []
    methods: dict[str, int] = {}
    start = time.perf_counter()
    for r in range(args.reps):
        a = export(base, args.items, args.labels, rng, 3 * r)
        b_null = export(base, args.items, args.labels, rng, 3 * r + 1)
        b_worse = export(worse, args.items, args.labels, rng, 3 * r + 2)
        null = compare_calibrations(a, b_null, alpha=args.alpha)
        alarms += bool(null.failures(FailOn.ANY))
        for row in null.rows:
            methods[row.method] = methods.get(row.method, 0) + 1
        worse_result = compare_calibrations(a, b_worse, alpha=args.alpha)
        flagged = worse_result.failures(FailOn.WORSE)
        hits += any(f.tier == args.tier and f.rate == "spurious_pass_rate" for f in flagged)
        row = next(
            x for x in worse_result.rows if x.tier == args.tier and x.rate == "spurious_pass_rate"
        )
        said_same += row.verdict.value == "same"
        if row.verdict.value == "not_significant":
            said_mdd += "smallest detectable difference" in row.note
            if row.mdd is not None:
                mdds.append(row.mdd)
    spp = {t.name: t.p_spurious_pass for t in base.tiers}[args.tier]
    print(
        f"reps {args.reps}, items {args.items}, labels/tier {args.labels}, alpha {args.alpha} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    print(f"rows by method (null comparisons): {methods}")
    print(f"false-alarm rate (any significant difference, same model): {alarms / args.reps:.3f}")
    print(
        f"power ({args.tier} spurious pass {spp:g} -> {2 * spp:g} per finished invalid run, "
        f"flagged worse): {hits / args.reps:.3f}"
    )
    missed = args.reps - hits
    print(
        f"missed doublings: {missed}; of them printed 'not significant (smallest detectable "
        f"difference X)': {said_mdd}, printed 'same': {said_same}; median X "
        f"{float(np.median(mdds)) if mdds else float('nan'):.3f}"
    )


if __name__ == "__main__":
    main()
