"""Soak test: many checker runs through the real Scheduler and CheckpointWriter.

10,000 tasks (``--tasks``) at concurrency 16 (``--workers``), each a real process of one small
checker whose behaviour the proof file picks: fast pass, fast fail (Lean-style error), slow pass
(``sleep``), crash (SIGSEGV), noisy (1 MB of output) and hang (killed at the tier's timeout).
Every second it samples the driver's RSS and the runs finished; at the end it prints the
timeline, runs/s, the driver's CPU per run, outcomes against expectations, and verifies:

- every task is in the telemetry log exactly once (read back with ``read_log``);
- no checker process is left (a unique ``sleep`` argument marks them), no child of the driver;
- the driver's open file descriptors are back to where they started.

Exit status 0 when all checks pass, 1 otherwise.

    python scripts/soak.py [--tasks 10000] [--workers 16] [--timeout 1.0] [--trio]
                           [--sandbox bwrap]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import psutil

from calib_async.backends import running
from calib_async.backends.local import LocalBackend
from calib_async.checkers.command.profile import CommandVerifier
from calib_async.checkers.oneshot import one_shot_checkers
from calib_async.checkers.sandboxed import sandboxed_verifiers
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import CheckpointWriter, read_log
from calib_async.cli.logs import configure_logging
from calib_async.config.schema import parse_verifier
from calib_async.records import CorpusItem, Task, Tier
from calib_async.telemetry.scheduler import Scheduler

# behaviour: (share of tasks, expected outcome)
MIX = {
    "fast": (0.55, "VERIFIED"),
    "fail": (0.20, "PROOF_INVALID"),
    "slow": (0.15, "VERIFIED"),
    "crash": (0.04, "VERIFIER_ERROR"),
    "noisy": (0.04, "VERIFIED"),
    "hang": (0.02, "VERIFIER_TIMEOUT"),
}
CHECKER = r"""
read kind < "$1"
case "$kind" in
  fast) exit 0 ;;
  fail) echo "$1:1:0: error: type mismatch"; exit 1 ;;
  slow) sleep "0.$(( $$ % 2 + 1 ))" ; exit 0 ;;
  crash) kill -SEGV $$ ;;
  noisy) head -c 1000000 /dev/zero; exit 0 ;;
  hang) exec sleep "$HANG" ;;
esac
exit 2
"""


def make_items(root: Path, n: int, seed: int) -> tuple[list[CorpusItem], dict[str, str]]:
    """n proof files, each naming a behaviour drawn from MIX; returns items and expectations."""
    rng = random.Random(seed)
    kinds = list(MIX)
    weights = [MIX[k][0] for k in kinds]
    root.mkdir(parents=True)
    content = {k: f"{k}\n".encode() for k in kinds}
    digest = {k: hashlib.sha256(v).hexdigest() for k, v in content.items()}
    for k in kinds:
        (root / f"{k}.lean").write_bytes(content[k])
    items, expected = [], {}
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        item = CorpusItem(
            f"soak{i:06d}", f"Soak.P{i:06d}", str(root / f"{kind}.lean"), digest[kind]
        )
        items.append(item)
        expected[item.item_id] = kind
    return items, expected


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def soak(args: argparse.Namespace, work: Path) -> int:
    hang_mark = f"{600 + random.Random().random():.6f}"  # unique `sleep` argument
    profile = parse_verifier(
        "soak",
        {
            "command": ["sh", "-c", CHECKER, "checker", "{file}"],
            "env": {"HANG": hang_mark},
            "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
        },
    )
    tier = Tier("SOAK", timeout_s=args.timeout, verifier="soak", grace_s=0.1)
    items, expected = make_items(work / "corpus", args.tasks, args.seed)
    log_path = work / "telemetry.jsonl"
    prepare_log(log_path, {"soak": str(uuid.uuid4())}, resume=False, fresh=False)

    def tasks() -> Iterator[Task]:  # fed lazily
        for item in items:
            yield Task(item, tier, "soak")

    verifiers = sandboxed_verifiers(
        {"soak": CommandVerifier(profile)}, args.sandbox, work_dir=work / "out"
    )
    me = psutil.Process()
    # warm-up (not logged): the runner keeps a /dev/null fd and the cgroup probe is done once
    backend = LocalBackend()
    async with running(backend), Scheduler(
        checkers=one_shot_checkers(verifiers, backend), workers=1
    ) as scheduler:
        await scheduler.run_one(Task(items[0], tier, "soak"))
    fds0, cpu0, t0 = open_fds(), cpu_s(), time.monotonic()
    timeline: list[tuple[float, int, float, float]] = []  # t, done, runs/s, rss MiB
    done = 0
    outcomes: Counter[tuple[str, str]] = Counter()

    async def sample(stop: anyio.Event) -> None:
        last_done, last_t = 0, t0
        while not stop.is_set():
            with anyio.move_on_after(1.0):
                await stop.wait()
            now = time.monotonic()
            rate = (done - last_done) / (now - last_t)
            timeline.append((now - t0, done, rate, me.memory_info().rss / 2**20))
            last_done, last_t = done, now
            writer.sync_if_due()

    with CheckpointWriter(log_path) as writer:
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(sample, stop)
            backend = LocalBackend()
            checkers = one_shot_checkers(verifiers, backend)
            async with (
                running(backend),
                Scheduler(checkers=checkers, workers=args.workers) as scheduler,
            ):
                async for record in scheduler.map(tasks()):
                    writer.append(record.to_dict())
                    outcomes[(expected[record.item_id], record.outcome)] += 1
                    done += 1
            stop.set()
    elapsed, cpu = time.monotonic() - t0, cpu_s() - cpu0

    # -- report ---------------------------------------------------------------------------------
    print(f"{'t (s)':>7} {'done':>7} {'runs/s':>8} {'RSS MiB':>8}")
    step = max(1, len(timeline) // 40)
    rows = timeline[::step]
    if timeline and rows[-1] is not timeline[-1]:
        rows.append(timeline[-1])
    for t, d, rate, rss in rows:
        print(f"{t:7.1f} {d:7d} {rate:8.1f} {rss:8.1f}")
    rss_values = [row[3] for row in timeline]
    print(
        f"\n{args.tasks} tasks, {args.workers} workers, backend {args.backend}, "
        f"sandbox {args.sandbox}: "
        f"{elapsed:.1f} s, {args.tasks / elapsed:.1f} runs/s overall; "
        f"driver CPU {1000 * cpu / args.tasks:.2f} ms/run; RSS min {min(rss_values):.1f} "
        f"max {max(rss_values):.1f} final {rss_values[-1]:.1f} MiB"
    )
    print("behaviour -> outcome:")
    for (kind, outcome), count in sorted(outcomes.items()):
        flag = "" if outcome == MIX[kind][1] else "   (unexpected)"
        print(f"  {kind:6} -> {outcome:22} {count:6d}{flag}")

    # -- checks ---------------------------------------------------------------------------------
    failures = []
    contents = read_log(log_path)
    keys = Counter(r["task_key"] for r in contents.records)
    want = {t.key for t in tasks()}
    if set(keys) != want:
        failures.append(f"{len(want - set(keys))} tasks missing, {len(set(keys) - want)} unknown")
    dupes = [k for k, c in keys.items() if c > 1]
    if dupes:
        failures.append(f"{len(dupes)} tasks recorded more than once")
    left = [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if hang_mark in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    if left or me.children(recursive=True):
        failures.append(f"{len(left)} hanging checkers and {len(me.children())} children left")
        for p in left:
            p.kill()
    if open_fds() != fds0:
        failures.append(f"open fds {fds0} -> {open_fds()}")
    print(
        f"\nlog: {len(contents.records)} records, {len(keys)} distinct task keys, "
        f"{len(want)} tasks; processes left: {len(left)}; fds {fds0} -> {open_fds()}"
    )
    for f in failures:
        print(f"FAIL: {f}")
    print("OK: every task accounted for exactly once, nothing left behind" if not failures else "")
    return 1 if failures else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--timeout", type=float, default=1.0, help="tier timeout (s) for hangs")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--trio", dest="backend", action="store_const", const="trio", default="asyncio")
    p.add_argument("--sandbox", default="none", choices=["none", "bwrap"])
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    configure_logging(level="WARNING")
    work = Path(tempfile.mkdtemp(prefix="calib-soak-"))
    try:
        return anyio.run(soak, args, work, backend=args.backend)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
