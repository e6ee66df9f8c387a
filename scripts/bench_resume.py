"""How fast does --resume read the telemetry log? orjson vs json, against the 5 s goal for 1M lines.

Writes a log of realistic records (TelemetryRecord dicts, about 1.3 KB each: mostly verified
runs with empty output, some failures with error text, some timeouts) to a temporary directory,
then times, side by side in one process:

- ``read_log`` (full parse of every record) with orjson and with the json module;
- ``completed_keys`` over the parsed records (what resume skips);
- ``TelemetryRecord.from_dict`` over the parsed records (what the pipeline does next), and, if
  msgspec is installed, msgspec decoding the lines straight into TelemetryRecord;
- ``prepare_log(resume=True)``: the whole resume path (read + fingerprint check);
- ``scan_log``: the same validation, keeping only the completed keys (orjson and json);
- ``CheckpointWriter.append`` throughput on a sample (canonicalize + write, fsync each second).

The file is read once before timing, so every figure is with the page cache warm (a resume
right after an interruption). Usage::

    python scripts/bench_resume.py                 # 1M lines (about 1.3 GB in /tmp)
    python scripts/bench_resume.py --lines 100000 --repeat 3
    python scripts/bench_resume.py --dir /tmp/b --keep   # then: --dir /tmp/b --reuse
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import json
import logging
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import structlog

from calib_async.checkers.lean import default_lean_config
from calib_async.checkpoint.canonical import dumps_canonical
from calib_async.checkpoint.fingerprint import make_fingerprint
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import (
    CheckpointWriter,
    completed_keys,
    read_log,
    scan_log,
)
from calib_async.records import CorpusItem, Outcome, TelemetryRecord, task_key

GOAL_S = 5.0
GOAL_LINES = 1_000_000
ORJSON = "read_log, orjson"
JSON = "read_log, json"
FROM_DICT = "+ TelemetryRecord.from_dict"
MSGSPEC = "msgspec -> TelemetryRecord"
RESUME = "prepare_log(resume=True)"
SCAN = "scan_log (keys only), orjson"
SCAN_JSON = "scan_log (keys only), json"

_ERRORS = [
    "error: unknown identifier 'Finset.sum_comm''",
    "error: type mismatch\n  h\nhas type\n  a + b = b + a : Prop\nbut is expected to have type"
    "\n  a * b = b * a : Prop",
    "error: unsolved goals\ncase succ\nn : ℕ\nih : P n\n⊢ P (n + 1)",
]


def make_items(count: int, rng: random.Random) -> list[CorpusItem]:
    areas = ["Algebra.Group.Basic", "Topology.MetricSpace.Basic", "Analysis.Calculus.Deriv",
             "NumberTheory.Padics.PadicVal", "CategoryTheory.Limits.Shapes"]  # fmt: skip
    items = []
    for i in range(count):
        module = f"Mathlib.{rng.choice(areas)}{i % 97}"
        digest = hashlib.sha256(f"{i}".encode()).hexdigest()
        items.append(CorpusItem(f"{module}.thm_{i}", module, f"/mathlib/{module}.lean", digest))
    return items


def make_record(item: CorpusItem, tier: str, rng: random.Random) -> dict[str, Any]:
    """One plausible finished Lean run, as the pipeline would append it."""
    roll = rng.random()
    timeout = {"FAST": 30.0, "BALANCED": 60.0, "SLOW": 120.0}[tier]
    outcome, exit_code, signal, tail, message = Outcome.VERIFIED, 0, None, "", None
    timed_out, kind, reason = False, None, "exited"
    duration = rng.lognormvariate(8.0, 1.0)
    if roll < 0.15:
        outcome, exit_code, tail = Outcome.PROOF_INVALID, 1, rng.choice(_ERRORS) * 3
    elif roll < 0.25:
        outcome, exit_code, signal, duration = Outcome.VERIFIER_TIMEOUT, None, 15, timeout * 1e3
        timed_out, kind, reason = True, "wall", "timeout"
        message = f"killed after {timeout:.0f} s wall-clock limit (SIGTERM, exited within grace)"
    elif roll < 0.27:
        outcome, exit_code, signal, reason = Outcome.MEMORY_LIMIT_EXCEEDED, None, 9, "memory"
        message = "RSS of the process tree exceeded the 4096 MiB limit"
    record = TelemetryRecord(
        verification_id=f"{rng.getrandbits(128):032x}",
        timestamp=f"2025-03-0{rng.randint(1, 9)}T12:{rng.randint(10, 59)}:07.123456+00:00",
        context=f"calibration_{tier}_{item.module_name}",
        metadata={"master_seed": 12345, "corpus": "mathlib", "split": "train"},
        task_key=task_key(item, tier, "telemetry", 0, "lean"),
        item_id=item.item_id,
        content_hash=item.content_hash,
        module_name=item.module_name,
        tier=tier,
        verifier="lean",
        phase="telemetry",
        attempt=0,
        timeout_s=timeout,
        outcome=outcome.value,
        exit_code=exit_code,
        signal=signal,
        duration_ms=duration,
        cpu_time_ms=duration * rng.uniform(0.8, 1.9),
        memory_peak_mb=rng.uniform(300, 4000),
        memory_final_mb=rng.uniform(0, 400),
        timed_out=timed_out,
        timeout_kind=kind,
        termination_reason=reason,
        stdout_bytes=len(tail),
        error_count=tail.count("error:"),
        first_error=tail.splitlines()[0] if tail else None,
        axioms=["propext", "Classical.choice", "Quot.sound"],
        message=message,
        output_tail=tail,
        concurrency=8,
        load_avg_1m=rng.uniform(0, 8),
        host="node-17.cluster.example",
        checker_version="Lean (version 4.9.0, x86_64-unknown-linux-gnu, commit 8d2adf5, Release)",
        warnings=["cpu_time_sources_disagree"] if roll > 0.97 else [],
    )
    return record.to_dict()


def write_log(path: Path, lines: int, seed: int) -> tuple[dict[str, Any], float]:
    """Write header + ``lines`` records; return the fingerprint and the mean line length."""
    rng = random.Random(seed)
    config = default_lean_config()
    tiers = list(config.tiers)
    items = make_items((lines + len(tiers) - 1) // len(tiers), rng)
    fingerprint = make_fingerprint(
        items=items, tiers=config.tiers, verifiers=config.verifiers, seed=seed, n=len(items),
        label_sample=1000, tool_version="bench",
    )  # fmt: skip
    prepare_log(path, fingerprint, resume=False, fresh=False)
    total = 0
    with path.open("ab") as f:
        chunk: list[bytes] = []
        for i in range(lines):
            line = dumps_canonical(make_record(items[i // len(tiers)], tiers[i % 3], rng)) + b"\n"
            total += len(line)
            chunk.append(line)
            if len(chunk) >= 10_000:
                f.writelines(chunk)
                chunk.clear()
        f.writelines(chunk)
    return fingerprint, total / max(lines, 1)


class Rounds:
    """Wall and CPU seconds per step over the rounds (CPU time shows contention on a busy host)."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        self.wall.setdefault(name, []).append(time.perf_counter() - wall)
        self.cpu.setdefault(name, []).append(time.process_time() - cpu)
        return result

    def median(self, name: str) -> tuple[float, float]:
        return statistics.median(self.wall[name]), statistics.median(self.cpu[name])


def to_records(records: list[dict[str, Any]]) -> list[TelemetryRecord]:
    """What the pipeline does with the records of a resumed log."""
    gc.disable()
    try:
        return [TelemetryRecord.from_dict(r) for r in records]
    finally:
        gc.enable()


def msgspec_available() -> bool:
    return importlib.util.find_spec("msgspec") is not None


def msgspec_records(path: Path) -> list[TelemetryRecord]:
    """The alternative: msgspec decodes lines straight into TelemetryRecord (if installed)."""
    import msgspec

    data = path.read_bytes()
    gc.disable()
    try:
        return msgspec.json.Decoder(TelemetryRecord).decode_lines(data[data.index(b"\n") + 1 :])
    finally:
        gc.enable()


def bench_append(path: Path, count: int, seed: int) -> float:
    """Seconds per CheckpointWriter.append (canonicalize + one write; fsync each second)."""
    rng = random.Random(seed)
    items = make_items(count, rng)
    records = [make_record(item, "FAST", rng) for item in items]
    prepare_log(path, {"bench": True}, resume=False, fresh=False)
    with CheckpointWriter(path) as writer:
        start = time.perf_counter()
        for record in records:
            writer.append(record)
        elapsed = time.perf_counter() - start
    return elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=GOAL_LINES)
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds (median reported)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    parser.add_argument(
        "--reuse", action="store_true", help="time the log already in --dir (from --keep)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="bench_resume_"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "telemetry.jsonl"
    (workdir / "append.jsonl").unlink(missing_ok=True)
    rounds = Rounds()
    try:
        if args.reuse and path.exists():
            with path.open("rb") as f:
                fingerprint = orjson.loads(f.readline())["fingerprint"]
                args.lines = sum(1 for _ in f)
            print(f"log: reusing {path}")
        else:
            path.unlink(missing_ok=True)
            start = time.perf_counter()
            fingerprint, mean_len = write_log(path, args.lines, args.seed)
            took = time.perf_counter() - start
            print(f"log: written in {took:.1f} s, mean line {mean_len:,.0f} B")
        size_mb = path.stat().st_size / 2**20
        print(f"log: {args.lines:,} lines, {size_mb:,.0f} MiB")
        path.read_bytes()  # warm the page cache: every figure below is warm-cache

        for _ in range(args.repeat):
            contents = rounds.run(ORJSON, lambda: read_log(path))
            assert len(contents.records) == args.lines
            rounds.run("completed_keys", lambda c=contents: completed_keys(c.records))
            rounds.run(FROM_DICT, lambda c=contents: to_records(c.records))
            del contents
            if msgspec_available():
                rounds.run(MSGSPEC, lambda: msgspec_records(path))
            rounds.run(JSON, lambda: read_log(path, loads=json.loads))
            rounds.run(SCAN, lambda: scan_log(path))
            rounds.run(SCAN_JSON, lambda: scan_log(path, loads=json.loads))
            rounds.run(RESUME, lambda: prepare_log(path, fingerprint, resume=True, fresh=False))
        per_append = bench_append(workdir / "append.jsonl", min(20_000, args.lines), args.seed)
    finally:
        if not args.keep:
            if args.dir is None:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    scale = GOAL_LINES / args.lines
    print(
        f"\n{'step (median of rounds)':30} {'wall s':>8} {'cpu s':>8} {'wall/1M':>8} {'/ goal':>7}"
    )
    for name in rounds.wall:
        wall, cpu = rounds.median(name)
        print(f"{name:30} {wall:8.2f} {cpu:8.2f} {wall * scale:8.2f} {wall * scale / GOAL_S:6.2f}x")
    if not msgspec_available():
        print("(msgspec is not installed: its row is left out)")
    ratio = rounds.median(JSON)[1] / rounds.median(ORJSON)[1]
    print(f"\njson / orjson full read (cpu): {ratio:.2f}x")
    ratio = rounds.median(SCAN_JSON)[1] / rounds.median(SCAN)[1]
    print(f"json / orjson keys-only scan (cpu): {ratio:.2f}x")
    print(f"CheckpointWriter.append: {per_append * 1e6:.1f} µs per record")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:,.0f} MiB")
    for name in (RESUME, SCAN):
        wall, cpu = rounds.median(name)
        verdict = "met" if wall * scale <= GOAL_S else "NOT met"
        print(f"goal <= {GOAL_S:.0f} s for 1M lines, {name}: {verdict} "
              f"({wall * scale:.2f} s wall, {cpu * scale:.2f} s cpu)")  # fmt: skip


if __name__ == "__main__":
    main()
