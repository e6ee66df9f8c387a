"""README's library example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import TESTS, run_env

README = TESTS.parent / "README.md"


def library_example() -> str:
    text = README.read_text()
    section = text[text.index("## Library use") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_readme_library_example_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", library_example()],
        cwd=tmp_path,
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [line for line in proc.stdout.splitlines() if line.startswith("[")]  # not logs
    assert printed[-1] == "['VERIFIED']"
    assert printed[0].startswith("['FAST', 'SLOW'] ")
    assert (tmp_path / "demo" / "calibration.yaml").exists()


def test_public_api_import_line() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from calib_async import run_calibration, RunConfig, CalibrationResult, Scheduler, "
            "Task, NoiseModel, CalibError, open_checkers, OpenContext; print('ok')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "ok\n", proc.stderr
