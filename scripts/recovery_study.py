#!/usr/bin/env python3
"""Parameter-recovery study for stages 4-5 (issue 6): do the statistics tell the truth?

Simulates records in-process with ``calib_async.stats.simulate`` (latent model mirroring the
simulated checker: per-item validity, per-run Weibull/lognormal durations censored at each
tier's timeout, spurious fail/pass probabilities, labels sampled stratified by (tier,
observed outcome) with Horvitz–Thompson weights and missing-at-random UNDETERMINED timeouts),
runs the real ``fit_and_validate`` on them, and prints:

| measure | goal |
| coverage of every exported CI | 0.94-0.96 |
| relative bias of spurious rates under stratified labelling | < 10 % |
| AIC picks the true duration family (n = 2000, ~10 % censoring) | >= 90 % |
| validation false-alarm rate (perfect model) | <= 6 % |

plus the GOF bootstrap's rejection rate under the true model (should be about 5 %).

Rate scenarios (issue 13, ``calib_async.stats.scenarios``; ``--only-rates``): undetermined
labels at random, invalid items that crash every checker (undetermined *not* at random),
every sampled timeout undetermined, a label sample below 3 x the strata, strata of 1-3
labels. Goals: every exported CI covers the truth >= 93 %; relative bias < 10 % where the
rate is point-identified.

Label-error scenarios (wrong reference labels): scripts/label_error_study.py.

Usage: python scripts/recovery_study.py [--reps 400] [--aic-reps 200] [--gof-reps 60]
       python scripts/recovery_study.py --only-rates [--rate-reps 100] [--rate-scenario NAME]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections import defaultdict

import numpy as np
import structlog

from calib_async.records import Outcome, Truth
from calib_async.stats import fit_and_validate
from calib_async.stats.durations import censor_durations, fit_duration_model, frozen
from calib_async.stats.gof import goodness_of_fit
from calib_async.stats.scenarios import RATE_SCENARIOS, run_rate_scenario
from calib_async.stats.simulate import SimModel, simulate

RATES = (
    "timeout_rate",
    "spurious_fail_rate",
    "spurious_pass_rate",
    "timeout_given_valid",
    "timeout_given_invalid",
)
FAILS = {Outcome.PROOF_INVALID.value, Outcome.MEMORY_LIMIT_EXCEEDED.value, "VERIFIER_ERROR"}


def naive_rates(labeled: list, tier: str) -> dict[str, float]:
    """The plan's estimator: labelled sample treated as a simple random sample."""
    valid = [
        lr.record.outcome for lr in labeled if lr.record.tier == tier and lr.truth == Truth.VERIFIED
    ]
    invalid = [
        lr.record.outcome for lr in labeled if lr.record.tier == tier and lr.truth == Truth.INVALID
    ]
    return {
        "spurious_fail_rate": sum(o in FAILS for o in valid) / max(len(valid), 1),
        "spurious_pass_rate": sum(o == "VERIFIED" for o in invalid) / max(len(invalid), 1),
    }


def coverage_study(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    model = SimModel()
    truth = model.truth()
    covered: dict[tuple[str, str], list[bool]] = defaultdict(list)
    estimates: dict[tuple[str, str], list[float]] = defaultdict(list)
    naive: dict[tuple[str, str], list[float]] = defaultdict(list)
    missing: dict[tuple[str, str], int] = defaultdict(int)
    passed, rejected = [], defaultdict(int)
    for r in range(args.reps):
        telemetry, labeled = simulate(model, args.items, args.labels, rng)
        fit = fit_and_validate(
            telemetry,
            labeled,
            tiers=model.config_tiers(),
            validation_split=0.2,
            seed=args.seed + r,
            bootstrap=0,
        )
        passed.append(fit.validation.passed)
        if (r + 1) % 50 == 0:
            print(f"  coverage study: {r + 1}/{args.reps}", file=sys.stderr, flush=True)
        for name in fit.validation.rejected:
            rejected[name] += 1
        for tier, tf in fit.tiers.items():
            for rate in RATES:
                est = tf.rate(rate)
                if est.ci is None:
                    missing[tier, rate] += 1
                    continue
                covered[tier, rate].append(est.ci[0] <= truth[tier][rate] <= est.ci[1])
                estimates[tier, rate].append(est.rate)
            train_labels = [lr for lr in labeled if lr.record.item_id not in fit.held_out_items]
            for rate, value in naive_rates(train_labels, tier).items():
                naive[tier, rate].append(value)
    return {
        "truth": truth,
        "covered": covered,
        "estimates": estimates,
        "naive": naive,
        "missing": missing,
        "passed": passed,
        "rejected": rejected,
    }


def aic_study(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, float]:
    truths = {
        "weibull_min": {"shape": 1.5, "scale": 300.0},
        "lognorm": {"shape": 0.8, "scale": 200.0},
        "gamma": {"shape": 2.0, "scale": 150.0},
        "expon": {"scale": 250.0},
    }
    out = {}
    n = 2000
    for family, params in truths.items():
        rv = frozen(family, params)
        limit = float(rv.isf(0.10))
        hits = 0
        for _ in range(args.aic_reps):
            d = rv.rvs(size=n, random_state=rng)
            killed = d > limit
            data = censor_durations(np.where(killed, limit, d), killed, np.full(n, limit))
            chosen = fit_duration_model(data).chosen
            hits += chosen is not None and chosen.family == family
        out[family] = hits / args.aic_reps
    return out


def gof_study(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, float]:
    rv_params = {"shape": 1.5, "scale": 300.0}
    rv = frozen("weibull_min", rv_params)
    n, limit = 1000, float(rv.isf(0.10))
    rejections, inside = 0, 0
    for _ in range(args.gof_reps):
        d = rv.rvs(size=n, random_state=rng)
        killed = d > limit
        data = censor_durations(np.where(killed, limit, d), killed, np.full(n, limit))
        model = fit_duration_model(data)
        gof = goodness_of_fit(
            data,
            model.chosen,
            budgets_ms=np.full(n, limit),
            timeout_ms=limit,
            n_wall_timeouts=int(killed.sum()),
            bootstrap=99,
            rng=rng,
        )
        rejections += gof.p_value is not None and gof.p_value <= 0.05
        inside += bool(gof.implied_inside_ci)
    return {"reject_rate": rejections / args.gof_reps, "inside_rate": inside / args.gof_reps}


def duration_scenarios_study(args: argparse.Namespace, rng: np.random.Generator) -> list[dict]:
    """Issue 13's duration scenarios: runaways, checker-reported timeouts, both, neither.

    Per scenario (``calib_async.stats.duration_sim.SCENARIOS``, n runs at an 800 ms budget):
    does AIC pick a cure model exactly when there are runaways, does the implied timeout rate
    at the budget lie inside the observed rate's CI, and do the exported intervals of the
    rate at the budget and of the floor h + (1 - h) pi cover the truth (over the fits that
    export them: status ``ok``), with their relative bias.
    """
    from calib_async.stats.duration_sim import SCENARIOS, simulate_runs
    from calib_async.stats.timeouts import OK, fit_tier_timeouts

    rows = []
    for sc in SCENARIOS:
        truth_rate, truth_floor = sc.timeout_rate(sc.timeout_ms), sc.floor
        acc: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.duration_reps):
            runs = simulate_runs(sc, args.duration_n, rng)
            fit = fit_tier_timeouts(
                runs, sc.timeout_ms / 1000, bootstrap=args.duration_bootstrap, rng=rng
            )
            chosen = fit.model.chosen if fit.model else None
            acc["aic_right"].append(chosen is not None and chosen.cure == (sc.cure > 0))
            acc["implied_inside"].append(bool(fit.gof and fit.gof.implied_inside_ci))
            acc["ok"].append(fit.status == OK)
            rate = fit.predicted_rate(sc.timeout_ms)
            acc["rate_bias"].append(rate / truth_rate - 1 if rate is not None else math.nan)
            if fit.rate_ci is not None:
                acc["rate_cov"].append(fit.rate_ci[0] <= truth_rate <= fit.rate_ci[1])
            if fit.floor_ci is not None:
                acc["floor_cov"].append(fit.floor_ci[0] <= truth_floor <= fit.floor_ci[1])
            if truth_floor > 0 and fit.floor is not None and fit.status == OK:
                acc["floor_bias"].append(fit.floor / truth_floor - 1)
        rows.append(
            {"scenario": sc.name, "truth_rate": truth_rate, "truth_floor": truth_floor}
            | {k: float(np.nanmean(v)) if v else math.nan for k, v in acc.items()}
            | {"n_floor_ci": len(acc["floor_cov"])}
        )
    return rows


def report_durations(args: argparse.Namespace, rows: list[dict], seconds: float) -> None:
    print(
        f"## Duration scenarios ({args.duration_reps} reps x {args.duration_n} runs, "
        f"GOF bootstrap B = {args.duration_bootstrap}; goals: AIC right, implied inside "
        "observed CI, coverage >= 0.93, |bias| < 10 %)"
    )
    print(
        "| scenario | true rate@T | true floor | AIC cure right | implied in obs CI | "
        "status ok | rate CI cov | floor CI cov | rate bias | floor bias |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['truth_rate']:.4f} | {r['truth_floor']:.3f} | "
            f"{r['aic_right']:.3f} | {r['implied_inside']:.3f} | {r['ok']:.3f} | "
            f"{r.get('rate_cov', math.nan):.3f} | {r.get('floor_cov', math.nan):.3f} | "
            f"{r['rate_bias']:+.3f} | {r.get('floor_bias', math.nan):+.3f} |"
        )
    print(f"\nelapsed: duration scenarios {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400, help="repetitions of the full fit")
    parser.add_argument("--aic-reps", type=int, default=200, help="repetitions per family")
    parser.add_argument("--gof-reps", type=int, default=60, help="GOF bootstrap repetitions")
    parser.add_argument("--items", type=int, default=1000, help="items per repetition")
    parser.add_argument("--labels", type=int, default=300, help="labels per tier")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--duration-reps", type=int, default=100, help="reps per scenario")
    parser.add_argument("--duration-n", type=int, default=1000, help="runs per duration rep")
    parser.add_argument("--duration-bootstrap", type=int, default=49, help="GOF bootstrap B")
    parser.add_argument("--only-durations", action="store_true", help="duration scenarios only")
    parser.add_argument("--rate-reps", type=int, default=100, help="reps per rate scenario")
    parser.add_argument("--rate-scenario", action="append", choices=sorted(RATE_SCENARIOS))
    parser.add_argument("--only-rates", action="store_true", help="rate scenarios only")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    rng = np.random.default_rng(args.seed)
    if args.only_rates:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
        rate_scenarios_study(args, rng)
        return
    if args.only_durations:
        t0 = time.perf_counter()
        rows = duration_scenarios_study(args, rng)
        report_durations(args, rows, time.perf_counter() - t0)
        return

    t0 = time.perf_counter()
    cov = coverage_study(args, rng)
    t1 = time.perf_counter()
    aic = aic_study(args, rng)
    t2 = time.perf_counter()
    gof = gof_study(args, rng)
    t3 = time.perf_counter()
    report(args, cov, aic, gof, (t1 - t0, t2 - t1, t3 - t2))


def rate_scenarios_study(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """Coverage, bounds and bias of every exported rate in each rate scenario."""
    names = args.rate_scenario or list(RATE_SCENARIOS)
    reps = args.rate_reps
    print(f"# Rate scenarios: {reps} repetitions each, 20 % held out")
    summary = []
    for name in names:
        sc = RATE_SCENARIOS[name]
        t0 = time.perf_counter()
        res = run_rate_scenario(sc, reps, rng, seed=args.seed)
        print(f"\n## {name}: {sc.description} ({sc.items} items, {sc.labels_per_tier} labels/tier)")
        print(
            f"{'tier':9} {'rate':22} {'truth':>7} {'cover':>6} {'in bnds':>7} {'width':>6} "
            f"{'rel.bias':>8} {'no pt':>5}  statuses"
        )
        covs, biases = [], []
        for key in sorted(res.statuses):
            tier, rate = key
            cov, bias, inb = res.coverage(key), res.bias(key), res.in_bounds[key]
            covs.append(cov)
            statuses = dict(res.statuses[key])
            if bias is not None and statuses.get("ok", 0) == reps:
                biases.append(abs(bias))  # identified, enough labels, in every repetition
            width = np.mean(res.widths[key]) if res.widths[key] else math.nan
            print(
                f"{tier:9} {rate:22} {res.truth[tier][rate]:7.4f} {cov:6.3f} "
                + (f"{np.mean(inb):7.2f} " if inb else f"{'-':>7} ")
                + f"{width:6.3f} "
                + (f"{bias:+8.3f} " if bias is not None else f"{'-':>8} ")
                + f"{reps - len(res.estimates[key]):5d}  {statuses}"
            )
        summary.append((name, min(covs), float(np.mean(covs)), max(biases, default=None)))
        print(
            f"validation passed {np.mean(res.passed):.2f}, weak {np.mean(res.validation_weak):.2f}"
            f"; {time.perf_counter() - t0:.0f} s"
        )
    print("\n## Rate scenarios summary (goals: coverage >= 0.93; |bias| < 10 % if identified)")
    print("| scenario | min coverage | mean coverage | max abs rel. bias (status ok) |")
    print("|---|---|---|---|")
    for name, lo, mean, bias in summary:
        b = "- (no rate ok in every rep)" if bias is None else f"{bias:.1%}"
        print(f"| {name} | {lo:.3f} | {mean:.3f} | {b} |")


def report(args, cov, aic, gof, times) -> None:
    truth = cov["truth"]
    mc_se = math.sqrt(0.95 * 0.05 / args.reps)
    print(
        f"# Recovery study: {args.reps} repetitions x {args.items} items x 3 tiers, "
        f"{args.labels} labels/tier, 20 % held out (MC s.e. of a coverage ~ {mc_se:.3f})"
    )
    print()
    print("## Coverage of every exported CI (goal 0.94-0.96)")
    print(f"{'tier':9} {'rate':22} {'truth':>8} {'coverage':>9} {'rel.bias':>9} {'n/a':>4}")
    all_cov = []
    for (tier, rate), hits in sorted(cov["covered"].items()):
        c = float(np.mean(hits))
        all_cov.append(c)
        bias = float(np.mean(cov["estimates"][tier, rate])) / truth[tier][rate] - 1
        print(
            f"{tier:9} {rate:22} {truth[tier][rate]:8.4f} {c:9.3f} {bias:+9.3f} "
            f"{cov['missing'][tier, rate]:4d}"
        )
    print()
    print("## Relative bias of spurious rates (goal |bias| < 10 %)")
    print(f"{'tier':9} {'rate':22} {'stratified':>11} {'naive (plan)':>13}")
    worst = 0.0
    for tier in truth:
        for rate in ("spurious_fail_rate", "spurious_pass_rate"):
            t = truth[tier][rate]
            strat = float(np.mean(cov["estimates"][tier, rate])) / t - 1
            naive = float(np.mean(cov["naive"][tier, rate])) / t - 1
            worst = max(worst, abs(strat))
            print(f"{tier:9} {rate:22} {strat:+11.3f} {naive:+13.3f}")
    print()
    print("## AIC picks the true family (n = 2000, 10 % censored; goal >= 0.90)")
    for family, rate in aic.items():
        print(f"{family:12} {rate:.3f}  ({args.aic_reps} reps)")
    print()
    false_alarm = 1 - float(np.mean(cov["passed"]))
    print("## Validation false-alarm rate under the perfect model (goal <= 0.06)")
    print(f"{false_alarm:.3f}  ({args.reps} reps); rejected tests: {dict(cov['rejected'])}")
    print()
    print("## GOF (KM sup distance, parametric bootstrap B = 99) under the true model")
    print(
        f"rejection rate at 0.05: {gof['reject_rate']:.3f}; implied S(T) inside Wilson CI: "
        f"{gof['inside_rate']:.3f}  ({args.gof_reps} reps)"
    )
    print()
    print("## Summary")
    print("| measure | goal | result |")
    print("|---|---|---|")
    print(
        f"| coverage of every exported CI | 0.94-0.96 | {min(all_cov):.3f}-{max(all_cov):.3f} "
        f"(mean {np.mean(all_cov):.3f}) |"
    )
    print(f"| relative bias of spurious rates (stratified) | < 10 % | max {worst:.1%} |")
    print(
        f"| AIC picks true family, n=2000 ~10 % censored | >= 90 % | "
        f"{min(aic.values()):.1%}-{max(aic.values()):.1%} |"
    )
    print(f"| validation false-alarm rate | <= 6 % | {false_alarm:.1%} |")
    print(f"\nelapsed: coverage {times[0]:.0f} s, AIC {times[1]:.0f} s, GOF {times[2]:.0f} s")


if __name__ == "__main__":
    main()
