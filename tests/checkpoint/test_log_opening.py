"""Opening the checkpoint log: a new log, resume, fresh, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from calib_async.checkpoint import writing as checkpoint_writer
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import (
    CheckpointWriter,
    read_log,
)
from calib_async.errors import CheckpointError
from helpers.checkpoint_log import fingerprint, new_log, rec

# ---------------------------------------------------------------------------------------------
# prepare_log


def test_new_log_holds_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "out" / "t.jsonl"
    contents = prepare_log(path, fingerprint(), resume=False, fresh=False)
    assert contents.records == [] and not contents.resumed
    assert path.read_bytes().count(b"\n") == 1
    assert read_log(path).header == contents.header
    assert [p.name for p in path.parent.iterdir()] == ["t.jsonl"]  # no temporary left


def test_existing_log_without_flags_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    before = path.read_bytes()
    with pytest.raises(
        CheckpointError,
        match=r"^.*t\.jsonl already holds a telemetry log; pass RunConfig\(resume=True\) to "
        r"continue it or RunConfig\(fresh=True\) to start over \(the old log is moved aside\)$",
    ):
        prepare_log(path, fingerprint(), resume=False, fresh=False)
    assert path.read_bytes() == before


def test_empty_file_counts_as_no_log(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.touch()
    prepare_log(path, fingerprint(), resume=False, fresh=False)
    assert read_log(path).header["kind"] == "header"


def test_resume_returns_records_and_cuts_the_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b"])
    good = path.read_bytes()
    with path.open("ab") as f:
        f.write(b'{"task_key":"c"')
    contents = prepare_log(path, fingerprint(), resume=True, fresh=False)
    assert contents.resumed and [r["task_key"] for r in contents.records] == ["a", "b"]
    assert contents.torn_bytes > 0 and path.read_bytes() == good
    with CheckpointWriter(path) as writer:  # appends continue on a clean line
        writer.append(rec("c"))
    assert [r["task_key"] for r in read_log(path).records] == ["a", "b", "c"]


def test_resume_without_a_log_starts_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with capture_logs() as logs:
        contents = prepare_log(path, fingerprint(), resume=True, fresh=False)
    assert not contents.resumed and contents.records == [] and path.exists()
    assert "no telemetry log to resume" in logs[0]["event"]


def test_resume_with_other_seed_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with pytest.raises(CheckpointError, match=r"^cannot resume .*\(--seed: 1 -> 2\); rerun"):
        prepare_log(path, fingerprint(seed=2), resume=True, fresh=False)


def test_resume_with_other_tiers_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with pytest.raises(CheckpointError, match=r"--tiers: \['FAST'\] -> \['FAST', 'SLOW'\]") as info:
        prepare_log(path, fingerprint(tiers=("FAST", "SLOW")), resume=True, fresh=False)
    assert "\n" not in str(info.value)
    assert path.read_bytes().count(b"\n") == 2  # untouched


def test_resume_after_a_torn_header_starts_anew(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"fingerprint":{"corp')
    contents = prepare_log(path, fingerprint(), resume=True, fresh=False)
    assert contents.records == [] and read_log(path).header["kind"] == "header"


def test_fresh_moves_the_old_log_aside(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b"])
    old = path.read_bytes()
    contents = prepare_log(path, fingerprint(seed=7), resume=False, fresh=True)
    assert contents.moved_aside is not None and contents.moved_aside.read_bytes() == old
    assert (
        contents.moved_aside.name.startswith("t.jsonl.") and contents.moved_aside.suffix == ".bak"
    )
    assert read_log(path).records == [] and read_log(path).fingerprint["seed"] == 7


def test_fresh_never_overwrites_a_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint_writer, "_backup_stamp", lambda: "20250101T000000Z")
    path = tmp_path / "t.jsonl"
    new_log(path, ["first"])
    for key in ("a", "b", "c"):
        before = path.read_bytes()
        moved = prepare_log(path, fingerprint(), resume=False, fresh=True).moved_aside
        assert moved is not None and moved.read_bytes() == before
        with CheckpointWriter(path) as writer:
            writer.append(rec(key))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "t.jsonl",
        "t.jsonl.20250101T000000Z.1.bak",
        "t.jsonl.20250101T000000Z.2.bak",
        "t.jsonl.20250101T000000Z.bak",
    ]


def test_resume_and_fresh_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(
        CheckpointError,
        match=r"^RunConfig\(resume=True\) and RunConfig\(fresh=True\) contradict each other",
    ):
        prepare_log(tmp_path / "t.jsonl", fingerprint(), resume=True, fresh=True)


def test_a_log_being_written_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with CheckpointWriter(path) as writer:
        writer.append(rec("b"))
        for resume, fresh in ((True, False), (False, True)):
            with pytest.raises(CheckpointError, match="being written by another"):
                prepare_log(path, fingerprint(), resume=resume, fresh=fresh)
        with pytest.raises(CheckpointError, match="being written by another"):
            CheckpointWriter(path)
    assert len(read_log(path).records) == 2
