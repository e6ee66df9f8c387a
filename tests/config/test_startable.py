"""Checkers that can never start are refused before stage 2; here the parts the catalogue
cannot set up: a file system without free inodes or space for the runs' directories."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from calib_async.config import startable
from calib_async.errors import CalibError


def _fs(files: int, favail: int, bavail: int) -> SimpleNamespace:
    return SimpleNamespace(f_files=files, f_favail=favail, f_bavail=bavail)


@pytest.mark.parametrize(
    ("fs", "message"),
    [(_fs(1000, 0, 10), "no free inodes"), (_fs(1000, 5, 0), "is full"), (_fs(0, 0, 10), None)],
)
def test_workdir_file_system_without_inodes_or_space(
    monkeypatch: pytest.MonkeyPatch, fs: SimpleNamespace, message: str | None
) -> None:
    monkeypatch.setattr(os, "statvfs", lambda path: fs)
    if message is None:  # f_files 0: the file system does not count inodes (btrfs): fine
        startable._check_workdir_space()
    else:
        with pytest.raises(CalibError, match=message):
            startable._check_workdir_space()
