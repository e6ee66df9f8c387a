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
from structlog.testing import capture_logs

from calib_async.checkers.simulated import default_synthetic_config
from calib_async.checkpoint import writing as checkpoint_writer
from calib_async.checkpoint.canonical import dumps_canonical
from calib_async.checkpoint.fingerprint import diff_fingerprints, make_fingerprint
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import (
    CheckpointWriter,
    completed_keys,
    dedupe_records,
    read_log,
    scan_log,
    sync_periodically,
)
from calib_async.errors import CheckpointError
from calib_async.records import CorpusItem
from helpers import fake_items


def items(n: int = 3, changed: int = -1) -> list[CorpusItem]:
    return fake_items(n, changed=changed)


def fingerprint(
    *, tiers: tuple[str, ...] = ("FAST",), seed: int = 1, corpus: list[CorpusItem] | None = None
) -> dict[str, Any]:
    config = default_synthetic_config()
    return make_fingerprint(
        items=corpus if corpus is not None else items(),
        tiers={name: config.tiers[name] for name in tiers},
        verifiers=config.verifiers,
        seed=seed,
        n=3,
        label_sample=2,
        tool_version="0.1.0",
    )


def rec(key: str, **extra: Any) -> dict[str, Any]:
    return {"task_key": key, "outcome": "VERIFIED", "duration_ms": 1.0, **extra}


def new_log(path: Path, keys: list[str]) -> None:
    prepare_log(path, fingerprint(), resume=False, fresh=False)
    with CheckpointWriter(path) as writer:
        for key in keys:
            writer.append(rec(key))


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


# ---------------------------------------------------------------------------------------------
# Fingerprint


def test_identical_fingerprints_have_no_differences() -> None:
    assert diff_fingerprints(fingerprint(), fingerprint()) == []


def test_fingerprint_diff_names_the_corpus_change() -> None:
    old = fingerprint(corpus=items(3))
    new = fingerprint(corpus=items(5, changed=1))
    assert diff_fingerprints(old, new) == [
        "corpus differs: 2 items added, 1 item changed (e.g. added: M.t3, M.t4; changed: M.t1)"
    ]


def test_fingerprint_diff_names_tier_and_verifier_settings() -> None:
    config = default_synthetic_config()
    base = {
        "items": items(),
        "seed": 1,
        "n": 3,
        "label_sample": 2,
        "tool_version": "0.1.0",
    }
    old = make_fingerprint(tiers={"FAST": config.tiers["FAST"]}, verifiers=config.verifiers, **base)
    slow_fast = config.tiers["SLOW"].__class__(name="FAST", timeout_s=0.75, verifier="simulated")
    verifiers = dict(config.verifiers)
    verifiers["simulated"] = verifiers["simulated"].__class__(
        name="simulated", kind="simulated", options={"precision": "x"}
    )
    new = make_fingerprint(
        tiers={"FAST": slow_fast}, verifiers=verifiers, **{**base, "tool_version": "0.2.0"}
    )
    diffs = diff_fingerprints(old, new)
    assert "tier FAST: timeout_s: 0.5 -> 0.75" in diffs
    assert "verifier simulated: options.precision: (absent) -> 'x'" in diffs
    assert "tool version: '0.1.0' -> '0.2.0'" in diffs


def test_fingerprint_ignores_tier_order_and_survives_a_round_trip(tmp_path: Path) -> None:
    assert (
        diff_fingerprints(fingerprint(tiers=("FAST", "SLOW")), fingerprint(tiers=("SLOW", "FAST")))
        == []
    )
    path = tmp_path / "t.jsonl"
    prepare_log(path, fingerprint(tiers=("FAST", "SLOW")), resume=False, fresh=False)
    prepare_log(path, fingerprint(tiers=("SLOW", "FAST")), resume=True, fresh=False)


def test_fingerprint_rejects_a_tier_without_its_profile() -> None:
    config = default_synthetic_config()
    with pytest.raises(ValueError, match="uses verifier 'simulated', not given"):
        make_fingerprint(
            items=[], tiers=config.tiers, verifiers={}, seed=1, n=1, label_sample=1,
            tool_version="x",
        )  # fmt: skip
