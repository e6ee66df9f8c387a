from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_env

PLAN_FLAGS = [
    "--tiers",
    "--n",
    "--export",
    "--corpus",
    "--corpus-path",
    "--corpus-filter",
    "--workers",
    "--seed",
    "--validation-split",
    "--label-sample",
    "--timeout-multiplier",
    "--consensus-verifiers",
    "--output-dir",
    "--telemetry-log",
    "--verbose",
    "--log-level",
    "--config",
]


def cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calib_async", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=run_env(),
        timeout=timeout,
    )


def test_version_prints_the_tool_and_schema_version() -> None:
    from calib_async.version import SCHEMA_VERSION, __version__

    out = cli("--version")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == f"calibrate_noise {__version__} (export schema {SCHEMA_VERSION})\n"
    assert "--version" in cli("--help").stdout
    later = cli("--tiers", "FAST", "--version")  # argparse's action, anywhere on the line
    assert (later.returncode, later.stdout) == (0, out.stdout)


def test_help_lists_every_plan_flag() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for flag in PLAN_FLAGS:
        assert flag in out.stdout, flag


BASE = ["--tiers", "FAST", "--n", "5", "--export", "x.yaml", "--corpus", "synthetic"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tiers", "FAST", "--n", "0", "--export", "x.yaml"], "--n must be >= 1"),
        ([*BASE, "--validation-split", "1.5"], "--validation-split"),
        ([*BASE, "--workers", "0"], "--workers must be >= 1"),
        (
            ["--tiers", "FAST", "--n", "5", "--export", "x.yaml", "--corpus", "custom"],
            "--corpus-path is required",
        ),
        (
            [
                "--tiers",
                "FAST",
                "--n",
                "5",
                "--export",
                "x.yaml",
                "--corpus",
                "custom",
                "--corpus-path",
                "/nonexistent",
            ],
            "does not exist",
        ),
        (
            ["--tiers", "FAST", "TURBO", "--n", "5", "--export", "x.yaml", "--corpus", "synthetic"],
            "unknown tier(s) TURBO",
        ),
        ([*BASE, "--workers", "many"], "invalid int value"),
        ([*BASE, "--resume", "--fresh"], "exclude each other"),
        (["--n", "5", "--export", "x.yaml"], "required: --tiers"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    out = cli(*args, "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert needle in lines[0]
    assert "Traceback" not in out.stderr
