"""Reading the checkpoint log: header and records, torn and corrupt lines; and the resume
bookkeeping over the records read."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from calib_async.checkpoint.canonical import dumps_canonical
from calib_async.checkpoint.fingerprint import diff_fingerprints
from calib_async.checkpoint.reading import (
    CheckpointWriter,
    completed_keys,
    dedupe_records,
    read_log,
    scan_log,
)
from calib_async.errors import CheckpointError
from helpers.checkpoint_log import fingerprint, new_log, rec

# ---------------------------------------------------------------------------------------------
# read_log


def test_read_log_returns_header_and_records_in_order(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b", "c"])
    contents = read_log(path)
    assert contents.header["kind"] == "header" and contents.header["format"] == 1
    assert diff_fingerprints(contents.fingerprint or {}, fingerprint()) == []
    assert [r["task_key"] for r in contents.records] == ["a", "b", "c"]
    assert contents.torn_bytes == 0


@pytest.mark.parametrize(
    "tail",
    [b'{"task_key":"d","outc', b'{"task_key":"d"}', b"\0\0\0\0\n", b"\0\0\0"],
    ids=["cut-mid-json", "no-newline", "nul-block", "nul-no-newline"],
)
def test_torn_last_line_is_reported_and_truncated(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b"])
    good = path.read_bytes()
    with path.open("ab") as f:
        f.write(tail)
    with capture_logs() as logs:
        contents = read_log(path)
    assert [r["task_key"] for r in contents.records] == ["a", "b"]
    assert contents.torn_bytes == len(tail)
    assert path.read_bytes() == good
    assert logs[0]["log_level"] == "warning" and logs[0]["line"] == 4


def test_torn_last_line_is_left_alone_without_truncate(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with path.open("ab") as f:
        f.write(b'{"task_')
    before = path.read_bytes()
    contents = read_log(path, truncate_torn=False)
    assert contents.torn_bytes == 7 and path.read_bytes() == before


def test_corrupt_middle_line_names_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b", "c"])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"task_key":"b",,}\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(CheckpointError, match=r"^telemetry log .*: line 3 is corrupt \(") as info:
        read_log(path)
    assert "\n" not in str(info.value) and "--fresh" in str(info.value)


def test_whole_json_line_without_task_key_is_corrupt_even_when_last(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with path.open("ab") as f:
        f.write(b'{"other":1}\n')
    with pytest.raises(CheckpointError, match=r"^telemetry log .*: line 3 is corrupt"):
        read_log(path)


def test_nul_bytes_in_the_middle_point_at_power_loss(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with path.open("ab") as f:
        f.write(b"\0" * 10 + b"\n" + dumps_canonical(rec("b")) + b"\n")
    with pytest.raises(CheckpointError, match=r"line 3 holds NUL bytes.*head -n 2"):
        read_log(path)


def test_foreign_first_line_is_not_a_header(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"task_key":"a"}\n{"task_key":"b"}\n')
    with pytest.raises(CheckpointError, match=r"^telemetry log .*: line 1 is not a calibrate"):
        read_log(path)


def test_other_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"fingerprint":{},"format":99,"kind":"header"}\n')
    with pytest.raises(CheckpointError, match=r"has format 99, this version writes format 1"):
        read_log(path)


def test_header_without_fingerprint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"format":1,"kind":"header"}\n')
    with pytest.raises(CheckpointError, match=r"the header on line 1 has no fingerprint"):
        read_log(path)


def test_missing_log_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_log(tmp_path / "nope.jsonl")


# ---------------------------------------------------------------------------------------------
# Resume bookkeeping


def test_completed_keys_counts_duplicates_once_and_skips_cancelled() -> None:
    records = [rec("a"), rec("b"), rec("a"), rec("c", termination_reason="cancelled")]
    with capture_logs() as logs:
        assert completed_keys(records) == {"a", "b"}
    assert logs == [
        {
            "event": "telemetry log holds duplicate task keys",
            "duplicates": 1,
            "log_level": "warning",
        }
    ]


def test_scan_log_keeps_only_completed_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b", "a"])
    with CheckpointWriter(path) as writer:
        writer.append(rec("c", termination_reason="cancelled"))
    good = path.read_bytes()
    with path.open("ab") as f:
        f.write(b'{"task_key":"d"')
    with capture_logs() as logs:
        header, keys, torn = scan_log(path)
    assert header == read_log(path).header and keys == {"a", "b"} and torn == 15
    assert path.read_bytes() == good
    assert [e.get("duplicates") for e in logs if e["log_level"] == "warning"][-1] == 1


def test_scan_log_finds_a_corrupt_line_like_read_log(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a", "b"])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = b"{oops\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(CheckpointError, match=r"^telemetry log .*: line 2 is corrupt"):
        scan_log(path)


def test_dedupe_records_keeps_the_first_of_each_key() -> None:
    first, second = rec("a", n=1), rec("a", n=2)
    kept, duplicates = dedupe_records([first, rec("b"), second])
    assert kept == [first, rec("b")] and duplicates == 1
