"""The simulation scripts of issue 27 run end to end with tiny arguments (CI keeps them alive)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("drift_study.py", ["--reps", "1", "--items", "60"], "burst, in load"),
        ("stability_study.py", ["--reps", "2"], "5% items flip 0.3"),
        ("load_block_study.py", ["--reps", "1", "--items", "8"], "minimum coverage"),
        ("canary_coverage.py", ["--n", "5", "--grid", "50", "--reps", "5"], "minimum canary"),
        (
            "compare_study.py",
            ["--reps", "1", "--items", "60", "--labels", "20", "--tier", "SLOW"],
            "missed doublings",
        ),
    ],
)
def test_simulation_script_runs_with_tiny_arguments(
    script: str, args: list[str], expect: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expect in done.stdout
