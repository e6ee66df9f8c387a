"""Style and types are checked with the suite: ruff on src, tests and scripts; mypy strict on src.

Both read their settings from pyproject.toml (``[tool.ruff]``, ``[tool.mypy]``). mypy keeps its
cache in ``.mypy_cache/pytest`` under an exclusive lock: two runs sharing a cache at once (two
xdist workers, two sessions) can corrupt it, which shows as a crash, not as a type error.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

import calib_async

ROOT = Path(calib_async.__file__).parent.parent.parent

pytestmark = pytest.mark.slow


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_ruff_finds_nothing() -> None:
    proc = _run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "scripts"], 300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_finds_nothing() -> None:
    cache = ROOT / ".mypy_cache" / "pytest"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        proc = _run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "--cache-dir",
                str(cache),
                "--no-error-summary",
            ],
            900,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "", proc.stdout
