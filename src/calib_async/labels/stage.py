"""Stage 3 as it runs: the stratified sample, escalation ladders for sampled timeouts,
consensus runs per sampled item, manual labels, and the evidence they give.

The pure parts (sampling, votes, merging) live in :mod:`calib_async.labels.sampling`; this module
drives the checker runs through stage 2's resume-aware runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from calib_async.checkers.lean.axioms import DEFAULT_AXIOM_ALLOWLIST
from calib_async.checkpoint.binding import log_header_digest
from calib_async.config.run import RunConfig
from calib_async.config.setup import consensus_profiles
from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.labels.consensus import (
    consensus_ladder,
    consensus_tier,
    ladder_decides_validity,
    top_timeout,
)
from calib_async.labels.resolution import Resolution, item_evidence, reasons_for, run_consensus
from calib_async.labels.sampling import (
    Evidence,
    SampledRecord,
    extended_timeout_evidence,
    label_summary,
    labeled_records,
    merge_labels,
    sample_for_labeling,
)
from calib_async.labels.store import run_description, write_labels_json
from calib_async.profiles import CheckerConfig
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

STAGE = 3
NAME = "ground-truth labelling"


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """Stage 3's output: merged labels, the labelled sample, the runs it took, and why the
    undetermined items stayed so (item id -> :class:`~calib_async.labels.resolution.Reason`)."""

    labels: dict[tuple[str, str | None], ItemLabel]
    labeled: list[LabeledRecord]
    label_runs: list[TelemetryRecord]
    summary: dict[str, Any]
    reasons: dict[str, str] = field(default_factory=dict)


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
    outcome = await run_label_stage(config, checker, tiers, items, telemetry, runner, listeners)
    labels = merge_labels(outcome.evidence)
    labeled = labeled_records(outcome.sample, labels)
    reasons = reasons_for(labels, outcome.resolution, outcome.ladders)
    summary = label_summary(labels, reasons)
    summary["label_budget"] = {
        "runs": outcome.resolution.budget,
        "spent": outcome.resolution.extra_runs,
    }
    write_labels_json(
        config.output_dir / "labels.json",
        labels,
        reasons=reasons,
        sample=labeled,
        run={**run_description(config, tiers, summary), "log": log_header_digest(config.log_path)},
    )
    emit(listeners, StageFinished(STAGE, NAME, summary))
    return GroundTruth(
        labels=labels, labeled=labeled, label_runs=outcome.runs, summary=summary, reasons=reasons
    )


@dataclass(frozen=True, slots=True)
class LabelStageOutcome:
    """What stage 3's runs gave: all evidence, the sample, the runs, the consensus state."""

    evidence: list[Evidence]
    sample: list[SampledRecord]
    runs: list[TelemetryRecord]
    resolution: Resolution
    ladders: dict[str, list[float]]


def label_budget(config: RunConfig, sampled_items: int, profiles: int) -> int:
    """``--label-budget`` (extra label runs); by default as many as the first pass's
    consensus runs, so resolving undetermined items at most doubles the consensus work."""
    if config.label_budget is not None:
        return config.label_budget
    return sampled_items * profiles


async def run_label_stage(
    config: RunConfig,
    checker: CheckerConfig,
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    telemetry: Sequence[TelemetryRecord],
    runner: ResumingRunner,
    listeners: Sequence[Listener],
) -> LabelStageOutcome:
    """The evidence of stage 3's runs (and manual labels), the sample, and the label runs.

    Tier ladders (the tier's own profile) run for every sampled timeout: they settle
    termination, and count as validity evidence only where
    :func:`~calib_async.labels.consensus.ladder_decides_validity`. Validity otherwise comes
    from consensus (:func:`~calib_async.labels.resolution.run_consensus`), audits and manual
    labels.

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
    evidence: list[Evidence] = list(manual_evidence(config))  # first; they win the merge anyway
    label_runs: list[TelemetryRecord] = []
    multiplier = config.timeout_multiplier
    top = top_timeout(tiers, multiplier)
    ladders = {
        name: consensus_ladder(consensus_tier(name, tiers, checker, multiplier).timeout_s, top)
        for name in consensus
    }

    async def escalate_all() -> None:
        limiter = anyio.CapacityLimiter(max(1, config.workers))

        async def one(s: SampledRecord) -> None:
            async with limiter:
                tier = tier_by_name[s.record.tier]
                base = Task(by_id[s.record.item_id], tier, s.record.verifier, Phase.LABEL, 0)
                ladder = await runner.scheduler.escalate(
                    base, s.record, max_multiplier=multiplier, run_one=runner.run_one
                )
                label_runs.extend(ladder)
                if ladder and ladder_decides_validity(tier, consensus, checker):
                    ev = extended_timeout_evidence(ladder[-1])
                    if ev is not None:
                        evidence.append(ev)

        async with anyio.create_task_group() as tg:
            for s in timeouts:
                tg.start_soon(one, s)

    allow = next(
        (a for a in (checker.verifiers[p].options.get("axiom_allowlist") for p in consensus) if a),
        DEFAULT_AXIOM_ALLOWLIST,
    )
    ladders_done = anyio.Event()
    resolved: list[Resolution] = []

    async def ladders_then_signal() -> None:
        try:
            await escalate_all()
        finally:
            ladders_done.set()  # their evidence joins every merge of the adaptive rounds

    async def consensus_all() -> None:
        resolved.append(
            await run_consensus(
                [by_id[i] for i in sampled_items],
                consensus,
                lambda name, repeat: consensus_tier(name, tiers, checker, multiplier, repeat),
                runner,
                other_evidence=evidence,
                allowlist=allow,
                ladders=ladders,
                budget=label_budget(config, len(sampled_items), len(consensus)),
                listeners=listeners,
                ready=ladders_done,
            )
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(ladders_then_signal)
        tg.start_soon(consensus_all)

    resolution = resolved[0]
    label_runs.extend(resolution.runs)
    for item_id in sampled_items:
        evidence.extend(item_evidence(item_id, resolution.chains[item_id], allow))
    return LabelStageOutcome(evidence, sample, label_runs, resolution, ladders)


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


__all__ = [
    "GroundTruth",
    "consensus_tier",
    "establish_ground_truth",
    "run_label_stage",
    "write_labels_json",
]
