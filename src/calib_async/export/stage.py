"""Stage 6: the calibration YAML and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from calib_async.checkers.service.summary import service_section
from calib_async.export.document import ExportPlan, build_export, write_export
from calib_async.export.experiments import Experiments
from calib_async.export.provenance import merge_provenance, provenance
from calib_async.export.verdict_keys import add_verdict_keys
from calib_async.labels.store import NAME as LABELS_NAME
from calib_async.labels.store import record_experiments, record_split, split_summary
from calib_async.model import CalibrationDocument
from calib_async.records import LabeledRecord, TelemetryRecord, Tier
from calib_async.stats.canaries import canary_rates
from calib_async.stats.fit import CalibrationFit
from calib_async.stats.stability import stability_models


def export_calibration(
    fit: CalibrationFit,
    *,
    plan: ExportPlan,
    tiers: Sequence[Tier],
    labels: Mapping[str, Any],
    run_id: str,
    telemetry: Sequence[TelemetryRecord],
    labeled: Sequence[LabeledRecord],
    experiments: Experiments | None = None,
    profiles: Mapping[str, Any] | None = None,
    report_path: Path | None = None,
) -> tuple[CalibrationDocument, Path | None]:
    """Write ``plan.export`` (and the report unless disabled); the typed document
    (:class:`calib_async.model.CalibrationDocument`) and the report's path.

    ``experiments`` gives each tier its ``flips``, ``load`` and ``canaries`` (at the fit's
    confidence), the top-level ``lean_repl_designs`` and, with the records from a service
    checker, the ``service`` section (see :mod:`calib_async.checkers.service.summary`); it is
    recorded in ``labels.json`` (``experiments``) for ``refit``. The
    held-out split the statistics used goes into ``labels.json`` (``validation_split``: the
    item ids, their count and sha256) and its count and sha256 into the YAML's
    ``validation_report.held_out_items``, so any figure can be recomputed from the log.
    ``profiles`` (checker profile name -> config) adds the checker commands to the provenance
    keys (:mod:`calib_async.export.provenance`). ``report_path``: where the report goes
    (default ``<output-dir>/report.html``).
    """
    experiments = experiments or Experiments()
    runs = experiments.canaries
    canaries = canary_rates(runs, tiers, fit.confidence) if runs is not None else None
    export = build_export(
        fit, plan=plan, tiers=tiers, labels=labels, run_id=run_id, canaries=canaries
    )
    merge_provenance(
        export["calibration_metadata"],
        provenance(
            tiers=tiers, profiles=profiles, telemetry=telemetry, confidence=fit.confidence
        ),
    )
    add_verdict_keys(
        export, telemetry, held_out=fit.held_out_items, confidence=fit.confidence
    )
    if experiments.repl_designs:  # REPL-pool designs (calib_async.checkers.lean_repl.designs)
        export["lean_repl_designs"] = [dict(d) for d in experiments.repl_designs]
    stability = stability_models(
        telemetry,
        experiments.replicates,
        experiments.load,
        tiers=tiers,
        block_order=experiments.block_order,
    )
    for tier_name, parts in stability.items():
        export["noise_models"][tier_name.lower()].update(parts)
    if service := service_section(telemetry, experiments.service_designs):
        export["service"] = service
    split = split_summary(fit.held_out_items, fit.validation_split, fit.seed)
    export["validation_report"]["held_out_items"] = {
        "count": split["count"],
        "sha256": split["sha256"],
    }
    labels_path = plan.output_dir / LABELS_NAME
    if labels_path.exists():
        record_split(labels_path, split)
        record_experiments(labels_path, experiments.describe())
    # the written file is the typed document's: a key the model cannot read fails here
    document = CalibrationDocument.read(export)
    export = document.to_dict()
    write_export(plan.export, export)
    written = None
    if plan.report:
        from calib_async.export.report import write_report

        written = write_report(
            report_path or plan.output_dir / "report.html",
            export=export,
            telemetry=telemetry,
            labeled=labeled,
            held_out=fit.held_out_items,
        )
    return document, written
