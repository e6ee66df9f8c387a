"""Check the default demo over several seeds against issue 13's acceptance.

Run the demo first, one output directory per seed, e.g. for S in 1..10::

    calibrate_noise --tiers FAST BALANCED SLOW --n 100 --corpus synthetic \\
        --export DIR/sS.yaml --output-dir DIR/oS --seed S --no-progress

then ``python scripts/check_demo_seeds.py DIR``. It prints how many runs passed validation,
in how many tiers the implied timeout rate at the budget lies inside the observed rate's CI,
and how many recommended timeouts lie below a budget at which the observed (training) timeout
rate already exceeds its target.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from calib_async.stats.record_arrays import split_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    tot = dict(runs=0, passed=0, tiers=0, inside=0, misfit=0, recs=0, unreachable=0,
               extrapolated=0, below_observed=0)  # fmt: skip
    for path in sorted(args.directory.glob("s*.yaml")):
        seed = int(path.stem[1:])
        doc = yaml.safe_load(path.read_text())
        tot["runs"] += 1
        tot["passed"] += doc["validation_report"]["passed"] is True
        log = args.directory / f"o{seed}" / "telemetry.jsonl"
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        runs = [r for r in rows if "tier" in r]
        items = tuple(sorted({r["item_id"] for r in runs}))
        held = split_items(items, doc["calibration_metadata"]["validation_split"], seed)
        held_ids = {i for i, h in zip(items, held, strict=True) if h}
        for name, model in doc["noise_models"].items():
            dist, ci = model["timeout_distribution"], model["timeout_rate_ci"]
            tot["tiers"] += 1
            tot["inside"] += ci[0] <= dist["timeout_rate_at_budget"] <= ci[1]
            tot["misfit"] += dist["status"] == "misfit"
            train = [
                r for r in runs
                if r["tier"].lower() == name and r["phase"] == "telemetry"
                and r["item_id"] not in held_ids
            ]  # fmt: skip
            for target, rec in model["timeout_recommendations"].items():
                tot["recs"] += 1
                budget = rec["timeout_s"]
                if budget is None:
                    tot["unreachable"] += 1
                    continue
                tot["extrapolated"] += bool(rec["extrapolated"])
                if budget <= model["timeout_s"]:
                    limit_ms = budget * 1000 + 0.01  # the log rounds durations to 0.01 ms
                    over = sum(
                        r["outcome"] == "VERIFIER_TIMEOUT" or r["duration_ms"] > limit_ms
                        for r in train
                    )
                    tot["below_observed"] += over / len(train) > float(target) + 1e-9
    print(tot)


if __name__ == "__main__":
    main()
