"""The canary flags on the command line and the terminal's tier x class table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from calib_async.cli.canary_table import canary_cell, canary_table
from helpers import run_env

BASE = ["--tiers", "FAST", "--n", "2", "--corpus", "synthetic", "--no-progress"]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    out = ["--export", str(tmp_path / "c.yaml"), "--output-dir", str(tmp_path / "o")]
    return subprocess.run(
        [sys.executable, "-m", "calib_async", *BASE, *out, *args],
        capture_output=True, text=True, env=run_env(), timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--canaries", "nope"], "error: --canaries: unknown class 'nope'; available: sorry, "),
        (["--canaries", " , "], "error: --canaries needs class names separated by commas"),
        (["--canaries", "all", "--canary-sample", "0"], "error: --canary-sample must be >= 1"),
    ],
)
def test_bad_canary_flags_exit_2_before_any_run(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = cli(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o" / "telemetry.jsonl").exists()


def test_table_cells() -> None:
    entry = {"run": 8, "passed": 2, "spurious_pass_rate": 0.25, "not_applicable": 0}
    assert canary_cell(entry) == "2/8 0.25"
    assert canary_cell({"run": 0, "spurious_pass_rate": None, "not_applicable": 3}) == "n/a"
    assert canary_cell({"run": 0, "spurious_pass_rate": None, "not_applicable": 0}) == "–"
    table = canary_table([("FAST", {"canaries": {"sorry": entry}}), ("SLOW", {})])
    console = Console(width=100, record=True)
    console.print(table)
    text = console.export_text()
    assert "FAST" in text and "SLOW" not in text and "sorry" in text
