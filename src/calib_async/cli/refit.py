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
    _check_refit_flags(args, parser)
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


def _check_refit_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The main command's ranges, for the flags refit shares with it (one line, exit 2)."""
    from calib_async.cli.flag_checks import MAX_BOOTSTRAP
    from calib_async.errors import CalibError
    from calib_async.inputs import INT64_MAX, finite_float, kernel_int

    try:
        if args.validation_split is not None:
            finite_float(
                args.validation_split, "--validation-split", min=0.0, max=1.0, max_exclusive=True
            )
        if args.bootstrap is not None:
            kernel_int(args.bootstrap, "--bootstrap", min=0, max=MAX_BOOTSTRAP)
        if args.seed is not None:
            kernel_int(args.seed, "--seed", min=0, max=INT64_MAX)
        finite_float(
            args.confidence,
            "--confidence",
            min=0.0,
            max=1.0,
            min_exclusive=True,
            max_exclusive=True,
        )
    except CalibError as exc:
        parser.error(str(exc))
