"""Per-tier ``flips`` and ``load`` blocks of the export, from the replicate and load runs.

* ``flips`` (with ``--replicates``): each sampled item's runs at the tier are its stage-2 run
  (phase telemetry, attempt 0) and its replicates; :func:`~calib_async.stats.flips.flip_statistics`.
* ``load`` (with ``--load-levels``): the tier's load-experiment runs, timeout = outcome
  VERIFIER_TIMEOUT; :func:`~calib_async.stats.load_fit.fit_load` with each run's block
  (level, round; the round is the run's attempt), plus the block order.

A tier gets a key only when its experiment ran. Pure: no processes, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from calib_async.records import Outcome, Phase, TelemetryRecord, Tier
from calib_async.stats.flips import flip_statistics
from calib_async.stats.load_fit import fit_load


def runs_by_item(
    telemetry: Sequence[TelemetryRecord], replicates: Sequence[TelemetryRecord], tier: str
) -> dict[str, list[str]]:
    """Outcomes per replicated item at ``tier``: the stage-2 run first, then replicates."""
    reps: dict[str, list[TelemetryRecord]] = defaultdict(list)
    for r in replicates:
        if r.tier == tier and r.phase == Phase.REPLICATE.value:
            reps[r.item_id].append(r)
    first = {
        r.item_id: r.outcome
        for r in telemetry
        if r.tier == tier and r.phase == Phase.TELEMETRY.value and r.attempt == 0
    }
    out: dict[str, list[str]] = {}
    for item_id in sorted(reps):
        outcomes: list[str] = [first[item_id]] if item_id in first else []
        outcomes += [r.outcome for r in sorted(reps[item_id], key=lambda r: r.attempt)]
        out[item_id] = outcomes
    return out


def stability_models(
    telemetry: Sequence[TelemetryRecord],
    replicates: Sequence[TelemetryRecord],
    load_runs: Sequence[TelemetryRecord],
    *,
    tiers: Sequence[Tier],
    block_order: Sequence[tuple[str, int]] = (),
) -> dict[str, dict[str, Any]]:
    """Tier name -> {"flips": ..., "load": ...} for the experiments that ran."""
    out: dict[str, dict[str, Any]] = {}
    for tier in tiers:
        parts: dict[str, Any] = {}
        if any(r.tier == tier.name for r in replicates):
            flips = flip_statistics(runs_by_item(telemetry, replicates, tier.name))
            parts["flips"] = flips.to_export()
        runs = [r for r in load_runs if r.tier == tier.name and r.load_level is not None]
        if runs:
            fit = fit_load(
                [r.load_level or 0 for r in runs],
                [r.outcome == Outcome.VERIFIER_TIMEOUT.value for r in runs],
                concurrency=[r.concurrency for r in runs],
                blocks=[(r.load_level, r.attempt) for r in runs],  # attempt: the round
            )
            load = fit.to_export()
            load["timeout_s"] = tier.timeout_s
            load["block_order"] = [level for name, level in block_order if name == tier.name]
            parts["load"] = load
        if parts:
            out[tier.name] = _plain(parts)
    return out


def _plain(value: Any) -> Any:
    """Python numbers only (YAML cannot write numpy scalars)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
