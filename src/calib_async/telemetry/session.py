"""The checker session shared by stages 2 and 3: the checkpoint (checked against the run's
fingerprint, resumed or started), the backend, the checkers and the scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import structlog

from calib_async.backends import make_backend, running
from calib_async.checkers.api import OpenContext
from calib_async.checkers.registry import open_checkers
from calib_async.checkpoint.fingerprint import make_fingerprint
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import LogContents, dedupe_records, sync_periodically
from calib_async.checkpoint.record_check import record_from_log
from calib_async.checkpoint.writing import CheckpointWriter
from calib_async.events import Listener
from calib_async.profiles import CheckerConfig
from calib_async.records import CorpusItem, TelemetryRecord, Tier
from calib_async.telemetry.resuming import ResumingRunner
from calib_async.telemetry.scheduler import Scheduler
from calib_async.version import __version__

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPlan:
    """What the checker session of stages 2 and 3 needs of the run's settings (the pipeline
    derives it)."""

    output_dir: Path  # the checkers' work directories go under it
    log_path: Path  # the telemetry log (the checkpoint)
    resume: bool
    fresh: bool
    workers: int
    seed: int
    n: int
    corpus: str
    sandbox: str  # "none" | "bwrap" | ...
    backend: str
    ray_address: str | None
    sample_interval_s: float
    #: what defines the label runs (the log's ``labelling`` fingerprint)
    label_sample: int
    label_budget: int | None
    timeout_multiplier: float
    consensus: tuple[str, ...]  # the profiles that vote on ground truth


def load_finished(plan: SessionPlan, fingerprint: dict[str, Any]) -> dict[str, TelemetryRecord]:
    """Finished records of a resumed log by task key (none for a fresh log).

    Every line is checked (line 1 is the header) before the log is touched: a log refused for
    a bad or conflicting record keeps its torn tail. Then finished runs only (cancelled ones
    run again), first record of each task key."""
    done: dict[str, TelemetryRecord] = {}

    def check(contents: LogContents) -> None:
        checked = [
            record_from_log(dict(raw), contents.path, i + 2)
            for i, raw in enumerate(contents.records)
        ]
        finished, _ = dedupe_records(contents.records, path=contents.path)
        kept = {id(raw) for raw in finished}
        for raw, record in zip(contents.records, checked, strict=True):
            if id(raw) in kept:
                done[record.task_key] = record

    contents = prepare_log(
        plan.log_path, fingerprint, resume=plan.resume, fresh=plan.fresh, check=check
    )
    if contents is not None and contents.resumed:  # a fresh log has nothing to report
        log.info("resume.loaded", records=len(done), torn_bytes=contents.torn_bytes)
    return done


def run_fingerprint(
    plan: SessionPlan, checker: CheckerConfig, tiers: Sequence[Tier], items: Sequence[CorpusItem]
) -> dict[str, Any]:
    """What makes the log this run's, in two parts: what defines the telemetry runs (items,
    tiers and their profiles, seed, ``--n``, corpus kind, sandbox) and, under ``labelling``,
    what defines the label runs (sample size, consensus profiles, multiplier, budget).
    Statistics-only settings are not in it (see :mod:`calib_async.checkpoint.fingerprint_parts`).
    """
    consensus = list(plan.consensus)
    return make_fingerprint(
        items=items,
        tiers={t.name: t for t in tiers},
        verifiers={name: checker.verifiers[name] for name in sorted({t.verifier for t in tiers})},
        seed=plan.seed,
        n=plan.n,
        tool_version=__version__,
        extra={"corpus": plan.corpus, "sandbox": plan.sandbox},
        labelling={
            "label_sample": plan.label_sample,
            "label_budget": plan.label_budget,
            "timeout_multiplier": plan.timeout_multiplier,
            "consensus_verifiers": consensus,
            "consensus_profiles": {
                name: checker.verifiers[name].identity() for name in sorted(consensus)
            },
        },
    )


@asynccontextmanager
async def open_session(
    plan: SessionPlan,
    checker: CheckerConfig,
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    *,
    run_id: str,
    listeners: Sequence[Listener],
) -> AsyncIterator[ResumingRunner]:
    """A resume-aware runner over the run's checkpoint and scheduler.

    **Cancellation:** running checker trees are killed and reaped, then the checkpoint is
    fsynced (shielded) before the cancellation propagates; finished runs are never lost.
    """
    used = {t.verifier for t in tiers} | set(plan.consensus)
    verifier_configs = {name: checker.verifiers[name] for name in sorted(used)}
    backend = make_backend(
        plan.backend, ray_address=plan.ray_address, sample_interval_s=plan.sample_interval_s
    )
    ctx = OpenContext(
        work_dir=plan.output_dir,
        backend=backend,
        sandbox=None if plan.sandbox == "none" else plan.sandbox,
        sample_interval_s=plan.sample_interval_s,
        run_id=run_id,
    )
    checkers = open_checkers(verifier_configs, ctx)
    # the log is opened (or created) only once the sandbox and the backend are known to work
    try:
        done = load_finished(plan, run_fingerprint(plan, checker, tiers, items))
    except BaseException:
        with anyio.CancelScope(shield=True):
            for opened in checkers.values():
                await opened.aclose()
        raise
    with CheckpointWriter(plan.log_path) as writer:
        try:
            async with anyio.create_task_group() as syncing:
                # fsync at least once a second even while appends pause (long checker runs)
                syncing.start_soon(sync_periodically, writer)
                async with running(backend), Scheduler(
                    checkers=checkers,
                    workers=plan.workers,
                    listeners=listeners,
                    master_seed=plan.seed,
                    run_id=run_id,
                ) as scheduler:
                    yield ResumingRunner(scheduler, writer, done, listeners)
                syncing.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                writer.sync()
