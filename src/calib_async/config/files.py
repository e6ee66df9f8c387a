"""The names of a run's files in ``--output-dir``, and the check ``refit`` makes of its outputs
(without the run's configuration: refit has none)."""

from __future__ import annotations

from pathlib import Path

from calib_async.errors import CalibError
from calib_async.inputs import check_distinct_paths

LABELS_NAME = "labels.json"
REPORT_NAME = "report.html"
TELEMETRY_NAME = "telemetry.jsonl"
MANUAL_NAME = "manual_labels.jsonl"


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
