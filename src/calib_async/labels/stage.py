"""Stage 3 as it runs: the stratified sample, escalation ladders for sampled timeouts,
consensus runs per sampled item, manual labels, and the evidence they give.

The pure parts (sampling, votes, merging) live in :mod:`calib_async.labels.sampling`; this module
drives the checker runs through stage 2's resume-aware runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio

from calib_async.checkers.lean.axioms import DEFAULT_AXIOM_ALLOWLIST
from calib_async.checkpoint.binding import log_header_digest
from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.labels.consensus import (
    consensus_ladder,
    consensus_tier,
    ladder_decides_validity,
    top_timeout,
)
from calib_async.labels.judges import item_votes, own_judge_tiers
from calib_async.labels.latent import ItemEvidence, fit_reference_model
from calib_async.labels.plan import LabelPlan
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
    Truth,
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
    #: item id -> the votes (by error source) and gold evidence behind its label
    reference: dict[str, ItemEvidence] = field(default_factory=dict)
    #: tier -> why its consensus is its own check (``calib_async.labels.judges``)
    own_judge: dict[str, str] = field(default_factory=dict)


async def establish_ground_truth(
    plan: LabelPlan,
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
    outcome = await run_label_stage(plan, checker, tiers, items, telemetry, runner, listeners)
    reference = reference_evidence(outcome, checker)
    own_judge = own_judge_tiers(
        {t.name: t.verifier for t in tiers}, plan.consensus, checker
    )
    labels = with_posterior_confidence(merge_labels(outcome.evidence), reference)
    labeled = labeled_records(outcome.sample, labels)
    reasons = reasons_for(labels, outcome.resolution, outcome.ladders)
    summary = label_summary(labels, reasons)
    summary["label_budget"] = {
        "runs": outcome.resolution.budget,
        "spent": outcome.resolution.extra_runs,
    }
    write_labels_json(
        plan.output_dir / "labels.json",
        labels,
        reasons=reasons,
        sample=labeled,
        run={**run_description(plan, tiers, summary), "log": log_header_digest(plan.log_path)},
        reference=reference,
        own_judge=own_judge,
    )
    emit(listeners, StageFinished(STAGE, NAME, summary))
    return GroundTruth(
        labels=labels,
        labeled=labeled,
        label_runs=outcome.runs,
        summary=summary,
        reasons=reasons,
        reference=reference,
        own_judge=own_judge,
    )


def reference_evidence(
    outcome: LabelStageOutcome, checker: CheckerConfig
) -> dict[str, ItemEvidence]:
    """Per sampled item: its consensus votes by error source, and gold evidence (a manual
    label, or an axiom audit that found a forbidden axiom: INVALID for certain)."""
    gold: dict[str, Truth] = {}
    for ev in outcome.evidence:
        if ev.tier is None and ev.method in (LabelMethod.MANUAL, LabelMethod.AXIOM_AUDIT):
            gold.setdefault(ev.item_id, ev.truth)  # manual evidence comes first
    return {
        item_id: item_votes(chains, checker, gold=gold.get(item_id))
        for item_id, chains in sorted(outcome.resolution.chains.items())
    }


def with_posterior_confidence(
    labels: dict[tuple[str, str | None], ItemLabel], reference: Mapping[str, ItemEvidence]
) -> dict[tuple[str, str | None], ItemLabel]:
    """Consensus labels with confidence = P(their truth | the votes) under the reference's
    error model (``calib_async.labels.latent``), not the share of votes."""
    informative = [ev for ev in reference.values() if ev.informative]
    if not informative:
        return labels
    model = fit_reference_model(informative)
    out = dict(labels)
    for key, label in labels.items():
        ev = reference.get(key[0])
        if label.method is not LabelMethod.CONSENSUS or ev is None or not ev.informative:
            continue
        p = model.posterior_valid(ev)
        out[key] = replace(label, confidence=p if label.truth is Truth.VERIFIED else 1 - p)
    return out


@dataclass(frozen=True, slots=True)
class LabelStageOutcome:
    """What stage 3's runs gave: all evidence, the sample, the runs, the consensus state."""

    evidence: list[Evidence]
    sample: list[SampledRecord]
    runs: list[TelemetryRecord]
    resolution: Resolution
    ladders: dict[str, list[float]]


def label_budget(plan: LabelPlan, sampled_items: int, profiles: int) -> int:
    """``--label-budget`` (extra label runs); by default as many as the first pass's
    consensus runs, so resolving undetermined items at most doubles the consensus work."""
    if plan.label_budget is not None:
        return plan.label_budget
    return sampled_items * profiles


async def run_label_stage(
    plan: LabelPlan,
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
    sample = sample_for_labeling(
        telemetry, plan.label_sample, plan.seed, validation_split=plan.validation_split
    )
    sampled_items = sorted({s.record.item_id for s in sample})
    by_id = {item.item_id: item for item in items}
    tier_by_name = {t.name: t for t in tiers}
    consensus = list(plan.consensus)
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
    # manual evidence first; it wins the merge anyway
    evidence = manual_evidence(manual_labels=plan.manual_labels, output_dir=plan.output_dir)
    label_runs: list[TelemetryRecord] = []
    multiplier = plan.timeout_multiplier
    top = top_timeout(tiers, multiplier)
    ladders = {
        name: consensus_ladder(consensus_tier(name, tiers, checker, multiplier).timeout_s, top)
        for name in consensus
    }

    async def escalate_all() -> None:
        limiter = anyio.CapacityLimiter(max(1, plan.workers))

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
                budget=label_budget(plan, len(sampled_items), len(consensus)),
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


def manual_evidence(*, manual_labels: Path | None, output_dir: Path) -> list[Evidence]:
    """Evidence from ``--manual-labels`` and ``<output_dir>/manual_labels.jsonl`` (the
    interactive labeller's file)."""
    from calib_async.labels.manual import load_manual_labels

    paths = []
    if manual_labels is not None:
        paths.append(manual_labels)
    interactive = output_dir / "manual_labels.jsonl"
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
