"""The load experiment end to end: a CPU-bound checker against a sleeping one, the block
order, the level held by fillers, and resuming an interrupted run with replicates and load."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest

from calib_async.errors import CalibError
from calib_async.events import Event, RunFinished
from calib_async.pipeline import run_calibration
from calib_async.records import Tier
from calib_async.telemetry.load_experiment import FILLER_ATTEMPT, block_order, check_levels
from helpers.stability import checker_config, corpus, python_argv, run_config

LEVELS = (1, 4, 8)


def test_block_order_is_seeded_and_covers_every_tier_and_level() -> None:
    tiers = [Tier("A", 1.0, "v"), Tier("B", 1.0, "v")]
    order = block_order(tiers, LEVELS, 3)
    assert order == block_order(tiers, LEVELS, 3)
    assert sorted(order) == sorted((t.name, k) for t in tiers for k in LEVELS)
    assert {tuple(block_order(tiers, LEVELS, s)) for s in range(20)} != {tuple(order)}


def test_each_round_runs_every_block_once_in_its_own_order_the_first_as_before() -> None:
    tiers = [Tier("A", 1.0, "v"), Tier("B", 1.0, "v")]
    order = block_order(tiers, LEVELS, 3, rounds=4)
    size = len(tiers) * len(LEVELS)
    rounds = [order[i : i + size] for i in range(0, len(order), size)]
    assert len(rounds) == 4
    assert all(sorted(r) == sorted(rounds[0]) for r in rounds)
    assert rounds[0] == block_order(tiers, LEVELS, 3)  # a one-round checkpoint's order
    assert len({tuple(r) for r in rounds}) > 1  # not one order repeated: slot != level


def test_levels_must_fit_the_workers() -> None:
    assert check_levels([8, 1, 4, 4], 8) == (1, 4, 8)
    with pytest.raises(CalibError, match=r"^--load-levels: level 16 exceeds --workers 8"):
        check_levels([1, 16], 8)


SLEEP = 'read t < "$1"; exec sleep "$t"'


def _median_wall_s(argv: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(argv, check=True)
        times.append(time.monotonic() - t0)
    return sorted(times)[runs // 2]


@pytest.mark.skipif((os.cpu_count() or 1) > 8, reason="the effect is sized for a small machine")
def test_cpu_bound_checker_times_out_more_with_load_and_a_sleeping_one_does_not(
    tmp_path: Path,
) -> None:
    """CPU: holds one of 2 core slots for 0.2 s (tests/helpers/cores.py): the 2 cores are
    made explicit because on this shared machine (load average 15-25 on 2 cores) other jobs'
    processes outnumber ours and wash out plain CPU contention. A run at level k waits for
    about ceil(k/2) - 1 others: level 8 takes ~4x as long as level 1. The timeout is 2x this
    machine's level-1 time, measured just before. SLEEP (timeout 1 s): half the
    items sleep 0.05 s, half 30 s, so the same items time out at every level."""
    n = 10
    src = corpus(tmp_path, ["0.05\n" if i % 2 else "30\n" for i in range(n)])
    locks = tmp_path / "locks"
    locks.mkdir()
    cpu_argv = python_argv("cores.py", str(locks), "2", "0.2")
    probe = [a if a != "{file}" else str(src / "p00.lean") for a in cpu_argv]
    timeout_s = max(0.3, 2.0 * _median_wall_s(probe))
    cfg = checker_config(
        tmp_path,
        {
            "CPU": (cpu_argv, timeout_s),
            "SLEEP": (["sh", "-c", SLEEP, "sleep", "{file}"], 1.0),
        },
    )
    config = run_config(
        tmp_path, cfg, src, ["SLEEP", "CPU"], workers=8, load_levels=LEVELS, load_sample=n
    )
    result = anyio.run(run_calibration, config)
    cpu = result.export["noise_models"]["cpu"]["load"]
    rates = {row["level"]: row["rate"] for row in cpu["levels"]}
    # Not rates[8] >= rates[4]: with 10 runs per level that pair is a coin flip under a busy
    # machine (0.2 vs 0.3 seen once in a full suite); the slope's interval is the claim.
    assert rates[8] > rates[1], cpu
    # The slope's interval is the claim; it is widened by the between-block variation, which
    # on this shared machine (load 15+) can be large: then the between-block test says so.
    blocks = cpu["between_blocks"]
    assert cpu["slope"] > 0, cpu
    assert cpu["slope_ci"][0] > 0 or (blocks["p_value"] or 1.0) <= 0.05, cpu
    sleep = result.export["noise_models"]["sleep"]["load"]
    assert [row["rate"] for row in sleep["levels"]] == [0.5, 0.5, 0.5], sleep
    assert sleep["slope_ci"][0] < 0 < sleep["slope_ci"][1] and sleep["slope_p_value"] > 0.05
    runs = [r for r in result.stability_runs if r.phase == "load"]
    assert Counter((r.tier, r.load_level) for r in runs) == {
        (t, k): 3 * n for t in ("CPU", "SLEEP") for k in LEVELS
    }
    assert Counter(r.attempt for r in runs) == {i: 2 * len(LEVELS) * n for i in range(3)}
    assert cpu["rounds"] == 3 and cpu["between_blocks"]["blocks"] == 9
    assert len(cpu["block_order"]) == 9


def _cheap_setup(d: Path) -> tuple[Path, Path]:
    src = corpus(d, [f"theorem t{i} : True := trivial\n" for i in range(8)])
    cfg = checker_config(d, {"OK": (["sh", "-c", "exit 0", "ok"], 30.0)})
    return src, cfg


@pytest.mark.parametrize("stop_in", ["replicate", "load"])
def test_interrupted_run_with_replicates_and_load_resumes_without_repeating_a_run(
    tmp_path: Path, stop_in: str
) -> None:
    src, cfg = _cheap_setup(tmp_path)
    settings = dict(workers=4, replicates=2, replicate_sample=6, load_levels=(1, 4), load_sample=5)
    ran: list[str] = []

    def count(event: Event) -> None:
        if not isinstance(event, RunFinished) or event.resumed:
            return
        if event.task.attempt != FILLER_ATTEMPT:  # not a filler
            ran.append(event.record.task_key)

    async def interrupted() -> None:
        with anyio.CancelScope() as scope:

            def stop(event: Event) -> None:
                count(event)
                phases = [k.split("|")[3] for k in ran]
                if phases.count(stop_in) >= 3:
                    scope.cancel()

            await run_calibration(
                run_config(tmp_path, cfg, src, ["OK"], **settings), listeners=[stop]
            )
        assert scope.cancelled_caught

    anyio.run(interrupted)
    assert ran and not (tmp_path / "calibration.yaml").exists()
    log = tmp_path / "out" / "telemetry.jsonl"
    logged = {json.loads(line)["task_key"] for line in log.read_text().splitlines()[1:]}
    # interrupted within the phase: its runs are not all in the log, later phases' none
    assert sum(f"|{stop_in}|" in k for k in logged) < (12 if stop_in == "replicate" else 30)
    assert not any("|load|" in k for k in logged) or stop_in == "load"
    del ran[:]
    resumed = run_config(tmp_path, cfg, src, ["OK"], resume=True, **settings)
    result = anyio.run(lambda: run_calibration(resumed, listeners=[count]))
    assert not logged & set(ran), "a run in the checkpoint was run again after resume"
    all_keys = {r.task_key for r in [*result.telemetry, *result.stability_runs]}
    assert len(ran) == len(set(ran)) and logged | set(ran) == all_keys
    assert len(all_keys) == 8 + 2 * 6 + 3 * 2 * 5  # the load runs: 3 rounds x 2 levels
    assert {k.rsplit("|", 1)[1] for k in all_keys if "|load|" in k} == {"c1", "c4"}
    lines = log.read_text().splitlines()
    assert len(lines) - 1 == len(all_keys)  # the header, then every run once (no filler)


def test_a_one_round_checkpoint_resumes_into_more_rounds_without_repeating_a_run(
    tmp_path: Path,
) -> None:
    """A checkpoint of the one-round design holds round 0 under the same keys: resuming with
    more rounds replays it and runs only the other rounds."""
    src, cfg = _cheap_setup(tmp_path)
    settings = dict(workers=4, load_levels=(1, 4), load_sample=3)
    ran: list[str] = []

    def count(event: Event) -> None:
        filler = isinstance(event, RunFinished) and event.task.attempt == FILLER_ATTEMPT
        if isinstance(event, RunFinished) and not event.resumed and not filler:
            ran.append(event.record.task_key)

    first = run_config(tmp_path, cfg, src, ["OK"], load_rounds=1, **settings)
    anyio.run(lambda: run_calibration(first, listeners=[count]))
    round_0 = {k for k in ran if "|load|" in k}
    assert len(round_0) == 2 * 3 and all(k.split("|")[5] == "0" for k in round_0)
    del ran[:]
    more = run_config(tmp_path, cfg, src, ["OK"], load_rounds=3, resume=True, **settings)
    result = anyio.run(lambda: run_calibration(more, listeners=[count]))
    assert not round_0 & set(ran), "a round-0 run was run again"
    load = {r.task_key for r in result.stability_runs if r.phase == "load"}
    assert load == round_0 | {k for k in ran if "|load|" in k} and len(load) == 3 * 2 * 3
    assert Counter(r.attempt for r in result.stability_runs if r.phase == "load") == {
        0: 6, 1: 6, 2: 6
    }
