"""``calibrate_noise refit``: stages 4-6 again, from the telemetry log and ``labels.json``.

Nothing runs: the telemetry runs come from the log, the labelled sample and its labels from
``labels.json`` (with the tiers and settings the calibration used), and only the statistics
settings may change (``--validation-split``, ``--bootstrap``, the split ``--seed``,
``--confidence``). Every run the statistics need must be in the log: each (item, tier)
telemetry run of the log's corpus, every sampled record, and every run of the experiments
``labels.json`` names (replicates, load, canaries: :mod:`calib_async.export.experiments`,
which also keeps the REPL and service designs); a missing one is refused in one line (finish
the calibration with ``--resume`` first).

Compatibility: a log of another tool version is accepted when its format is this version's
(``checkpoint.reading.FORMAT``) and its records have every field this version needs; a
``labels.json`` must be ``labels.store.FORMAT``. Otherwise one line says what to do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from calib_async.checkpoint.binding import MAX_HEADER_BYTES
from calib_async.checkpoint.reading import FORMAT as LOG_FORMAT
from calib_async.checkpoint.reading import dedupe_records, read_log
from calib_async.checkpoint.record_check import record_from_log
from calib_async.config.files import check_refit_paths
from calib_async.errors import CalibError, CheckpointError
from calib_async.export.document import ExportPlan
from calib_async.export.experiments import read_experiments
from calib_async.export.refit_inputs import (
    SampleEntry,
    check_bound_to_log,
    read_labels_doc,
)
from calib_async.export.stage import export_calibration
from calib_async.inputs import open_regular_file, output_file_target
from calib_async.labels.store import NAME as LABELS_NAME
from calib_async.labels.store import read_reference
from calib_async.model import CalibrationDocument
from calib_async.records import (
    CorpusItem,
    LabeledRecord,
    Phase,
    TelemetryRecord,
    Tier,
    task_key,
)
from calib_async.version import __version__

log = structlog.get_logger(__name__)

#: The most bootstrap replicates refit accepts (the main command's --bootstrap maximum).
MAX_BOOTSTRAP = 100_000


@dataclass(frozen=True, slots=True)
class RefitSettings:
    """The statistics settings of a refit; None keeps the calibration's own."""

    validation_split: float | None = None
    bootstrap: int | None = None
    seed: int | None = None
    confidence: float = 0.95
    report: bool = True
    #: where the report goes; default ``<output-dir>/report.<export stem>.html``, never the
    #: calibration's own report.html unless given
    report_path: Path | None = None


@dataclass(frozen=True, slots=True)
class RefitResult:
    export_path: Path
    document: CalibrationDocument  # the export written, typed (``document.to_dict()``: its YAML)
    report_path: Path | None
    runs: int

    @property
    def export(self) -> dict[str, Any]:
        """The export as written (calibration.yaml's mapping)."""
        return self.document.to_dict()


def refit_calibration(
    output_dir: Path,
    *,
    export: Path,
    settings: RefitSettings = RefitSettings(),
    telemetry_log: Path | None = None,
) -> RefitResult:
    """Fit, validate and export again from ``output_dir``'s log and labels; no checker runs."""
    from calib_async.stats.fit import fit_and_validate

    log_path = telemetry_log or output_dir / "telemetry.jsonl"
    check_refit_paths(output_dir, log_path, export, report=settings.report)
    output_file_target(export, "--export")
    labels_path = output_dir / LABELS_NAME
    doc = read_labels_doc(labels_path)
    run = doc.run
    header, records = _read_records(
        log_path, lambda first: check_bound_to_log(doc, labels_path, log_path, first)
    )
    tiers = list(doc.tiers)
    telemetry = _telemetry_runs(header, records, tiers, log_path)
    labeled = _labeled(doc.sample, records, log_path)
    seed = int(run["seed"]) if settings.seed is None else settings.seed
    split = float(
        run["validation_split"] if settings.validation_split is None else settings.validation_split
    )
    bootstrap = int(run["bootstrap"]) if settings.bootstrap is None else settings.bootstrap
    if not 0.0 <= split < 1.0:
        raise CalibError(f"--validation-split must be in [0, 1), not {split}")
    if bootstrap > MAX_BOOTSTRAP:
        raise CalibError(
            f"bootstrap {bootstrap} is above {MAX_BOOTSTRAP}; pass a lower --bootstrap"
        )
    fit = fit_and_validate(
        telemetry,
        labeled,
        tiers=tiers,
        validation_split=split,
        seed=seed,
        bootstrap=bootstrap,
        confidence=settings.confidence,
        reference=read_reference({"reference": doc.reference}),
        own_judge=dict(doc.own_judge) if doc.own_judge else None,
        ladders=_ladder_runs(records, tiers),
    )
    plan = ExportPlan(
        export=export,
        output_dir=output_dir,
        report=settings.report,
        corpus=str(run["corpus"]),
        n=int(run["n"]),
        seed=int(run["seed"]),
        validation_split=split,
        label_sample=int(run["label_sample"]),
        timeout_multiplier=float(run["timeout_multiplier"]),
    )
    experiments = read_experiments(
        doc.experiments, records, where=f"{labels_path}: experiments", log=str(log_path)
    )
    document, report_path = export_calibration(
        fit,
        plan=plan,
        tiers=tiers,
        labels=run.get("labels") or {},
        run_id=uuid.uuid4().hex[:12],
        telemetry=telemetry,
        labeled=labeled,
        experiments=experiments,
        profiles=(header.get("fingerprint") or {}).get("verifiers") or None,
        report_path=settings.report_path or output_dir / f"report.{Path(export).stem}.html",
    )
    return RefitResult(export, document, report_path, len(records))


def _read_records(
    path: Path, check_first: Callable[[bytes], None]
) -> tuple[dict[str, Any], dict[str, TelemetryRecord]]:
    """The log's header and finished records by task key, read only (a torn tail is left).

    ``check_first`` sees the header line before any record is read."""
    try:
        with open_regular_file(path, "--telemetry-log") as fh:
            first = fh.readline(MAX_HEADER_BYTES)
    except OSError as exc:
        raise CalibError(f"cannot read the telemetry log {path}: {exc.strerror or exc}") from None
    try:
        head = orjson.loads(first)
    except orjson.JSONDecodeError:
        head = None
    if not isinstance(head, dict) or head.get("kind") != "header":
        raise CalibError(f"{path} is not a calibrate_noise telemetry log")
    check_first(first)
    if head.get("format") != LOG_FORMAT:
        raise CalibError(
            f"{path} has log format {head.get('format')!r}; this version reads format "
            f"{LOG_FORMAT}: refit it with the calibrate_noise that wrote it"
        )
    try:
        contents = read_log(path, truncate_torn=False)
    except CheckpointError as exc:
        raise CalibError(f"cannot refit from {path}: {exc}") from None
    try:
        checked = [
            record_from_log(dict(raw), path, i + 2) for i, raw in enumerate(contents.records)
        ]
    except (TypeError, ValueError) as exc:
        raise CalibError(
            f"{path} holds records this version cannot read ({exc}); refit it with the "
            "calibrate_noise that wrote it"
        ) from None
    finished, _ = dedupe_records(contents.records, path=path)
    kept = {id(raw) for raw in finished}
    out: dict[str, TelemetryRecord] = {
        record.task_key: record
        for raw, record in zip(contents.records, checked, strict=True)
        if id(raw) in kept
    }
    version = (contents.header.get("fingerprint") or {}).get("tool_version")
    if version != __version__:
        log.info("refit.other_tool_version", log_version=version, this_version=__version__)
    return contents.header, out


def _ladder_runs(records: dict[str, TelemetryRecord], tiers: list[Tier]) -> list[TelemetryRecord]:
    """The tiers' escalation attempts in the log (``calib_async.stats.escalations``)."""
    names = {t.name for t in tiers}
    label = Phase.LABEL.value
    return [r for r in records.values() if r.phase == label and r.attempt >= 1 and r.tier in names]


def _telemetry_runs(
    header: dict[str, Any],
    records: dict[str, TelemetryRecord],
    tiers: list[Tier],
    path: Path,
) -> list[TelemetryRecord]:
    """Every (item, tier) telemetry run of the log's corpus; CalibError when one is missing."""
    corpus = ((header.get("fingerprint") or {}).get("corpus") or {}).get("items") or {}
    missing, out = [], []
    for item_id, content_hash in sorted(corpus.items()):
        item = CorpusItem(item_id, item_id, "", content_hash)
        for tier in tiers:
            key = task_key(item, tier.name, Phase.TELEMETRY, 0, tier.verifier)
            record = records.get(key)
            if record is None:
                missing.append(key)
            else:
                out.append(record)
    if missing:
        raise CalibError(
            f"refit needs {len(missing)} telemetry run(s) that are not in {path} (e.g. "
            f"{missing[0]}); finish the calibration with --resume first"
        )
    return out


def _labeled(
    sample: Sequence[SampleEntry], records: dict[str, TelemetryRecord], path: Path
) -> list[LabeledRecord]:
    out, missing = [], []
    for entry in sample:
        record = records.get(entry.task_key)
        if record is None:
            missing.append(entry.task_key)
            continue
        out.append(
            LabeledRecord(
                record, entry.truth, entry.method, entry.confidence, entry.stratum, entry.weight
            )
        )
    if missing:
        raise CalibError(
            f"refit needs {len(missing)} sampled run(s) that are not in {path} (e.g. "
            f"{missing[0]}); the log and labels.json are of different runs"
        )
    return out
