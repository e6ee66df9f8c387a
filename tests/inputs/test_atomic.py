"""Whole-file outputs: a per-process temporary name, removed on failure; temporary files of
writers that are gone (kill -9) are removed before the next write, a live writer's kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from calib_async.errors import CalibError
from calib_async.inputs.atomic import temp_name, write_atomic


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_stale_temp_of_a_dead_writer_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "cal.yaml"
    stale = tmp_path / f".cal.yaml.{_dead_pid()}.tmp"
    live = tmp_path / f".cal.yaml.{os.getppid()}.tmp"
    stale.write_text("half")
    live.write_text("in progress")
    write_atomic(target, b"whole\n", "--export")
    assert target.read_bytes() == b"whole\n"
    assert not stale.exists() and live.exists()
    assert not temp_name(target).exists()


def test_a_failed_write_leaves_no_temp_and_one_line(tmp_path: Path) -> None:
    target = tmp_path / "dir-in-the-way"
    target.mkdir()  # os.replace of a file over a directory fails
    with pytest.raises(CalibError, match="cannot write --export"):
        write_atomic(target, b"x", "--export")
    assert not temp_name(target).exists()
