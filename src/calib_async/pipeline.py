"""The six stages in order: corpus, telemetry, labels, fit, validate, export.

Data flows one way; stages 1-3 start processes, stages 4-6 only compute (in a worker thread).
The telemetry log is the checkpoint: every finished run is appended at once, and a resumed
run skips every task whose key is already in the log. Each stage lives in its own package;
this module only puts them in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from calib_async.checkers.preflight import check_executables
from calib_async.checkers.service import run as service_run
from calib_async.config.run import RunConfig
from calib_async.config.setup import (
    consensus_profiles,
    load_checker_setup,
    prepare_outputs,
    selected_tiers,
)
from calib_async.config.startable import check_checkers_can_start
from calib_async.corpus.stage import CorpusPlan, select_items
from calib_async.errors import CalibError, only_calib_error
from calib_async.events import Event, Listener, StageFinished, StageStarted, emit
from calib_async.labels.judges import own_judge_tiers
from calib_async.labels.manual import check_manual_targets, load_manual_labels
from calib_async.labels.plan import LabelPlan
from calib_async.labels.stage import establish_ground_truth
from calib_async.model import CalibrationDocument
from calib_async.profiles import CheckerConfig
from calib_async.records import CorpusItem, TelemetryRecord, Tier
from calib_async.runner.cgroups import driver_cgroup_base
from calib_async.runner.leftovers import claim_output_dir
from calib_async.telemetry.canaries import CanaryPlan, canary_classes, run_canaries
from calib_async.telemetry.load_experiment import check_levels, run_load_experiment
from calib_async.telemetry.replicates import run_replicates
from calib_async.telemetry.session import SessionPlan, open_session
from calib_async.telemetry.stage import collect_telemetry

if TYPE_CHECKING:
    from calib_async.export.document import ExportPlan

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """What :func:`run_calibration` produced: the export (also written to ``export_path``;
    ``document`` typed, ``export`` as the YAML's mapping), the records of every run, and the
    report's path (None with ``report=False``)."""

    export_path: Path
    document: CalibrationDocument
    telemetry: list[TelemetryRecord]
    label_runs: list[TelemetryRecord]
    report_path: Path | None = None
    items: list[CorpusItem] = field(default_factory=list)
    stability_runs: list[TelemetryRecord] = field(default_factory=list)  # replicates, load
    canary_runs: list[TelemetryRecord] = field(default_factory=list)  # phase ``canary``

    @property
    def export(self) -> dict[str, Any]:
        """The export as written (calibration.yaml's mapping)."""
        return self.document.to_dict()


async def run_calibration(
    config: RunConfig, *, listeners: Sequence[Listener] = ()
) -> CalibrationResult:
    """Run the six stages and write ``config.export``.

    ``listeners`` receive :mod:`calib_async.events` on the event-loop thread. User errors raise
    :class:`~calib_async.errors.CalibError`; nothing here exits or handles signals (the CLI
    does).

    **Cancellation:** every running checker tree is killed and reaped, the checkpoint is
    flushed and fsynced, then the cancellation propagates. Finished runs are never lost, and
    ``--resume`` continues from them.
    """
    try:
        return await _run_stages(config, listeners)
    except BaseExceptionGroup as group:  # a task group wraps a CalibError: raise it bare
        user_error = only_calib_error(group)
        if user_error is None:
            raise
        raise user_error from None


async def _run_stages(config: RunConfig, listeners: Sequence[Listener]) -> CalibrationResult:
    prepare_outputs(config)
    checker = load_checker_setup(config)
    tiers = selected_tiers(config, checker)
    # every checker is installed before anything runs (a missing one fails every run)
    check_executables(checker, [*(t.verifier for t in tiers), *consensus_profiles(config, checker)])
    if config.manual_labels is not None:  # a bad file fails now, not after stage 2
        load_manual_labels(config.manual_labels)
    # one driver per output directory; no checker outlives it (runner/leftovers.py)
    with claim_output_dir(config.output_dir, cgroup_prefix=driver_cgroup_base()):
        return await _claimed_stages(config, checker, listeners)


def _check_manual_labels(
    config: RunConfig, items: Sequence[CorpusItem], tiers: Sequence[Tier]
) -> None:
    """Manual labels naming a tier the run lacks are refused; items outside it are reported."""
    paths = [config.manual_labels, config.output_dir / "manual_labels.jsonl"]
    ids, names = {i.item_id for i in items}, {t.name for t in tiers}
    for path in dict.fromkeys(p for p in paths if p is not None and p.exists()):
        labels = load_manual_labels(path)
        outside = check_manual_targets(labels, items=ids, tiers=names, source=path)
        if outside:
            log.warning(
                "manual labels name items outside this run; they are not used",
                path=str(path),
                labels=outside,
            )


async def _claimed_stages(
    config: RunConfig, checker: CheckerConfig, listeners: Sequence[Listener]
) -> CalibrationResult:
    run_id = uuid.uuid4().hex[:12]
    tiers = selected_tiers(config, checker)
    consensus = consensus_profiles(config, checker)
    own_judge = own_judge_tiers({t.name: t.verifier for t in tiers}, consensus, checker)
    for tier, reason in own_judge.items():  # said at start: the user may stop and fix it
        log.warning("tier labels unverified", tier=tier, reason=reason)
    levels = check_levels(config.load_levels, config.workers)
    canary_plan = plan_canaries(config)
    # a bad class name fails before any run
    canaries = canary_classes(canary_plan, checker, tiers)

    emit(listeners, StageStarted(1, "corpus selection"))
    items = await anyio.to_thread.run_sync(
        select_items, plan_corpus(config), abandon_on_cancel=True
    )
    emit(listeners, StageFinished(1, "corpus selection", {"items": len(items)}))
    check_checkers_can_start(  # a checker that can never start fails here, not as N errors
        checker.verifiers, tiers, items, profiles=consensus_profiles(config, checker)
    )
    _check_manual_labels(config, items, tiers)

    # a service that does not answer stops the run here, with one message, before any check
    await service_run.preflight(checker.verifiers[t.verifier] for t in tiers)

    async with open_session(
        plan_session(config, consensus), checker, tiers, items, run_id=run_id, listeners=listeners
    ) as runner:
        telemetry = await collect_telemetry(runner, items, tiers, listeners, seed=config.seed)
        replicate_runs = await run_replicates(
            runner,
            items,
            tiers,
            replicates=config.replicates,
            sample_size=config.replicate_sample,
            seed=config.seed,
            listeners=listeners,
        )
        load = await run_load_experiment(
            runner,
            items,
            tiers,
            levels=levels,
            sample_size=config.load_sample,
            seed=config.seed,
            listeners=listeners,
            rounds=config.load_rounds,
        )
        canary_runs = await run_canaries(
            canary_plan, canaries, tiers, items, telemetry, runner, listeners
        )
        repl_designs = await _repl_designs(config, checker, tiers, items)
        truth = await establish_ground_truth(
            plan_labels(config, consensus), checker, tiers, items, telemetry, runner, listeners
        )

    service_designs = await service_run.run_designs(
        {t.verifier: checker.verifiers[t.verifier] for t in tiers}.values(),
        tiers,
        items,
        work_dir=(config.output_dir / "service").resolve(),
        seed=config.seed,
    )

    def stages_4_to_6() -> tuple[CalibrationDocument, Path | None]:
        from calib_async.export.experiments import Experiments
        from calib_async.export.stage import export_calibration
        from calib_async.stats.fit import fit_and_validate

        def to_loop(event: Event) -> None:  # listeners run on the event-loop thread
            anyio.from_thread.run_sync(emit, listeners, event)

        def fitted() -> None:
            to_loop(StageFinished(4, "statistical fitting"))
            to_loop(StageStarted(5, "cross-tier validation"))

        to_loop(StageStarted(4, "statistical fitting"))
        fit = fit_and_validate(
            telemetry,
            truth.labeled,
            tiers=tiers,
            validation_split=config.validation_split,
            seed=config.seed,
            bootstrap=config.bootstrap,
            on_fitted=fitted,
            reference=truth.reference,
            own_judge=truth.own_judge,
            ladders=truth.label_runs,
        )
        to_loop(StageFinished(5, "cross-tier validation", {"passed": fit.validation.passed}))
        to_loop(StageStarted(6, "export"))
        document, report_path = export_calibration(
            fit,
            plan=plan_export(config),
            tiers=tiers,
            labels=truth.summary,
            run_id=run_id,
            telemetry=telemetry,
            labeled=truth.labeled,
            experiments=Experiments(
                replicates=replicate_runs,
                load=load.records,
                block_order=load.block_order,
                canaries=canary_runs,
                repl_designs=repl_designs,
                service_designs=service_designs,
            ),
            profiles=checker.verifiers,
        )
        to_loop(StageFinished(6, "export", {"path": str(config.export)}))
        return document, report_path

    # abandoned on cancellation so that Ctrl-C is not held up by a long fit; nothing is lost
    document, report_path = await anyio.to_thread.run_sync(
        stages_4_to_6, abandon_on_cancel=True
    )
    return CalibrationResult(
        export_path=config.export,
        document=document,
        telemetry=telemetry,
        label_runs=truth.label_runs,
        report_path=report_path,
        items=items,
        stability_runs=[*replicate_runs, *load.records],
        canary_runs=canary_runs.records if canary_runs is not None else [],
    )


def plan_export(config: RunConfig) -> ExportPlan:
    """Stage 6's plan."""
    from calib_async.export.document import ExportPlan

    return ExportPlan(
        export=config.export,
        output_dir=config.output_dir,
        report=config.report,
        corpus=config.corpus,
        n=config.n,
        seed=config.seed,
        validation_split=config.validation_split,
        label_sample=config.label_sample,
        timeout_multiplier=config.timeout_multiplier,
    )


def plan_corpus(config: RunConfig) -> CorpusPlan:
    """Stage 1's plan."""
    return CorpusPlan(
        corpus=config.corpus,
        n=config.n,
        seed=config.seed,
        corpus_path=config.corpus_path,
        corpus_filter=config.corpus_filter,
        output_dir=config.output_dir,
        lean_project=config.lean_project,
    )


def plan_session(config: RunConfig, consensus: Sequence[str]) -> SessionPlan:
    """The checker session's plan (stages 2 and 3); ``consensus``: the voting profiles."""
    return SessionPlan(
        output_dir=config.output_dir,
        log_path=config.log_path,
        resume=config.resume,
        fresh=config.fresh,
        workers=config.workers,
        seed=config.seed,
        n=config.n,
        corpus=config.corpus,
        sandbox=config.sandbox,
        backend=config.backend,
        ray_address=config.ray_address,
        sample_interval_s=config.sample_interval_s,
        label_sample=config.label_sample,
        label_budget=config.label_budget,
        timeout_multiplier=config.timeout_multiplier,
        consensus=tuple(consensus),
    )


def plan_canaries(config: RunConfig) -> CanaryPlan:
    """The canary phase's plan."""
    return CanaryPlan(
        classes=tuple(config.canaries),
        sample=config.canary_sample,
        seed=config.seed,
        output_dir=config.output_dir,
    )


def plan_labels(config: RunConfig, consensus: Sequence[str]) -> LabelPlan:
    """Stage 3's plan; ``consensus``: the voting profiles."""
    return LabelPlan(
        output_dir=config.output_dir,
        log_path=config.log_path,
        label_sample=config.label_sample,
        label_budget=config.label_budget,
        seed=config.seed,
        validation_split=config.validation_split,
        timeout_multiplier=config.timeout_multiplier,
        workers=config.workers,
        manual_labels=config.manual_labels,
        consensus=tuple(consensus),
        corpus=config.corpus,
        n=config.n,
        bootstrap=config.bootstrap,
    )


async def _repl_designs(
    config: RunConfig, checker: CheckerConfig, tiers: Sequence[Tier], items: list[CorpusItem]
) -> list[dict[str, Any]]:
    """The REPL-pool designs of the ``lean_repl`` profiles that switch one on (else nothing)."""
    profiles = [c for c in checker.verifiers.values() if c.kind == "lean_repl"]
    if not profiles:
        return []
    from calib_async.backends.local import LocalBackend
    from calib_async.checkers.api import OpenContext
    from calib_async.checkers.lean_repl.designs import run_designs

    work = (config.output_dir / "lean_repl").resolve()
    ctx = OpenContext(work_dir=work, backend=LocalBackend())
    return await run_designs(
        profiles, tiers, items, ctx=ctx, output_dir=config.output_dir, seed=config.seed
    )


__all__ = ["CalibError", "CalibrationResult", "RunConfig", "run_calibration"]
