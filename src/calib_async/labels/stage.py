"""Stage 3 as it runs: the stratified sample, escalation ladders for sampled timeouts,
consensus runs per sampled item, manual labels, and the evidence they give.

The pure parts (sampling, votes, merging) live in :mod:`calib_async.labels.sampling`; this module
drives the checker runs through stage 2's resume-aware runner.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from calib_async.config.run import RunConfig
from calib_async.config.schema import CheckerConfig
from calib_async.config.setup import consensus_profiles
from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.labels.sampling import (
    Evidence,
    SampledRecord,
    axiom_evidence,
    consensus_evidence,
    extended_timeout_evidence,
    label_summary,
    labeled_records,
    merge_labels,
    sample_for_labeling,
)
from calib_async.records import (
    CorpusItem,
    ItemLabel,
    LabeledRecord,
    LabelMethod,
    Outcome,
    Phase,
    Task,
    TelemetryRecord,
    Tier,
)
from calib_async.telemetry.resuming import ResumingRunner
from calib_async.verifiers.lean_axioms import DEFAULT_AXIOM_ALLOWLIST

STAGE = 3
NAME = "ground-truth labelling"


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """Stage 3's output: merged labels, the labelled sample, and the runs it took."""

    labels: dict[tuple[str, str | None], ItemLabel]
    labeled: list[LabeledRecord]
    label_runs: list[TelemetryRecord]
    summary: dict[str, Any]


async def establish_ground_truth(
    config: RunConfig,
    checker: CheckerConfig,
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    telemetry: Sequence[TelemetryRecord],
    runner: ResumingRunner,
    listeners: Sequence[Listener],
) -> GroundTruth:
    """Sample, run escalations and consensus, merge all evidence, write ``labels.json``.

    **Cancellation:** running checkers are killed and reaped; finished label runs are already
    in the checkpoint, and ``labels.json`` is not written.
    """
    evidence, sample, label_runs = await run_label_stage(
        config, checker, tiers, items, telemetry, runner, listeners
    )
    labels = merge_labels(evidence)
    labeled = labeled_records(sample, labels)
    write_labels_json(config.output_dir / "labels.json", labels)
    summary = label_summary(labels)
    emit(listeners, StageFinished(STAGE, NAME, summary))
    return GroundTruth(labels=labels, labeled=labeled, label_runs=label_runs, summary=summary)


def consensus_tier(
    name: str, tiers: Sequence[Tier], checker: CheckerConfig, multiplier: float
) -> Tier:
    """The tier a consensus profile runs at: strict, long timeout, no memory limit."""
    longest = max(tiers, key=lambda t: t.timeout_s)
    profile = checker.verifiers[name]
    timeout = float(profile.options.get("timeout_s") or longest.timeout_s * multiplier)
    options = {**longest.options, "reject_sorry": True, "audit_axioms": True}
    options.pop("precision", None)
    return Tier(
        name=f"label:{name}",
        timeout_s=timeout,
        verifier=name,
        memory_limit_mb=None,
        args=(),
        options=options,
        grace_s=longest.grace_s,
    )


async def run_label_stage(
    config: RunConfig,
    checker: CheckerConfig,
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    telemetry: Sequence[TelemetryRecord],
    runner: ResumingRunner,
    listeners: Sequence[Listener],
) -> tuple[list[Evidence], list[SampledRecord], list[TelemetryRecord]]:
    """The evidence of stage 3's runs (and manual labels), the sample, and the label runs.

    **Cancellation:** as :func:`establish_ground_truth`.
    """
    sample = sample_for_labeling(telemetry, config.label_sample, config.seed)
    sampled_items = sorted({s.record.item_id for s in sample})
    by_id = {item.item_id: item for item in items}
    tier_by_name = {t.name: t for t in tiers}
    consensus = list(consensus_profiles(config, checker))
    timeouts = [s for s in sample if s.record.outcome == Outcome.VERIFIER_TIMEOUT]
    emit(
        listeners,
        StageStarted(
            # planned: the consensus runs; each escalation attempt announces itself (RunEscalated)
            STAGE,
            NAME,
            len(sampled_items) * len(consensus),
            {name: len(sampled_items) for name in consensus},  # per consensus profile
        ),
    )
    evidence: list[Evidence] = []
    label_runs: list[TelemetryRecord] = []
    consensus_tiers = {
        name: consensus_tier(name, tiers, checker, config.timeout_multiplier) for name in consensus
    }

    # Manual labels first (they take precedence in the merge anyway).
    evidence.extend(manual_evidence(config))

    consensus_tasks = [
        Task(by_id[item_id], consensus_tiers[name], name, Phase.LABEL, 0)
        for item_id in sampled_items
        for name in consensus
    ]
    per_item: dict[str, list[TelemetryRecord]] = {}

    async def escalate_all() -> None:
        limiter = anyio.CapacityLimiter(max(1, config.workers))

        async def one(s: Any) -> None:
            async with limiter:
                base = Task(
                    by_id[s.record.item_id],
                    tier_by_name[s.record.tier],
                    s.record.verifier,
                    Phase.LABEL,
                    0,
                )
                ladder = await runner.scheduler.escalate(
                    base, s.record, max_multiplier=config.timeout_multiplier, run_one=runner.run_one
                )
                label_runs.extend(ladder)
                if ladder:
                    ev = extended_timeout_evidence(ladder[-1])
                    if ev is not None:
                        evidence.append(ev)

        async with anyio.create_task_group() as tg:
            for s in timeouts:
                tg.start_soon(one, s)

    async def consensus_all() -> None:
        async for record in runner.run_all(consensus_tasks):
            label_runs.append(record)
            per_item.setdefault(record.item_id, []).append(record)

    async with anyio.create_task_group() as tg:
        tg.start_soon(escalate_all)
        tg.start_soon(consensus_all)

    allowlist = DEFAULT_AXIOM_ALLOWLIST  # Lean's standard three
    for item_id in sampled_items:
        records = per_item.get(item_id, [])
        evidence.append(consensus_evidence(item_id, (r.outcome for r in records)))
        profiles_allow = [
            checker.verifiers[r.verifier].options.get("axiom_allowlist") for r in records
        ]
        allow = next((a for a in profiles_allow if a), allowlist)
        ev = axiom_evidence(item_id, (r.axioms for r in records), allow)
        if ev is not None:
            evidence.append(ev)
    return evidence, sample, label_runs


def manual_evidence(config: RunConfig) -> list[Evidence]:
    from calib_async.labels.manual import load_manual_labels

    paths = []
    if config.manual_labels is not None:
        paths.append(config.manual_labels)
    interactive = config.output_dir / "manual_labels.jsonl"
    if interactive.exists() and interactive not in paths:
        paths.append(interactive)
    out = []
    for path in paths:
        for lab in load_manual_labels(path):
            out.append(Evidence(lab.item_id, LabelMethod.MANUAL, lab.truth, 1.0, lab.tier))
    return out


def write_labels_json(path: Path, labels: dict[tuple[str, str | None], ItemLabel]) -> None:
    """``labels.json``: the merged item-wide label of every labelled item (for the labeller)."""
    items = {
        item: {
            "truth": lab.truth.value,
            "method": lab.method.value,
            "confidence": lab.confidence,
            "votes": lab.votes,
            "conflicts": lab.conflicts,
        }
        for (item, tier), lab in sorted(labels.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if tier is None
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"items": items}, indent=1, sort_keys=True))
    tmp.replace(path)
