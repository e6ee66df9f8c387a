"""Write docs/reference/cli.md from the command line's own parsers (its help text).

    python scripts/gen_cli_reference.py            # rewrite docs/reference/cli.md
    python scripts/gen_cli_reference.py --check    # exit 1 when the file is out of date

tests/test_docs.py runs the check, so the reference never drifts from the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from calib_async.cli.args import SUBCOMMANDS, build_label_parser, build_parser
from calib_async.cli.compare import build_compare_parser
from calib_async.cli.refit import build_refit_parser

OUT = Path(__file__).resolve().parents[1] / "docs" / "reference" / "cli.md"

INTRO = """# Command-line reference

Generated from the parsers by `scripts/gen_cli_reference.py` (a test fails when it is out of
date). Exit codes: 0 success; 2 bad input (one line on stderr, never a traceback); 130 / 143 /
129 stopped by SIGINT / SIGTERM / SIGHUP in any phase (a calibration prints the resume command;
`refit`, `compare` and `label` print one line and leave no half-written file); 1 an internal
error (`compare`: a rate got significantly worse).
"""


def render() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width: fix it
    parts = [INTRO]
    parsers = [("calibrate_noise", build_parser())] + [
        (f"calibrate_noise {name}", build)
        for name, build in (
            ("label", build_label_parser()),
            ("refit", build_refit_parser()),
            ("compare", build_compare_parser()),
        )
    ]
    for title, parser in parsers:
        word = title.split()[-1]
        what = next((w for n, _, w in SUBCOMMANDS if n == word), "")
        parts.append(f"## `{title}`\n\n{what + chr(10) + chr(10) if what else ''}"
                     f"```text\n{parser.format_help().rstrip()}\n```\n")  # fmt: skip
    return "\n".join(parts)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    args = p.parse_args()
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            sys.stderr.write(f"{OUT} is out of date: run python scripts/gen_cli_reference.py\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
