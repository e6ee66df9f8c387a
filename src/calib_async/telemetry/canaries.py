"""Stage 2's canary phase: invalid variants of drawn items, run at every tier (phase ``canary``).

Runs after the telemetry phase in the same session, so the records go to the same telemetry
log and a resumed run replays them by task key. Canary sources are drawn (seeded) among the
items the checker passed at some tier in stage 2: a canary then fails only because of its
exploit, not because its source was already broken. Canaries are not part of the run's
fingerprint: their files are content-addressed, so ``--resume`` may add or drop classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog

from calib_async.corpus.canary_set import (
    CanaryClass,
    CanarySet,
    draw_sources,
    resolve_classes,
    write_canaries,
)
from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.profiles import CheckerConfig
from calib_async.records import CorpusItem, Outcome, Phase, Task, TelemetryRecord, Tier
from calib_async.telemetry.resuming import ResumingRunner
from calib_async.telemetry.stage import STAGE, outcome_counts, per_tier

log = structlog.get_logger(__name__)
NAME = "canaries"


@dataclass(frozen=True, slots=True)
class CanaryRuns:
    """The canaries made and the records of their runs (one per canary and tier)."""

    canary_set: CanarySet
    records: list[TelemetryRecord] = field(default_factory=list)

    @property
    def exploit_of(self) -> dict[str, str]:
        """Canary item id -> its class."""
        return {c.item.item_id: c.exploit for c in self.canary_set.canaries}


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryPlan:
    """What the canary phase needs of the run's settings (the pipeline derives it)."""

    classes: tuple[str, ...]  # as ``--canaries`` names them ("all" for every class)
    sample: int  # items canaries are derived from
    seed: int
    output_dir: Path  # the canary files go under it


def canary_classes(
    plan: CanaryPlan, checker: CheckerConfig, tiers: Sequence[Tier]
) -> list[CanaryClass]:
    """The classes ``--canaries`` selects (empty without the flag); CalibError when unknown.

    Called before any checker starts, so a bad class name costs nothing.
    """
    if not plan.classes:
        return []
    requested = ["all"] if "all" in plan.classes else list(plan.classes)
    return resolve_classes(requested, [checker.verifiers[t.verifier] for t in tiers])


async def run_canaries(
    plan: CanaryPlan,
    classes: Sequence[CanaryClass],
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    telemetry: Sequence[TelemetryRecord],
    runner: ResumingRunner,
    listeners: Sequence[Listener],
) -> CanaryRuns | None:
    """Write the canaries and run each at every tier; None when no class is selected.

    **Cancellation:** as :meth:`ResumingRunner.run_all`: running checkers are killed and
    reaped; finished canary records are already in the checkpoint, and the canary files are
    rewritten identically on resume.
    """
    if not classes:
        return None
    eligible = {r.item_id for r in telemetry if r.outcome == Outcome.VERIFIED}
    sources = draw_sources(items, eligible, n=plan.sample, seed=plan.seed)
    canary_set = await anyio.to_thread.run_sync(
        lambda: write_canaries(sources, classes, plan.output_dir, eligible=len(eligible))
    )
    log.info(
        "canaries.written",
        canaries=len(canary_set.canaries),
        sources=len(sources),
        eligible=len(eligible),
        not_applicable=canary_set.not_applicable,
    )
    tasks = [
        Task(c.item, tier, tier.verifier, Phase.CANARY)
        for c in canary_set.canaries
        for tier in tiers
    ]
    emit(listeners, StageStarted(STAGE, NAME, len(tasks), per_tier(tasks), Phase.CANARY.value))
    records = [record async for record in runner.run_all(tasks)]
    emit(listeners, StageFinished(STAGE, NAME, outcome_counts(records)))
    return CanaryRuns(canary_set=canary_set, records=records)
