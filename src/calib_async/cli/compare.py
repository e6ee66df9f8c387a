"""``calibrate_noise compare A.yaml B.yaml``: the terminal side of ``calib_async.stats.compare``.

CLI code (it prints). Exit codes: 0 nothing fails the gate; 1 some rate fails it (``--fail-on
worse``: significantly worse; ``any``: significantly different; ``never``: nothing fails), each
failure named on stderr as ``<tier> <rate>``, and nothing else: the gate's code is never an
error's; 2 bad input (usage, unreadable or special file, not a calibration, schema mismatch,
no tier in common), as one line on stderr; 3 the result could not be written (stdout closed,
or its reader quit) or an internal error, as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from calib_async.cli.args import DefaultsOnce, wrap
from calib_async.cli.streams import PipeConsole, detach_stdout, stdout_usable
from calib_async.cli.visible import visible_line
from calib_async.errors import CalibError
from calib_async.inputs import describe, load_yaml_text, open_regular_file
from calib_async.stats.compare import CompareResult, FailOn, RateComparison, Verdict

PROG = "calibrate_noise compare"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_compare_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=wrap(
            "Compare two calibrations (A = before, B = after): every rate of every tier in "
            "both, B - A with a CI, Holm-corrected p-values. Exit 0 when nothing fails the "
            "gate, 1 when something does, 2 for bad input."
        ),
        formatter_class=DefaultsOnce,
    )
    p.add_argument("a", type=Path, metavar="A.yaml", help="the reference calibration")
    p.add_argument("b", type=Path, metavar="B.yaml", help="the calibration to check")
    p.add_argument(
        "--alpha", type=float, default=0.05, help="family-wise error rate (Holm), in (0, 1)"
    )
    p.add_argument(
        "--fail-on",
        choices=[f.value for f in FailOn],
        default=FailOn.WORSE.value,
        help="exit 1 when a rate is significantly worse, different at all, or never",
    )
    p.add_argument(
        "--format", choices=["table", "json", "markdown"], default="table", help="stdout format"
    )
    return p


#: Exit code of a result that could not be written, or of an internal error (never 1).
EXIT_FAILED = 3
#: An export larger than this is not one calibrate_noise wrote.
MAX_EXPORT_BYTES = 64 << 20


def run_compare(argv: list[str]) -> int:
    """Parse ``argv`` (without the word ``compare``), compare, print, return the exit code."""
    try:
        return _run_compare(argv)
    except SystemExit as exc:  # usage error (2) or --help (0)
        return int(exc.code or 0)
    except BrokenPipeError:
        return _failed("stdout was closed before the result was written (its reader quit)")
    except OSError as exc:
        return _failed(f"cannot write the result: {exc.strerror or exc}")
    except Exception as exc:  # an internal error: one line, and never the gate's code 1
        return _failed(f"internal error ({type(exc).__name__}: {exc}); please report it")


def _failed(message: str) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(f"{PROG}: error: {message}\n")
        sys.stderr.flush()
    detach_stdout()
    return EXIT_FAILED


def _run_compare(argv: list[str]) -> int:
    args = build_compare_parser().parse_args(argv)
    if not stdout_usable():
        return _failed("stdout is closed; redirect it to a file or a pipe")
    try:
        if not (0.0 < args.alpha < 1.0):
            raise CalibError(f"--alpha must be between 0 and 1 (exclusive), not {args.alpha}")
        from calib_async.export.provenance import setup_changes
        from calib_async.stats.compare import compare_calibrations

        doc_a, doc_b = _load(args.a, "A"), _load(args.b, "B")
        result = compare_calibrations(doc_a, doc_b, alpha=args.alpha, names=("A", "B"))
        changes = setup_changes(doc_a, doc_b)
        if not result.rows:
            raise CalibError(
                f"A and B have no tier in common (A: {_names(result.only_in_a)}; B: "
                f"{_names(result.only_in_b)}); compare calibrations of the same tiers"
            )
    except CalibError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return exc.exit_code
    failures = result.failures(FailOn(args.fail_on))
    if args.format == "json":
        sys.stdout.write(json.dumps({**result.to_dict(), "changed": changes}, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(result, args.a, args.b, changes))
    else:
        _render_table(result, args.a, args.b, changes)
    for row in failures:
        sys.stderr.write(
            f"{PROG}: {row.verdict.value}: tier {row.tier} {row.rate}: {_num(row.a)} -> "
            f"{_num(row.b)} (p_holm {_p(row.p_holm)})\n"
        )
    sys.stdout.flush()
    return 1 if failures else 0


def _names(tiers: tuple[str, ...]) -> str:
    return ", ".join(visible_line(t) for t in tiers[:10]) or "none"


def _load(path: Path, name: str) -> Any:
    """An export, through the same checks as every YAML input: a regular file of bounded size,
    JSON values only, no duplicate key, bounded aliases and depth."""
    where = f"{name} ({describe(path, limit=200)})"
    with open_regular_file(path, name) as fh:
        data = fh.read(MAX_EXPORT_BYTES + 1)
    if len(data) > MAX_EXPORT_BYTES:
        raise CalibError(f"{where} is larger than {MAX_EXPORT_BYTES >> 20} MiB; pass an export")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CalibError(f"{where} is not UTF-8 text; pass an export") from None
    return load_yaml_text(text, source=where, error=CalibError, number_keys=True)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _p(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2g}" if x < 0.001 else f"{x:.3f}"


def _diff(r: RateComparison) -> str:
    if r.diff is None:
        return "-"
    if r.ci is None:
        return f"{r.diff:+.4f}"
    return f"{r.diff:+.4f} [{r.ci[0]:+.4f}, {r.ci[1]:+.4f}]"


def _cells(r: RateComparison) -> list[str]:
    return [r.tier, r.rate, _num(r.a), _num(r.b), _diff(r), _p(r.p_holm), r.verdict.value, r.note]


HEADERS = ["tier", "rate", "A", "B", "B-A [CI]", "p (Holm)", "verdict", "note"]
_STYLE = {
    Verdict.WORSE: "bold red",
    Verdict.BETTER: "green",
    Verdict.NOT_COMPARABLE: "yellow",
    Verdict.DESCRIPTIVE: "dim",
}


def _summary(result: CompareResult, changes: list[str] | None = None) -> list[str]:
    level = 1.0 - result.alpha
    lines = [f"changed between A and B: {change}" for change in changes or ()]
    lines += [
        f"B - A with {level:.0%} CIs; Holm-adjusted p over {_tested(result)} tests, "
        f"alpha {result.alpha:g}; timeout_model rows are descriptive (no test)"
    ]
    lines += [f"tier only in A: {t}" for t in result.only_in_a]
    lines += [f"tier only in B: {t}" for t in result.only_in_b]
    counts = {v: sum(r.verdict is v for r in result.rows) for v in Verdict}
    lines.append(", ".join(f"{n} {v.value}" for v, n in counts.items() if n))
    return lines


def _tested(result: CompareResult) -> int:
    return sum(r.p_holm is not None for r in result.rows)


def _render_table(
    result: CompareResult, a: Path, b: Path, changes: list[str] | None = None
) -> None:
    from rich.table import Table

    console = PipeConsole(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"A = {a}   B = {b}")
    for h in HEADERS:
        table.add_column(h, no_wrap=h != "note", overflow="fold")
    for r in result.rows:
        table.add_row(*_cells(r), style=_STYLE.get(r.verdict))
    console.print(table)
    for line in _summary(result, changes):
        console.print(line, highlight=False, markup=False)


def render_markdown(
    result: CompareResult, a: Path, b: Path, changes: list[str] | None = None
) -> str:
    """A GitHub-flavoured markdown table (for CI bots)."""
    out = [f"**A** = `{a}`, **B** = `{b}`", "", "| " + " | ".join(HEADERS) + " |"]
    out.append("|" + "---|" * len(HEADERS))
    for r in result.rows:
        cells = [c.replace("|", "\\|") for c in _cells(r)]
        if r.verdict is Verdict.WORSE:
            cells[6] = f"**{cells[6]}**"
        out.append("| " + " | ".join(cells) + " |")
    out += ["", *(f"- {line}" for line in _summary(result, changes))]
    return "\n".join(out) + "\n"
