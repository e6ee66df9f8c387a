"""Records as numpy columns, and the seeded train / held-out split by item.

Stages 4-5 read every record once, here; everything downstream works on arrays.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from calib_async.records import LabeledRecord, Outcome, Phase, TelemetryRecord, Truth

#: Outcome codes used in the ``outcome`` columns (index into this tuple).
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
OUTCOME_CODE: dict[str, int] = {o.value: i for i, o in enumerate(OUTCOMES)}
TIMEOUT_CODE = OUTCOME_CODE[Outcome.VERIFIER_TIMEOUT.value]
VERIFIED_CODE = OUTCOME_CODE[Outcome.VERIFIED.value]
ERROR_CODE = OUTCOME_CODE[Outcome.VERIFIER_ERROR.value]
#: Outcomes that say "invalid" for reasons other than a timeout.
FAIL_CODES: tuple[int, ...] = tuple(
    OUTCOME_CODE[o.value]
    for o in (Outcome.PROOF_INVALID, Outcome.MEMORY_LIMIT_EXCEEDED, Outcome.VERIFIER_ERROR)
)

#: Truth codes in the ``truth`` column of labelled records.
TRUTH_VALID, TRUTH_INVALID, TRUTH_UNDETERMINED = 1, 0, -1
#: Warnings of runs whose outcome says nothing about the checker: left out of the rates.
_DRIVER_FAULTS = frozenset({"driver_paused", "driver_spawn_failed"})
_TRUTH_CODE = {
    Truth.VERIFIED: TRUTH_VALID,
    Truth.INVALID: TRUTH_INVALID,
    Truth.UNDETERMINED: TRUTH_UNDETERMINED,
}


@dataclass(frozen=True, slots=True)
class RunColumns:
    """The telemetry-phase runs of one tier (or a subset of them), column-wise."""

    item: np.ndarray  # int64: index into the item table
    outcome: np.ndarray  # int8: index into OUTCOMES
    timed_out: np.ndarray  # bool: the runner's timeout flag
    duration_ms: np.ndarray  # float64
    timeout_ms: np.ndarray  # float64: the run's own budget
    load_avg_1m: np.ndarray  # float64
    concurrency: np.ndarray  # float64
    #: float64: when the run started, in seconds since the epoch (the record's timestamp, taken
    #: when it finished, minus its duration); None when the caller has no times
    started_s: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.item.shape[0])

    def subset(self, mask: np.ndarray) -> RunColumns:
        return RunColumns(
            item=self.item[mask],
            outcome=self.outcome[mask],
            timed_out=self.timed_out[mask],
            duration_ms=self.duration_ms[mask],
            timeout_ms=self.timeout_ms[mask],
            load_avg_1m=self.load_avg_1m[mask],
            concurrency=self.concurrency[mask],
            started_s=None if self.started_s is None else self.started_s[mask],
        )


@dataclass(frozen=True, slots=True)
class LabelColumns:
    """The labelled (sampled) runs of one tier: item, observed outcome, ground truth."""

    item: np.ndarray  # int64
    outcome: np.ndarray  # int8
    truth: np.ndarray  # int8: TRUTH_VALID / TRUTH_INVALID / TRUTH_UNDETERMINED

    def __len__(self) -> int:
        return int(self.item.shape[0])

    def subset(self, mask: np.ndarray) -> LabelColumns:
        return LabelColumns(
            item=self.item[mask], outcome=self.outcome[mask], truth=self.truth[mask]
        )


@dataclass(frozen=True, slots=True)
class Columns:
    """All runs and labels, per tier, with a shared item table."""

    items: tuple[str, ...]
    runs: dict[str, RunColumns]
    labels: dict[str, LabelColumns]
    foreign_strata: int  # labelled records whose stratum is not "tier|outcome"
    #: per tier, the escalation ladders' attempts (phase ``label``, the tier's own name,
    #: attempt >= 1: re-runs of its timeouts at longer budgets; ``stats.escalations``)
    ladders: dict[str, RunColumns] = dataclasses.field(default_factory=dict)


def to_columns(
    telemetry: Sequence[TelemetryRecord],
    labeled: Sequence[LabeledRecord],
    tiers: Sequence[str],
) -> Columns:
    """Column-wise view of the telemetry-phase runs and labels of ``tiers``.

    Records of other tiers and label-phase runs (escalations, consensus) are left out of
    ``runs``: the noise model describes what a tier's own runs say. The tier's escalation
    attempts (label phase, its own tier name, attempt >= 1) go to ``ladders``: they watch its
    timed-out runs beyond the budget. Runs the driver could not watch are ignored (warning
    ``driver_paused``: it was stopped when the run ended, so whether the run kept its budget
    is unknown), and so are runs the driver could not start (``driver_spawn_failed``: its own
    fork was refused; the checker never ran).
    """
    wanted = set(tiers)
    item_index: dict[str, int] = {}
    rows: dict[str, list[tuple[int, int, bool, float, float, float, float, float]]] = {
        t: [] for t in tiers
    }
    ladder_rows: dict[str, list[tuple[int, int, bool, float, float, float, float, float]]] = {
        t: [] for t in tiers
    }
    telemetry_phase, label_phase = Phase.TELEMETRY.value, Phase.LABEL.value
    for r in telemetry:
        if r.tier not in wanted or _DRIVER_FAULTS & set(r.warnings):
            continue
        if r.phase == label_phase and r.attempt >= 1:
            target = ladder_rows[r.tier]
        elif r.phase == telemetry_phase:
            target = rows[r.tier]
        else:
            continue
        idx = item_index.setdefault(r.item_id, len(item_index))
        target.append(
            (
                idx,
                OUTCOME_CODE[r.outcome],
                bool(r.timed_out),
                float(r.duration_ms),
                float(r.timeout_s) * 1000.0,
                float(r.load_avg_1m),
                float(r.concurrency),
                _epoch_s(r.timestamp) - float(r.duration_ms) / 1000.0,
            )
        )
    label_rows: dict[str, list[tuple[int, int, int]]] = {t: [] for t in tiers}
    foreign = 0
    for lr in labeled:
        r = lr.record
        if r.tier not in wanted or r.phase != telemetry_phase:
            continue
        if lr.stratum != f"{r.tier}|{r.outcome}":
            foreign += 1
        idx = item_index.setdefault(r.item_id, len(item_index))
        label_rows[r.tier].append((idx, OUTCOME_CODE[r.outcome], _TRUTH_CODE[Truth(lr.truth)]))
    # Canonical order (items sorted by id, runs by item, outcome, duration) so that the
    # result does not depend on the order of the input records.
    items = tuple(sorted(item_index))
    rank = np.empty(len(item_index), dtype=np.int64)
    for new_index, item_id in enumerate(items):
        rank[item_index[item_id]] = new_index
    runs = {t: _canonical_runs(_run_columns(rows[t]), rank) for t in tiers}
    labels = {t: _canonical_labels(_label_columns(label_rows[t]), rank) for t in tiers}
    ladders = {t: _canonical_runs(_run_columns(ladder_rows[t]), rank) for t in tiers}
    return Columns(items=items, runs=runs, labels=labels, foreign_strata=foreign, ladders=ladders)


def _canonical_runs(runs: RunColumns, rank: np.ndarray) -> RunColumns:
    if not len(runs):
        return runs
    runs = dataclasses.replace(runs, item=rank[runs.item])
    return runs.subset(np.lexsort((runs.duration_ms, runs.outcome, runs.item)))


def _canonical_labels(labels: LabelColumns, rank: np.ndarray) -> LabelColumns:
    if not len(labels):
        return labels
    labels = dataclasses.replace(labels, item=rank[labels.item])
    return labels.subset(np.lexsort((labels.truth, labels.outcome, labels.item)))


def _epoch_s(timestamp: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp; NaN when it cannot be read."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return math.nan
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _run_columns(
    rows: list[tuple[int, int, bool, float, float, float, float, float]],
) -> RunColumns:
    if not rows:
        empty_f = np.zeros(0, dtype=np.float64)
        return RunColumns(
            item=np.zeros(0, dtype=np.int64),
            outcome=np.zeros(0, dtype=np.int8),
            timed_out=np.zeros(0, dtype=bool),
            duration_ms=empty_f,
            timeout_ms=empty_f,
            load_avg_1m=empty_f,
            concurrency=empty_f,
            started_s=empty_f,
        )
    item, outcome, timed_out, duration, timeout, load, conc, started = zip(*rows, strict=True)
    return RunColumns(
        item=np.asarray(item, dtype=np.int64),
        outcome=np.asarray(outcome, dtype=np.int8),
        timed_out=np.asarray(timed_out, dtype=bool),
        duration_ms=np.asarray(duration, dtype=np.float64),
        timeout_ms=np.asarray(timeout, dtype=np.float64),
        load_avg_1m=np.asarray(load, dtype=np.float64),
        concurrency=np.asarray(conc, dtype=np.float64),
        started_s=np.asarray(started, dtype=np.float64),
    )


def _label_columns(rows: list[tuple[int, int, int]]) -> LabelColumns:
    if not rows:
        return LabelColumns(
            item=np.zeros(0, dtype=np.int64),
            outcome=np.zeros(0, dtype=np.int8),
            truth=np.zeros(0, dtype=np.int8),
        )
    item, outcome, truth = zip(*rows, strict=True)
    return LabelColumns(
        item=np.asarray(item, dtype=np.int64),
        outcome=np.asarray(outcome, dtype=np.int8),
        truth=np.asarray(truth, dtype=np.int8),
    )


def split_items(items: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """A boolean mask over ``items``: True for the held-out items.

    Seeded and independent of record order: items are sorted by id, then a permutation drawn
    from ``numpy.random.default_rng(seed)`` picks ``round(fraction * n)`` of them. Splitting by
    item keeps one item's runs in every tier on the same side.
    """
    n = len(items)
    held = np.zeros(n, dtype=bool)
    k = round(fraction * n)
    if n == 0 or k <= 0:
        return held
    order = sorted(range(n), key=items.__getitem__)
    perm = np.random.default_rng(seed % 2**32).permutation(n)
    held[np.asarray(order, dtype=np.int64)[perm[:k]]] = True
    return held
