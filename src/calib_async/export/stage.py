"""Stage 6: the calibration YAML and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from calib_async.checkers.service.summary import service_section
from calib_async.config.run import RunConfig
from calib_async.export.document import build_export, write_export
from calib_async.labels.store import NAME as LABELS_NAME
from calib_async.labels.store import record_split, split_summary
from calib_async.records import LabeledRecord, TelemetryRecord, Tier
from calib_async.stats.canaries import canary_rates
from calib_async.stats.fit import CalibrationFit
from calib_async.telemetry.canaries import CanaryRuns


def export_calibration(
    fit: CalibrationFit,
    *,
    config: RunConfig,
    tiers: Sequence[Tier],
    labels: Mapping[str, Any],
    run_id: str,
    telemetry: Sequence[TelemetryRecord],
    labeled: Sequence[LabeledRecord],
    stability: Mapping[str, Mapping[str, Any]] | None = None,
    canary_runs: CanaryRuns | None = None,
    repl_designs: Sequence[Mapping[str, Any]] = (),
    service_designs: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], Path | None]:
    """Write ``config.export`` (and the report unless disabled); the document and report path.

    ``stability`` maps a tier's name to keys added to its noise model (``flips``, ``load``);
    ``canary_runs`` gives each tier its ``canaries`` section; ``repl_designs`` becomes the
    top-level ``lean_repl_designs``; records from a service checker and ``service_designs``
    give the ``service`` section (see :mod:`calib_async.checkers.service.summary`). The
    held-out split the statistics used goes into ``labels.json`` (``validation_split``: the
    item ids, their count and sha256) and its count and sha256 into the YAML's
    ``validation_report.held_out_items``, so any
    figure can be recomputed from the log.
    """
    canaries = canary_rates(canary_runs, tiers) if canary_runs is not None else None
    export = build_export(
        fit, config=config, tiers=tiers, labels=labels, run_id=run_id, canaries=canaries
    )
    if repl_designs:  # REPL-pool designs (calib_async.checkers.lean_repl.designs)
        export["lean_repl_designs"] = [dict(d) for d in repl_designs]
    for tier_name, parts in (stability or {}).items():
        export["noise_models"][tier_name.lower()].update(parts)
    if service := service_section(telemetry, service_designs):
        export["service"] = service
    split = split_summary(fit.held_out_items, fit.validation_split, fit.seed)
    export["validation_report"]["held_out_items"] = {
        "count": split["count"],
        "sha256": split["sha256"],
    }
    labels_path = config.output_dir / LABELS_NAME
    if labels_path.exists():
        record_split(labels_path, split)
    write_export(config.export, export)
    report_path = None
    if config.report:
        from calib_async.export.report import write_report

        report_path = write_report(
            config.output_dir / "report.html",
            export=export,
            telemetry=telemetry,
            labeled=labeled,
            held_out=fit.held_out_items,
        )
    return export, report_path
