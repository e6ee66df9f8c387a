"""Canaries are written under the output dir without following symlinks: the corpus is only
read, whatever was planted under ``<output-dir>/canaries``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from calib_async.corpus.canary_set import CANARY_DIR, write_no_follow
from calib_async.errors import CalibError


def test_a_file_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.lean"
    corpus.write_text("the corpus\n")
    target = tmp_path / "out" / CANARY_DIR / "cls" / "item"
    target.mkdir(parents=True)
    os.symlink(corpus, target / "p.lean")
    write_no_follow(tmp_path / "out", (CANARY_DIR, "cls", "item"), "p.lean", b"canary\n")
    assert corpus.read_text() == "the corpus\n"
    assert not (target / "p.lean").is_symlink()
    assert (target / "p.lean").read_bytes() == b"canary\n"
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("level", [0, 1, 2])
def test_a_directory_symlink_is_refused(tmp_path: Path, level: int) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "p.lean").write_text("the corpus\n")
    parts = (CANARY_DIR, "cls", "item")
    parent = tmp_path / "out" / Path(*parts[:level])
    parent.mkdir(parents=True, exist_ok=True)
    os.symlink(corpus, parent / parts[level])
    with pytest.raises(CalibError, match="not a plain directory"):
        write_no_follow(tmp_path / "out", parts, "p.lean", b"canary\n")
    assert sorted(p.name for p in corpus.iterdir()) == ["p.lean"]
    assert (corpus / "p.lean").read_text() == "the corpus\n"
