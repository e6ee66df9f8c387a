"""The files a run reads and writes, checked to be distinct before anything is written."""

from __future__ import annotations

from pathlib import Path

from calib_async.config.run import RunConfig
from calib_async.errors import CalibError
from calib_async.inputs import check_distinct_paths

LABELS_NAME = "labels.json"
REPORT_NAME = "report.html"
TELEMETRY_NAME = "telemetry.jsonl"
MANUAL_NAME = "manual_labels.jsonl"


def input_paths(config: RunConfig) -> dict[str, Path]:
    """The files the run reads, by flag."""
    named = {
        "--config": config.config_path,
        "--corpus-path": config.corpus_path,
        "--manual-labels": config.manual_labels,
        f"{MANUAL_NAME} (--output-dir)": config.output_dir / MANUAL_NAME,
    }
    return {flag: path for flag, path in named.items() if path is not None}


def output_paths(config: RunConfig) -> dict[str, Path]:
    """The files the run writes, by the flag (or flag-derived name) that places them."""
    out = {
        "--telemetry-log": config.log_path,
        f"{LABELS_NAME} (--output-dir)": config.output_dir / LABELS_NAME,
    }
    if config.report:
        out[f"{REPORT_NAME} (--output-dir)"] = config.output_dir / REPORT_NAME
    out["--export"] = config.export  # last: a clash with the log names --export to change
    return out


def check_no_collisions(config: RunConfig) -> None:
    """Refuse, with one line, an output that is an input or another output (same file).

    Same file: same real path (symlinks and ``..`` resolved) or same inode (hard links).
    """
    check_distinct_paths(input_paths(config), output_paths(config), error=CalibError)


def check_refit_paths(output_dir: Path, log_path: Path, export: Path, *, report: bool) -> None:
    """The same policy for ``refit``: its export (and report) may not be any file of the run.

    The run's files are its log (``--telemetry-log`` and ``<output-dir>/telemetry.jsonl``),
    ``labels.json`` (refit only records its split there), the labeller's answers and, unless
    refit rewrites it, ``report.html``.
    """
    protected = {
        "--telemetry-log": log_path,
        f"{TELEMETRY_NAME} (--output-dir)": output_dir / TELEMETRY_NAME,
        f"{LABELS_NAME} (--output-dir)": output_dir / LABELS_NAME,
        f"{MANUAL_NAME} (--output-dir)": output_dir / MANUAL_NAME,
    }
    outputs = {"--export": export}
    report_path = output_dir / REPORT_NAME
    if report:
        outputs = {f"{REPORT_NAME} (--output-dir)": report_path, **outputs}
    else:
        protected[f"{REPORT_NAME} (--output-dir)"] = report_path
    check_distinct_paths(protected, outputs, error=CalibError)
