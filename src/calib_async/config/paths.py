"""The files a run reads and writes, checked to be distinct before anything is written."""

from __future__ import annotations

from pathlib import Path

from calib_async.config.files import LABELS_NAME, MANUAL_NAME, REPORT_NAME, TELEMETRY_NAME
from calib_async.config.run import RunConfig
from calib_async.errors import CalibError
from calib_async.inputs import check_distinct_paths

__all__ = [
    "LABELS_NAME",
    "MANUAL_NAME",
    "REPORT_NAME",
    "TELEMETRY_NAME",
    "check_no_collisions",
    "input_paths",
    "output_paths",
]


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
