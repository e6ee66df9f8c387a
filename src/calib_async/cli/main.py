"""``calibrate_noise``: the command line. The only module (with progress.py) that touches the
terminal; it maps errors to exit codes.

Exit codes: 0 success; 1 unexpected internal error; 2 bad input (flags, config, corpus,
checkpoint, a checker that is not installed); 3 every tier failed (most runs VERIFIER_ERROR:
the checker crashes on everything; the YAML is written with that status); 128+N stopped by
signal N (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from calib_async.cli.args import (
    PROG,
    _canary_classes,
    _check,
    _version_line,
    build_label_parser,
    build_parser,
)
from calib_async.cli.streams import detach_stdout, stdout_usable
from calib_async.errors import CalibError, cli_spelling

EXIT_ALL_FAILED = 3

if TYPE_CHECKING:  # imported lazily at run time: `--help` stays fast
    from calib_async.cli.progress import ProgressDisplay
    from calib_async.config.run import RunConfig
    from calib_async.events import Listener
    from calib_async.pipeline import CalibrationResult


def _resume_command(argv: Sequence[str]) -> str:
    kept = [a for a in argv if a not in ("--fresh", "--resume")]
    return shlex.join([PROG, *kept, "--resume"])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["compare"] and not stdout_usable():
        detach_stdout()  # started with stdout closed: the results go to files anyway
    try:
        with cli_spelling():
            return _main(argv)
    except BrokenPipeError:  # the reader of stdout quit; what was written to files stands
        detach_stdout()
        sys.stderr.write(f"{PROG}: stdout was closed by its reader; output files are complete\n")
        return 0


def _main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["--version"]:  # before --tiers/--n/--export are required
            print(_version_line())
            return 0
        if argv[:1] == ["label"]:
            return _label_main(argv[1:])
        if argv[:1] == ["refit"]:
            from calib_async.cli.refit import run_refit

            return run_refit(argv[1:])
        if argv[:1] == ["compare"]:
            from calib_async.cli.compare import run_compare

            return run_compare(argv[1:])
        return _calibrate_main(argv)
    except CalibError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


def _label_main(argv: list[str]) -> int:
    from calib_async.cli.labeller import run_labeler
    from calib_async.cli.logs import configure_logging

    args = build_label_parser().parse_args(argv)
    configure_logging(level="WARNING")
    count = run_labeler(args.output_dir)
    if count:
        print(f"labelled {count} item(s); re-run the calibration with --resume to use them")
    return 0


def _calibrate_main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(args, parser)
    if args.backend == "ray":  # refused before the log is created, not when Ray starts
        import importlib.util

        try:
            found = importlib.util.find_spec("ray") is not None
        except ImportError:
            found = False
        if not found:
            parser.error("--backend ray needs Ray: pip install 'calib-async[ray]'")
    if args.backend == "local":  # ray runs checkers in other processes
        from calib_async.cli.fd_budget import fd_budget_problem

        problem = fd_budget_problem(args.workers)
        if problem is not None:
            parser.error(problem)

    import anyio

    from calib_async.cli.logs import configure_logging
    from calib_async.cli.progress import ProgressDisplay
    from calib_async.cli.signals import Interrupted
    from calib_async.cli.streams import PipeConsole
    from calib_async.config.run import RunConfig

    console = PipeConsole(stderr=False)
    interactive = sys.stdout.isatty() and not args.no_progress
    configure_logging(
        level=args.log_level,
        fmt=args.log_format,
        console=console if interactive else None,
        verbose=args.verbose,
    )
    config = RunConfig(
        tiers=tuple(args.tiers),
        n=args.n,
        export=args.export,
        corpus=args.corpus,
        corpus_path=args.corpus_path,
        corpus_filter=args.corpus_filter,
        workers=args.workers,
        seed=args.seed,
        validation_split=args.validation_split,
        label_sample=args.label_sample,
        label_budget=args.label_budget,
        timeout_multiplier=args.timeout_multiplier,
        consensus_verifiers=tuple(args.consensus_verifiers) if args.consensus_verifiers else None,
        output_dir=args.output_dir,
        telemetry_log=args.telemetry_log,
        config_path=args.config,
        resume=args.resume,
        fresh=args.fresh,
        lean_project=args.lean_project,
        manual_labels=args.manual_labels,
        bootstrap=args.bootstrap,
        report=not args.no_report,
        backend=args.backend,
        ray_address=args.ray_address,
        sandbox=args.sandbox,
        replicates=args.replicates,
        replicate_sample=args.replicate_sample,
        load_levels=args.load_levels or (),
        load_sample=args.load_sample,
        load_rounds=args.load_rounds,
        canaries=_canary_classes(args.canaries),
        canary_sample=args.canary_sample,
    )
    display = ProgressDisplay(console=console, tiers=config.tiers, enabled=interactive)
    try:
        with display:
            result = anyio.run(_run, config, display)
    except Interrupted as exc:
        sys.stderr.write(
            f"{PROG}: {exc}; finished runs are saved in {config.log_path}.\n"
            f"resume with: {_resume_command(argv)}\n"
        )
        from calib_async.cli.signals import exit_if_threads_abandoned

        exit_if_threads_abandoned(exc.exit_code)
        return exc.exit_code
    from calib_async.cli.summary import every_tier_failed

    failed = every_tier_failed(result.export)
    if failed is not None:  # no table, no verdict: nothing was measured
        sys.stderr.write(f"{PROG}: error: {failed}; fix the checker's command or install it\n")
        return EXIT_ALL_FAILED
    display.print_summary(result.export)
    print(f"calibration written to {result.export_path}")
    if result.report_path is not None:
        print(f"report written to {result.report_path}")
    return 0


async def _run(config: RunConfig, display: ProgressDisplay) -> CalibrationResult:
    from calib_async.cli.prewarm import Prewarm
    from calib_async.cli.signals import run_until_signal
    from calib_async.pipeline import run_calibration

    listeners: list[Listener] = [display, Prewarm()]
    return await run_until_signal(
        lambda: run_calibration(config, listeners=listeners)
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
