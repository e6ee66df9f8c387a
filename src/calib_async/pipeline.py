"""The six stages in order: corpus, telemetry, labels, fit, validate, export.

Data flows one way; stages 1-3 start processes, stages 4-6 only compute (in a worker thread).
The telemetry log is the checkpoint: every finished run is appended at once, and a resumed
run skips every task whose key is already in the log.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import structlog

from calib_async import __version__
from calib_async.checkpoint import (
    CheckpointWriter,
    dedupe_records,
    prepare_log,
    sync_periodically,
)
from calib_async.config import (
    CheckerConfig,
    check_references,
    default_lean_config,
    default_synthetic_config,
    load_checker_config,
)
from calib_async.errors import CalibError
from calib_async.events import Listener, RunFinished, StageFinished, StageStarted
from calib_async.fingerprint import make_fingerprint
from calib_async.label_stage import run_label_stage, write_labels_json
from calib_async.labeling import (
    label_summary,
    labeled_records,
    merge_labels,
)
from calib_async.records import CorpusItem, TelemetryRecord
from calib_async.scheduler import Scheduler, Task

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything one calibration needs; the CLI builds it from flags."""

    tiers: tuple[str, ...]
    n: int
    export: Path
    corpus: str = "mathlib"
    corpus_path: Path | None = None
    corpus_filter: str | None = None
    workers: int = 8
    seed: int = 12345
    validation_split: float = 0.2
    label_sample: int = 1000
    timeout_multiplier: float = 10.0
    consensus_verifiers: tuple[str, ...] | None = None
    output_dir: Path = Path("./calibration_output")
    telemetry_log: Path | None = None
    config_path: Path | None = None
    resume: bool = False
    fresh: bool = False
    lean_project: Path | None = None
    manual_labels: Path | None = None
    bootstrap: int = 99
    report: bool = True
    backend: str = "local"
    ray_address: str | None = None
    sandbox: str = "none"
    sample_interval_s: float = 0.2

    @property
    def log_path(self) -> Path:
        return self.telemetry_log or self.output_dir / "telemetry.jsonl"


@dataclass(slots=True)
class CalibrationResult:
    export_path: Path
    export: dict[str, Any]
    telemetry: list[TelemetryRecord]
    label_runs: list[TelemetryRecord]
    report_path: Path | None = None
    items: list[CorpusItem] = field(default_factory=list)


class Interrupted(CalibError):
    """The run was stopped by SIGINT/SIGTERM after flushing the checkpoint."""

    def __init__(self, signum: int) -> None:
        code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}", exit_code=code)
        self.signum = signum


def load_checker_setup(config: RunConfig) -> CheckerConfig:
    """Built-in tiers/profiles for the corpus, overlaid with ``--config``; checks --tiers."""
    base = default_synthetic_config() if config.corpus == "synthetic" else default_lean_config()
    checker = load_checker_config(config.config_path, base) if config.config_path else base
    if config.lean_project is not None:
        from dataclasses import replace

        project = str(config.lean_project)
        verifiers = {
            name: (
                replace(v, options={**v.options, "lean_project": project})
                if v.kind == "lean" and not v.options.get("lean_project")
                else v
            )
            for name, v in checker.verifiers.items()
        }
        checker = replace(checker, verifiers=verifiers)
    check_references(checker)
    unknown = [t for t in config.tiers if t not in checker.tiers]
    if unknown:
        raise CalibError(
            f"unknown tier(s) {', '.join(unknown)}; defined tiers: {', '.join(checker.tiers)} "
            "(add tiers in --config FILE)"
        )
    consensus = config.consensus_verifiers or checker.consensus_verifiers
    missing = [v for v in consensus if v not in checker.verifiers]
    if missing:
        raise CalibError(
            f"--consensus-verifiers names undefined profile(s) {', '.join(missing)}; "
            f"defined: {', '.join(checker.verifiers)}"
        )
    return checker


def select_items(config: RunConfig) -> list[CorpusItem]:
    from calib_async.corpus import select_corpus
    from calib_async.synthetic import generate_synthetic_corpus

    return select_corpus(
        config.corpus,
        n=config.n,
        seed=config.seed,
        corpus_path=config.corpus_path,
        corpus_filter=config.corpus_filter,
        out_dir=config.output_dir,
        lean_project=config.lean_project,
        synthetic=generate_synthetic_corpus,
    )


class Runner:
    """Runs tasks through the scheduler, replaying those already in the checkpoint."""

    def __init__(
        self,
        scheduler: Scheduler,
        writer: CheckpointWriter,
        done: dict[str, TelemetryRecord],
        listeners: Sequence[Listener],
    ) -> None:
        self.scheduler = scheduler
        self.writer = writer
        self.done = done
        self.listeners = listeners

    def _replay(self, task: Task) -> TelemetryRecord | None:
        record = self.done.get(task.key)
        if record is not None:
            for listener in self.listeners:
                listener(RunFinished(task=task, record=record, running=0, resumed=True))
        return record

    async def run_all(self, tasks: Iterable[Task]) -> AsyncIterator[TelemetryRecord]:
        pending: list[Task] = []
        for task in tasks:
            record = self._replay(task)
            if record is not None:
                yield record
            else:
                pending.append(task)
        async for record in self.scheduler.map(pending):
            self.writer.append(record.to_dict())
            self.done[record.task_key] = record
            yield record

    async def run_one(self, task: Task) -> TelemetryRecord:
        record = self._replay(task)
        if record is None:
            record = await self.scheduler.run_one(task)
            self.writer.append(record.to_dict())
            self.done[record.task_key] = record
        return record


async def run_calibration(
    config: RunConfig,
    *,
    listeners: Sequence[Listener] = (),
    handle_signals: bool = False,
) -> CalibrationResult:
    """Run the six stages and write ``config.export``.

    With ``handle_signals`` (the CLI), SIGINT/SIGTERM stop launching, kill running checker
    trees, flush and fsync the log, and raise :class:`Interrupted`; a second signal exits at
    once.

    **Cancellation:** every running checker tree is killed and reaped, the checkpoint is
    flushed and fsynced, then the cancellation propagates. Finished runs are never lost.
    """
    stopped: list[int] = []
    result: CalibrationResult | None = None
    try:
        async with anyio.create_task_group() as tg:
            if handle_signals:
                await tg.start(_watch_signals, tg.cancel_scope, stopped)

            async def main() -> None:
                nonlocal result
                result = await _run_stages(config, listeners)
                tg.cancel_scope.cancel()

            tg.start_soon(main)
    except BaseExceptionGroup as group:  # a task group wraps a CalibError: raise it bare
        user_error = _only_calib_error(group)
        if user_error is None:
            raise
        raise user_error from None
    if stopped:
        raise Interrupted(stopped[0])
    assert result is not None
    return result


def _only_calib_error(group: BaseExceptionGroup) -> CalibError | None:
    """The group's CalibError if it is its only exception (nested groups flattened)."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    if len(leaves) == 1 and isinstance(leaves[0], CalibError):
        return leaves[0]
    return None


async def _watch_signals(
    scope: anyio.CancelScope, stopped: list[int], *, task_status: Any = anyio.TASK_STATUS_IGNORED
) -> None:
    import os

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            if stopped:  # second signal: force the exit now
                os._exit(128 + stopped[0])
            stopped.append(signum)
            log.warning("interrupt.received", signal=signal.Signals(signum).name)
            scope.cancel()


def _check_export_writable(path: Path) -> None:
    """Fail before hours of checking, not after, when --export cannot be written."""
    import os

    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CalibError(
            f"cannot create the directory of --export {path}: {exc.strerror or exc}"
        ) from None
    if path.is_dir():
        raise CalibError(
            f"--export {path} is a directory; give a file path such as {path}/calibration.yaml"
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CalibError(f"--export {path} is not writable; choose another path")


def _emit(listeners: Sequence[Listener], event: StageStarted | StageFinished) -> None:
    for listener in listeners:
        listener(event)


async def _run_stages(config: RunConfig, listeners: Sequence[Listener]) -> CalibrationResult:
    from calib_async.backends import make_backend
    from calib_async.verifiers.registry import build_verifiers

    run_id = uuid.uuid4().hex[:12]
    try:
        config.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CalibError(
            f"cannot create --output-dir {config.output_dir}: {exc.strerror or exc}; "
            "choose a writable directory"
        ) from None
    _check_export_writable(config.export)
    checker = load_checker_setup(config)
    tiers = [checker.tiers[name] for name in config.tiers]

    # Stage 1 -----------------------------------------------------------------------------
    _emit(listeners, StageStarted(1, "corpus selection"))
    items = await anyio.to_thread.run_sync(select_items, config)
    if not items:
        raise CalibError(
            "the corpus is empty after filtering; check --corpus-path and --corpus-filter"
        )
    _emit(listeners, StageFinished(1, "corpus selection", {"items": len(items)}))

    used = {t.verifier for t in tiers} | set(
        config.consensus_verifiers or checker.consensus_verifiers
    )
    verifier_configs = {name: checker.verifiers[name] for name in sorted(used)}
    fingerprint = make_fingerprint(
        items=items,
        tiers={t.name: t for t in tiers},
        verifiers=verifier_configs,
        seed=config.seed,
        n=config.n,
        label_sample=config.label_sample,
        tool_version=__version__,
        extra={
            "timeout_multiplier": config.timeout_multiplier,
            "consensus_verifiers": list(config.consensus_verifiers or checker.consensus_verifiers),
            "corpus": config.corpus,
            "sandbox": config.sandbox,
        },
    )
    contents = prepare_log(config.log_path, fingerprint, resume=config.resume, fresh=config.fresh)
    done: dict[str, TelemetryRecord] = {}
    if contents is not None:
        # finished runs only (cancelled ones run again), first record of each task key
        finished, _ = dedupe_records(contents.records)
        for raw in finished:
            record = TelemetryRecord.from_dict(dict(raw))
            done[record.task_key] = record
        log.info("resume.loaded", records=len(done), torn_bytes=contents.torn_bytes)

    verifiers = build_verifiers(verifier_configs, work_dir=config.output_dir)
    if config.sandbox != "none":
        from calib_async.sandbox import sandboxed_verifiers

        verifiers = sandboxed_verifiers(verifiers, config.sandbox, work_dir=config.output_dir)
    backend = make_backend(
        config.backend, ray_address=config.ray_address, sample_interval_s=config.sample_interval_s
    )

    telemetry: list[TelemetryRecord] = []
    label_runs: list[TelemetryRecord] = []
    with CheckpointWriter(config.log_path) as writer:
        try:
            async with anyio.create_task_group() as syncing:
                # fsync at least once a second even while appends pause (long checker runs)
                syncing.start_soon(sync_periodically, writer)
                async with Scheduler(
                    verifiers=verifiers,
                    workers=config.workers,
                    backend=backend,
                    listeners=listeners,
                    master_seed=config.seed,
                    run_id=run_id,
                ) as scheduler:
                    runner = Runner(scheduler, writer, done, listeners)

                    # Stage 2 -------------------------------------------------------------------
                    tasks = [Task(item, tier, tier.verifier) for item in items for tier in tiers]
                    _emit(
                        listeners,
                        StageStarted(
                            2,
                            "telemetry collection",
                            len(tasks),
                            {t.name: len(items) for t in tiers},
                        ),
                    )
                    async for record in runner.run_all(tasks):
                        telemetry.append(record)
                    _emit(
                        listeners,
                        StageFinished(2, "telemetry collection", _outcome_counts(telemetry)),
                    )

                    # Stage 3 -------------------------------------------------------------------
                    evidence, sample, label_runs = await run_label_stage(
                        config, checker, tiers, items, telemetry, runner, listeners
                    )
                syncing.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                writer.sync()

    labels = merge_labels(evidence)
    labeled = labeled_records(sample, labels)
    write_labels_json(config.output_dir / "labels.json", labels)
    _emit(listeners, StageFinished(3, "ground-truth labelling", label_summary(labels)))

    # Stages 4-6 in a worker thread --------------------------------------------------------
    def compute() -> tuple[dict[str, Any], Path | None]:
        from calib_async.export import build_export, write_export
        from calib_async.stats import fit_and_validate

        _emit(listeners, StageStarted(4, "statistical fitting"))
        fit = fit_and_validate(
            telemetry,
            labeled,
            tiers=tiers,
            validation_split=config.validation_split,
            seed=config.seed,
            bootstrap=config.bootstrap,
        )
        _emit(listeners, StageFinished(4, "statistical fitting"))
        _emit(listeners, StageStarted(5, "cross-tier validation"))
        _emit(listeners, StageFinished(5, "cross-tier validation"))
        _emit(listeners, StageStarted(6, "export"))
        export = build_export(
            fit, config=config, tiers=tiers, labels=label_summary(labels), run_id=run_id
        )
        write_export(config.export, export)
        report_path = None
        if config.report:
            from calib_async.report import write_report

            report_path = write_report(
                config.output_dir / "report.html",
                export=export,
                telemetry=telemetry,
                labeled=labeled,
            )
        _emit(listeners, StageFinished(6, "export", {"path": str(config.export)}))
        return export, report_path

    export, report_path = await anyio.to_thread.run_sync(compute)
    return CalibrationResult(
        export_path=config.export,
        export=export,
        telemetry=telemetry,
        label_runs=label_runs,
        report_path=report_path,
        items=items,
    )


def _outcome_counts(records: Iterable[TelemetryRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


__all__ = ["CalibrationResult", "Interrupted", "RunConfig", "run_calibration"]
