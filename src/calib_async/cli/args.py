"""The command line's flags: the parsers, their help text, and checks across flags."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import NoReturn

from calib_async.errors import CalibError

PROG = "calibrate_noise"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


class DefaultsOnce(argparse.RawDescriptionHelpFormatter):
    """Help that shows each default once: appended as ``(default: X)`` unless the help text
    already names it, and never for flags without one (None, False). Descriptions and
    epilogs are kept as written (wrap them with :func:`wrap`)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or action.option_strings == []
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        return text + " (default: %(default)s)"


#: The subcommands, as ``--help`` lists them.
SUBCOMMANDS = (
    ("label", "calibrate_noise label --output-dir DIR", "label undetermined items by hand"),
    (
        "refit",
        "calibrate_noise refit --output-dir DIR --export PATH",
        "fit, validate and export again from a run's log, with other statistics settings; "
        "no checker runs",
    ),
    (
        "compare",
        "calibrate_noise compare A.yaml B.yaml",
        "compare two calibrations (a CI gate: exit 1 when a rate got significantly worse)",
    ),
)


def wrap(text: str, indent: str = "") -> str:
    """``text`` wrapped at 78 columns (help descriptions are printed as written)."""
    return textwrap.fill(text, 78, initial_indent=indent, subsequent_indent=indent)


def subcommands_epilog() -> str:
    lines = ["subcommands (each has its own --help):"]
    lines += [f"  {usage}\n{wrap(what, '      ')}" for _, usage, what in SUBCOMMANDS]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=wrap(
            "Calibrate noise models for a proof checker: run it over a corpus at several "
            "tiers, label ground truth, fit per-tier timeout / spurious-fail / spurious-pass "
            "rates with confidence intervals, validate them, and export YAML."
        ),
        epilog=subcommands_epilog(),
        formatter_class=DefaultsOnce,
    )
    p.add_argument("--version", action="version", version=_version_line())
    g = p.add_argument_group("what to calibrate")
    g.add_argument(
        "--tiers",
        nargs="+",
        required=True,
        metavar="TIER",
        help="tiers to calibrate; FAST BALANCED SLOW are built in, --config adds more",
    )
    g.add_argument("--n", type=int, required=True, help="number of corpus items to check per tier")
    g.add_argument(
        "--export",
        type=Path,
        required=True,
        help="path of the calibrated noise model YAML to write",
    )
    g.add_argument(
        "--corpus",
        default="mathlib",
        choices=["mathlib", "curriculum", "synthetic", "custom"],
        help="proof corpus; 'synthetic' uses the bundled simulated checker",
    )
    g.add_argument(
        "--corpus-path",
        type=Path,
        default=None,
        help="custom corpus: a list file, a directory of .lean files or a JSONL of "
        "proof attempts (required with --corpus custom); curriculum: its directory",
    )
    g.add_argument(
        "--corpus-filter",
        default=None,
        help="regex searched in module names, e.g. 'Mathlib\\.Algebra\\.'",
    )
    g.add_argument("--workers", type=int, default=8, help="checker processes run at once")
    g.add_argument("--seed", type=int, default=12345, help="master seed for reproducibility")
    g.add_argument(
        "--validation-split",
        type=float,
        default=0.2,
        help="fraction of items held out for validation (0.0-1.0)",
    )
    g.add_argument(
        "--label-sample",
        type=int,
        default=1000,
        help="number of telemetry records sampled (stratified) for ground truth",
    )
    g.add_argument(
        "--timeout-multiplier",
        type=float,
        default=10.0,
        help="largest timeout factor of the escalation ladder (x2, x4, ... up to it)",
    )
    g.add_argument(
        "--consensus-verifiers",
        nargs="+",
        default=None,
        metavar="PROFILE",
        help="checker profiles whose majority vote labels items "
        "(default: 'lean', or the simulated reference profiles for synthetic)",
    )
    o = p.add_argument_group("output")
    o.add_argument(
        "--output-dir",
        type=Path,
        default=Path("./calibration_output"),
        help="directory for telemetry, labels, report and synthetic corpus",
    )
    o.add_argument(
        "--telemetry-log",
        type=Path,
        default=None,
        help="telemetry log / checkpoint (default: <output-dir>/telemetry.jsonl)",
    )
    o.add_argument("--verbose", action="store_true", help="verbose (DEBUG) logging")
    o.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level",
    )
    x = p.add_argument_group("checkers, resuming, reporting")
    x.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML file of checker profiles and tiers (see docs/reference/config.md)",
    )
    x.add_argument(
        "--resume",
        action="store_true",
        help="continue the run whose log is in --output-dir (skips finished tasks)",
    )
    x.add_argument(
        "--fresh",
        action="store_true",
        help="start over; the existing log is moved aside, never deleted",
    )
    x.add_argument(
        "--lean-project",
        type=Path,
        default=None,
        help="Lake workspace root for 'lake env lean' and the mathlib corpus",
    )
    x.add_argument(
        "--manual-labels",
        type=Path,
        default=None,
        help="CSV or JSONL of manual labels (item_id, label VERIFIED|INVALID, tier)",
    )
    x.add_argument(
        "--label-budget",
        type=int,
        default=None,
        metavar="RUNS",
        help="extra label runs to spend on items left undetermined after the first pass "
        "(default: as many as the first pass's consensus runs; 0: one pass only)",
    )
    x.add_argument(
        "--bootstrap",
        type=int,
        default=99,
        help="parametric-bootstrap replicates for the duration goodness of fit",
    )
    x.add_argument("--no-report", action="store_true", help="do not write report.html")
    x.add_argument(
        "--no-progress",
        action="store_true",
        help="no live display (it is also off when stdout is not a terminal)",
    )
    x.add_argument(
        "--log-format",
        default="console",
        choices=["console", "json"],
        help="log lines on stderr as text or one JSON object per line",
    )
    x.add_argument(
        "--sandbox",
        default="none",
        choices=["none", "bwrap"],
        help="run each checker in a bubblewrap sandbox (read-only system, no network)",
    )
    x.add_argument(
        "--canaries",
        default=None,
        metavar="CLASS[,CLASS...]|all",
        help="run canaries (invalid variants by known exploits) of these classes at every tier",
    )
    x.add_argument(
        "--canary-sample",
        type=int,
        default=20,
        metavar="N",
        help="items canaries are derived from, drawn with --seed (default 20)",
    )
    x.add_argument(
        "--backend",
        default="local",
        choices=["local", "ray"],
        help="where checkers run: this machine, or a Ray cluster (extra 'ray')",
    )
    x.add_argument(
        "--ray-address", default=None, help="Ray cluster address (default: start a local Ray)"
    )
    s = p.add_argument_group("verdict stability and load")
    s.add_argument(
        "--replicates",
        type=int,
        default=0,
        metavar="R",
        help="run a seeded sample R more times at each tier and export the flip rate (0: off)",
    )
    s.add_argument(
        "--replicate-sample", type=int, default=30, metavar="N", help="items in that sample"
    )
    s.add_argument(
        "--load-levels",
        default=None,
        metavar="L1,L2,...",
        help="run a seeded sample at each concurrency level (e.g. 1,4,8; at most --workers) "
        "and fit the timeout rate against the level",
    )
    s.add_argument(
        "--load-sample",
        type=int,
        default=20,
        metavar="N",
        help="items run at each load level (in each round)",
    )
    s.add_argument(
        "--load-rounds",
        type=int,
        default=3,
        metavar="R",
        help="rounds of the load experiment, each running every level once in a seeded random "
        "order (>= 3 lets the fit measure between-block variation)",
    )
    return p


def _version_line() -> str:
    from calib_async.version import SCHEMA_VERSION, __version__

    return f"{PROG} {__version__} (export schema {SCHEMA_VERSION})"


def build_label_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=f"{PROG} label",
        description="Label undetermined items interactively; saves after each answer.",
        formatter_class=DefaultsOnce,
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=Path("./calibration_output"),
        help="the calibration's output directory",
    )
    return p


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The documented checks, plus the obvious ranges; integers must fit the kernel's types."""
    if args.n < 1:
        parser.error("--n must be >= 1")
    if not 0.0 <= args.validation_split < 1.0:
        parser.error("--validation-split must be in [0, 1): some items must be left to fit")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    if args.label_sample < 0:
        parser.error("--label-sample must be >= 0")
    if not args.timeout_multiplier >= 1.0:
        parser.error("--timeout-multiplier must be >= 1")
    if args.label_budget is not None and args.label_budget < 0:
        parser.error("--label-budget must be >= 0")
    if args.bootstrap < 0:
        parser.error("--bootstrap must be >= 0")
    if args.replicates < 0 or args.replicate_sample < 1 or args.load_sample < 1:
        parser.error("--replicates must be >= 0, --replicate-sample and --load-sample >= 1")
    if args.load_rounds < 1:
        parser.error("--load-rounds must be >= 1 (3 or more to measure between-block variation)")
    if args.load_levels is not None:
        from calib_async.inputs.levels import concurrency_levels

        try:
            args.load_levels = concurrency_levels(args.load_levels, "--load-levels")
        except CalibError as exc:
            parser.error(str(exc))
        if args.load_levels[-1] > args.workers:
            parser.error(
                f"--load-levels: level {args.load_levels[-1]} exceeds --workers {args.workers}; "
                f"raise --workers to at least {args.load_levels[-1]}"
            )
    if args.resume and args.fresh:
        parser.error("--resume and --fresh exclude each other; pick one")
    if args.corpus == "custom" and args.corpus_path is None:
        parser.error("--corpus-path is required when --corpus=custom")
    if args.corpus_path is not None and not args.corpus_path.exists():
        parser.error(f"--corpus-path {args.corpus_path} does not exist")
    if args.config is not None and not args.config.is_file():
        parser.error(f"--config {args.config} is not a file")
    if args.manual_labels is not None and not args.manual_labels.is_file():
        parser.error(f"--manual-labels {args.manual_labels} is not a file")
    from calib_async.cli.flag_checks import check_flag_values

    check_flag_values(args, parser.error)  # integers that fit, finite numbers, RE2 regexes
    if args.canary_sample < 1:
        parser.error("--canary-sample must be >= 1")
    if args.canaries is not None and not _canary_classes(args.canaries):
        parser.error("--canaries needs class names separated by commas, or 'all'")



def _canary_classes(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())
