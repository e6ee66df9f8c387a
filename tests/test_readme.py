"""The library example (docs/reference/library.md) runs as written; the library never prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import TESTS, run_env

LIBRARY = TESTS.parent / "docs" / "reference" / "library.md"


def library_example() -> str:
    text = LIBRARY.read_text()
    match = re.search(r"```python\n(.*?)```", text, re.S)
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
    printed = proc.stdout.splitlines()  # the example's two prints and nothing else: no logs
    assert len(printed) == 2, proc.stdout[-3000:]
    assert printed[-1] == "['VERIFIED']"
    assert printed[0].startswith("['FAST', 'SLOW'] ")
    assert (tmp_path / "demo" / "calibration.yaml").exists()


def test_library_run_writes_nothing_on_stdout_and_a_rerun_speaks_runconfig(
    tmp_path: Path,
) -> None:
    """Used as a library, a whole calibration leaves stdout to the caller (a training script
    may parse it); DEBUG logging of the caller's own stdlib setup does not change that. A
    second run into the same directory is refused in RunConfig's terms, not CLI flags."""
    script = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "import anyio\n"
        "from calib_async import RunConfig, run_calibration, CalibError\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "config = RunConfig(tiers=('FAST',), n=4, export=Path('d/c.yaml'), corpus='synthetic',\n"
        "    output_dir=Path('d'), label_sample=4, bootstrap=0, report=False)\n"
        "anyio.run(run_calibration, config)\n"
        "try:\n"
        "    anyio.run(run_calibration, config)\n"
        "except CalibError as exc:\n"
        "    sys.stderr.write(f'RERUN: {exc}\\n')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == ""
    assert "DEBUG:calib_async." in proc.stderr  # the caller's logging setup gets the events
    rerun = next(line for line in proc.stderr.splitlines() if line.startswith("RERUN: "))
    assert "RunConfig(resume=True)" in rerun and "RunConfig(fresh=True)" in rerun
    assert "--resume" not in rerun and "--fresh" not in rerun


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
