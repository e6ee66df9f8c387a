"""The checker session shared by stages 2 and 3: the checkpoint (checked against the run's
fingerprint, resumed or started), the backend, the checkers and the scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

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
from calib_async.config.run import RunConfig
from calib_async.config.setup import consensus_profiles
from calib_async.events import Listener
from calib_async.profiles import CheckerConfig
from calib_async.records import CorpusItem, TelemetryRecord, Tier
from calib_async.telemetry.resuming import ResumingRunner
from calib_async.telemetry.scheduler import Scheduler
from calib_async.version import __version__

log = structlog.get_logger(__name__)


def load_finished(config: RunConfig, fingerprint: dict) -> dict[str, TelemetryRecord]:
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
        config.log_path, fingerprint, resume=config.resume, fresh=config.fresh, check=check
    )
    if contents is not None and contents.resumed:  # a fresh log has nothing to report
        log.info("resume.loaded", records=len(done), torn_bytes=contents.torn_bytes)
    return done


def run_fingerprint(
    config: RunConfig, checker: CheckerConfig, tiers: Sequence[Tier], items: Sequence[CorpusItem]
) -> dict:
    """What makes the log this run's, in two parts: what defines the telemetry runs (items,
    tiers and their profiles, seed, ``--n``, corpus kind, sandbox) and, under ``labelling``,
    what defines the label runs (sample size, consensus profiles, multiplier, budget).
    Statistics-only settings are not in it (see :mod:`calib_async.checkpoint.fingerprint_parts`).
    """
    consensus = list(consensus_profiles(config, checker))
    return make_fingerprint(
        items=items,
        tiers={t.name: t for t in tiers},
        verifiers={name: checker.verifiers[name] for name in sorted({t.verifier for t in tiers})},
        seed=config.seed,
        n=config.n,
        tool_version=__version__,
        extra={"corpus": config.corpus, "sandbox": config.sandbox},
        labelling={
            "label_sample": config.label_sample,
            "label_budget": config.label_budget,
            "timeout_multiplier": config.timeout_multiplier,
            "consensus_verifiers": consensus,
            "consensus_profiles": {
                name: checker.verifiers[name].identity() for name in sorted(consensus)
            },
        },
    )


@asynccontextmanager
async def open_session(
    config: RunConfig,
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
    used = {t.verifier for t in tiers} | set(consensus_profiles(config, checker))
    verifier_configs = {name: checker.verifiers[name] for name in sorted(used)}
    backend = make_backend(
        config.backend, ray_address=config.ray_address, sample_interval_s=config.sample_interval_s
    )
    ctx = OpenContext(
        work_dir=config.output_dir,
        backend=backend,
        sandbox=None if config.sandbox == "none" else config.sandbox,
        sample_interval_s=config.sample_interval_s,
        run_id=run_id,
    )
    checkers = open_checkers(verifier_configs, ctx)
    # the log is opened (or created) only once the sandbox and the backend are known to work
    try:
        done = load_finished(config, run_fingerprint(config, checker, tiers, items))
    except BaseException:
        with anyio.CancelScope(shield=True):
            for opened in checkers.values():
                await opened.aclose()
        raise
    with CheckpointWriter(config.log_path) as writer:
        try:
            async with anyio.create_task_group() as syncing:
                # fsync at least once a second even while appends pause (long checker runs)
                syncing.start_soon(sync_periodically, writer)
                async with running(backend), Scheduler(
                    checkers=checkers,
                    workers=config.workers,
                    listeners=listeners,
                    master_seed=config.seed,
                    run_id=run_id,
                ) as scheduler:
                    yield ResumingRunner(scheduler, writer, done, listeners)
                syncing.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                writer.sync()
