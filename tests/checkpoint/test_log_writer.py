"""The checkpoint writer: fsync pacing, whole-line writes, write errors, and crash safety."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from calib_async.checkpoint.canonical import dumps_canonical
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import (
    CheckpointWriter,
    read_log,
    sync_periodically,
)
from calib_async.errors import CheckpointError
from helpers.checkpoint_log import fingerprint, new_log, rec

# ---------------------------------------------------------------------------------------------
# CheckpointWriter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def fake(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fake)
    return calls


def test_writer_fsyncs_at_most_once_per_interval_and_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    clock = FakeClock()
    calls = count_fsyncs(monkeypatch)
    writer = CheckpointWriter(path, fsync_interval_s=1.0, clock=clock)
    for i in range(30):  # appends at t = 0.0, 0.1, ..., 2.9
        clock.now = i / 10
        writer.append(rec(f"k{i}"))
    assert len(calls) == 2  # at t = 1.0 and t = 2.0
    clock.now = 3.5
    assert writer.sync_if_due() is True and len(calls) == 3
    assert writer.sync_if_due() is False  # nothing pending
    writer.append(rec("last"))
    writer.close()
    assert len(calls) == 4 and writer.closed
    writer.close()  # idempotent
    assert len(calls) == 4


def test_writer_first_append_after_a_pause_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    clock = FakeClock()
    calls = count_fsyncs(monkeypatch)
    with CheckpointWriter(path, clock=clock) as writer:
        clock.now = 10.0
        writer.append(rec("a"))
        assert len(calls) == 1
    assert len(calls) == 1  # close: nothing pending


def test_writer_writes_each_line_with_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    writes: list[bytes] = []
    real = os.write

    def spy(fd: int, data: Any) -> int:
        writes.append(bytes(data))
        return real(fd, data)

    monkeypatch.setattr(os, "write", spy)
    with CheckpointWriter(path) as writer:
        writer.append(rec("a", note="⊢ é"))
    assert writes == [dumps_canonical(rec("a", note="⊢ é")) + b"\n"]


def test_writer_continues_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data)[:5]))
    with CheckpointWriter(path) as writer:
        writer.append(rec("a"))
        writer.append(rec("b"))
    monkeypatch.undo()
    assert [r["task_key"] for r in read_log(path).records] == ["a", "b"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (errno.ENOSPC, r"^no space left for the telemetry log .*; free some disk space and rerun"),
        (errno.EIO, r"^cannot write to the telemetry log .*: Input/output error; rerun"),
    ],
)
def test_write_error_is_a_checkpoint_error_and_the_partial_line_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, message: str
) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    good = path.read_bytes()
    real = os.write
    calls = []

    def failing(fd: int, data: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            return real(fd, bytes(data)[:10])  # a partial line first
        raise OSError(code, os.strerror(code))

    with CheckpointWriter(path) as writer:
        monkeypatch.setattr(os, "write", failing)
        with pytest.raises(CheckpointError, match=message):
            writer.append(rec("b"))
        monkeypatch.undo()
        assert path.read_bytes() == good  # rolled back: still resumable
        writer.append(rec("c"))  # usable again once the cause is gone
    assert [r["task_key"] for r in read_log(path).records] == ["a", "c"]


def test_file_size_limit_is_a_clear_error(tmp_path: Path) -> None:
    """A real EFBIG: the child runs under RLIMIT_FSIZE and appends until it hits it."""
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    limit = path.stat().st_size + 1000
    code = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from calib_async.checkpoint.reading import CheckpointWriter
        from calib_async.errors import CheckpointError
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        with CheckpointWriter(Path(sys.argv[1])) as w:
            try:
                for i in range(1000):
                    w.append({{"task_key": f"k{{i}}", "pad": "x" * 150}})
            except CheckpointError as exc:
                print(exc)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "reached the file-size limit" in out.stdout and "ulimit -f" in out.stdout
    records = read_log(path).records  # no torn line: the partial write was rolled back
    assert len(records) >= 4 and path.stat().st_size <= limit


def test_writer_refuses_a_log_that_ends_with_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    with path.open("ab") as f:
        f.write(b'{"task')
    with pytest.raises(CheckpointError, match="ends with a torn line"):
        CheckpointWriter(path)


def test_writer_needs_an_existing_log(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="create it with prepare_log first"):
        CheckpointWriter(tmp_path / "t.jsonl")


def test_unwritable_record_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, ["a"])
    good = path.read_bytes()
    with CheckpointWriter(path) as writer:
        with pytest.raises(ValueError, match="not finite"):
            writer.append(rec("b", duration_ms=float("nan")))
        assert path.read_bytes() == good
    with pytest.raises(CheckpointError, match="is closed"):
        writer.append(rec("c"))


def test_writer_leaves_no_file_descriptor_open(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    before = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()
    for _ in range(5):
        with CheckpointWriter(path) as writer:
            writer.append(rec("a"))
        read_log(path)
        prepare_log(path, fingerprint(), resume=True, fresh=False)
    after = set(os.listdir("/proc/self/fd")) if before else set()
    assert after == before


def test_sigkill_mid_append_leaves_a_resumable_log(tmp_path: Path) -> None:
    """Kill a child appending as fast as it can: at worst the last line is torn."""
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    code = textwrap.dedent("""
        import sys
        from pathlib import Path
        from calib_async.checkpoint.reading import CheckpointWriter
        with CheckpointWriter(Path(sys.argv[1]), fsync_interval_s=0.01) as w:
            i = 0
            while True:
                w.append({"task_key": f"k{i}", "pad": "x" * (i % 5000)})
                i += 1
                if i == 200:
                    print("running", flush=True)
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "running\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.stdout is not None
        child.stdout.close()
    contents = prepare_log(path, fingerprint(), resume=True, fresh=False)
    keys = [r["task_key"] for r in contents.records]
    assert len(keys) >= 200 and keys == [f"k{i}" for i in range(len(keys))]


@pytest.mark.anyio
async def test_sync_periodically_syncs_while_appends_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    new_log(path, [])
    calls = count_fsyncs(monkeypatch)
    clock = FakeClock()
    writer = CheckpointWriter(path, fsync_interval_s=1.0, clock=clock)
    writer.append(rec("a"))  # t = 0: not due
    assert calls == []
    clock.now = 5.0  # no further append comes; the periodic task must sync
    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(sync_periodically, writer, interval_s=0.001))
        while not calls:
            await anyio.sleep(0.001)
        writer.close()  # the task ends on its own once the writer is closed
    assert len(calls) == 1
