"""``--help`` lists every subcommand and shows each default once."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from calib_async.cli.args import SUBCOMMANDS
from helpers import run_env

ENTRY = re.compile(r"^  (-\S+.*?)(?=^  -|\Z)", re.M | re.S)


def help_text(*words: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "calib_async.cli.main", *words, "--help"],
        env={**run_env(), "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_lists_every_subcommand() -> None:
    text = help_text()
    for name, usage, _ in SUBCOMMANDS:
        assert usage in text, name
    assert {"label", "refit", "compare"} <= {name for name, _, _ in SUBCOMMANDS}


@pytest.mark.parametrize("words", [(), ("refit",), ("compare",), ("label",)])
def test_each_default_is_shown_once_and_never_as_none(words: tuple[str, ...]) -> None:
    text = help_text(*words)
    assert "default: None" not in text and "default: False" not in text
    entries = ENTRY.findall(text)
    assert entries
    for entry in entries:
        assert entry.count("default") <= 1, entry
    assert all(len(line) <= 80 for line in text.splitlines())
