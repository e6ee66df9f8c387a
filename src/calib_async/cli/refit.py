"""``calibrate_noise refit``: the terminal side of :mod:`calib_async.export.refit`.

Re-runs stages 4-6 (fit, validation, export) from a calibration's telemetry log and
``labels.json`` with other statistics settings; starts no checker. Exit codes: 0 written;
2 bad input (usage, a missing or incompatible log or labels file, a run the statistics need
that is not in the log), as one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from calib_async.cli.args import DefaultsOnce, wrap

PROG = "calibrate_noise refit"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_refit_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=wrap(
            "Fit, validate and export a calibration again from its telemetry log and "
            "labels.json, with other statistics settings; no checker runs."
        ),
        formatter_class=DefaultsOnce,
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=Path("./calibration_output"),
        help="the calibration's output directory (telemetry.jsonl, labels.json)",
    )
    p.add_argument("--export", type=Path, required=True, help="YAML file to write")
    p.add_argument(
        "--telemetry-log", type=Path, default=None, help="default: <output-dir>/telemetry.jsonl"
    )
    p.add_argument(
        "--validation-split",
        type=float,
        default=None,
        help="fraction of items held out, in [0, 1) (default: the calibration's)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        help="bootstrap replicates (default: the calibration's)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the split and bootstrap (default: the calibration's)",
    )
    p.add_argument(
        "--confidence", type=float, default=0.95, help="confidence level of every interval"
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help="HTML report to write (default: <output-dir>/report.<export stem>.html; the "
        "calibration's own report.html is replaced only when given here)",
    )
    p.add_argument("--no-report", action="store_true", help="write no report")
    return p


def run_refit(argv: list[str]) -> int:
    """Parse ``argv`` (without the word ``refit``), refit, print where it went; exit code."""
    parser = build_refit_parser()
    args = parser.parse_args(argv)
    if args.validation_split is not None and not 0.0 <= args.validation_split < 1.0:
        parser.error("--validation-split must be in [0, 1)")
    if args.bootstrap is not None and args.bootstrap < 0:
        parser.error("--bootstrap must be >= 0")
    if not 0.0 < args.confidence < 1.0:
        parser.error("--confidence must be in (0, 1)")
    from calib_async.cli.logs import configure_logging
    from calib_async.export.refit import RefitSettings, refit_calibration

    configure_logging(level="WARNING")
    result = refit_calibration(
        args.output_dir,
        export=args.export,
        settings=RefitSettings(
            validation_split=args.validation_split,
            bootstrap=args.bootstrap,
            seed=args.seed,
            confidence=args.confidence,
            report=not args.no_report,
            report_path=args.report,
        ),
        telemetry_log=args.telemetry_log,
    )
    print(f"calibration written to {result.export_path} (refit from {result.runs} logged runs)")
    if result.report_path is not None:
        print(f"report written to {result.report_path}")
    return 0
