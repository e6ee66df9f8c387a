"""Verdict replicates end to end: flip rates of a deterministic and a flipping checker."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from calib_async.pipeline import run_calibration
from calib_async.records import Phase
from calib_async.stats.flips import zero_flip_upper_bound
from calib_async.telemetry.replicates import replicate_tasks, seeded_sample
from helpers.stability import checker_config, corpus, python_argv, run_config


def test_seeded_sample_is_reproducible_in_corpus_order_and_independent_by_purpose() -> None:
    from calib_async.records import CorpusItem

    items = [CorpusItem(f"i{k}", f"m{k}", f"/p{k}", f"{k:064x}") for k in range(50)]
    a = seeded_sample(items, 10, 7, "replicate")
    assert a == seeded_sample(items, 10, 7, "replicate")
    assert [items.index(x) for x in a] == sorted(items.index(x) for x in a)
    assert a != seeded_sample(items, 10, 7, "load")
    assert seeded_sample(items, 99, 7, "replicate") == items


def test_replicate_tasks_are_replicate_major_with_the_index_in_the_key() -> None:
    from calib_async.records import CorpusItem, Tier

    items = [CorpusItem(f"i{k}", f"m{k}", f"/p{k}", f"{k:064x}") for k in range(3)]
    tier = Tier("T", 1.0, "v")
    tasks = replicate_tasks(items, [tier], 2)
    assert [t.attempt for t in tasks] == [1, 1, 1, 2, 2, 2]
    assert all(t.phase is Phase.REPLICATE for t in tasks)
    assert len({t.key for t in tasks}) == 6 and tasks[0].key.endswith("|replicate|v|1")


def test_flip_rate_of_deterministic_and_flipping_checkers(tmp_path: Path) -> None:
    """N=30, R=2: a checker that always agrees has flip rate 0 with an upper bound below 0.1;
    one whose verdict flips with probability 0.2 per run (true flip rate 2 * 0.2 * 0.8 =
    0.32) is inside the interval. --workers 1 makes the flipper's draws reproducible."""
    src = corpus(tmp_path, [f"theorem t{i} : True := trivial\n" for i in range(30)])
    cfg = checker_config(
        tmp_path,
        {
            "DET": (["sh", "-c", "exit 0", "det"], 30.0),
            "FLIP": (python_argv("flipper.py", str(tmp_path / "counter"), "0.2"), 30.0),
        },
    )
    config = run_config(
        tmp_path, cfg, src, ["DET", "FLIP"], workers=1, replicates=2, replicate_sample=30
    )
    result = anyio.run(run_calibration, config)
    det = result.export["noise_models"]["det"]["flips"]
    assert det["status"] == "ok" and det["items"] == 30 and det["runs_per_item"] == [3, 3]
    assert det["flip_rate"] == 0.0 and det["items_with_flip"] == 0
    assert det["flip_rate_ci"][0] == 0.0 and det["flip_rate_ci"][1] < 0.12
    assert det["flip_rate_ci"][1] == pytest.approx(zero_flip_upper_bound(30))
    flip = result.export["noise_models"]["flip"]["flips"]
    low, high = flip["flip_rate_ci"]
    assert low < 0.32 < high, flip
    assert set(flip["by_outcome_pair"]) == {"PROOF_INVALID|VERIFIED"}
    replicates = [r for r in result.stability_runs if r.phase == "replicate"]
    assert len(replicates) == 2 * 2 * 30
