"""Stage 2's order: every (item, tier) once, interleaved by the seed, and resumable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from calib_async.records import CorpusItem, Task, Tier
from calib_async.telemetry.stage import collect_telemetry, interleaved

ITEMS = [CorpusItem(f"i{k}", f"m{k}", f"/p{k}", f"{k:064x}") for k in range(40)]
TIERS = [Tier("FAST", 1.0, "v"), Tier("SLOW", 4.0, "v")]


class _Runner:
    """Replays the keys in ``done``, runs the others in order, stops after ``budget`` runs."""

    def __init__(self, done: set[str], budget: int | None = None) -> None:
        self.done, self.budget, self.ran = set(done), budget, []  # type: list[str]

    async def run_all(self, tasks: Iterable[Task]) -> AsyncIterator[Any]:
        pending = [t for t in tasks if t.key not in self.done]
        for t in tasks:
            if t.key in self.done:
                yield SimpleNamespace(outcome="VERIFIED", key=t.key)
        for t in pending:
            if self.budget is not None and len(self.ran) >= self.budget:
                raise KeyboardInterrupt  # the session ends here
            self.ran.append(t.key)
            yield SimpleNamespace(outcome="VERIFIED", key=t.key)


def _collect(runner: _Runner, seed: int) -> list[Any]:
    async def main() -> list[Any]:
        return await collect_telemetry(runner, ITEMS, TIERS, [], seed=seed)  # type: ignore[arg-type]

    return anyio.run(main)


def test_stage_two_runs_every_task_once_in_a_seeded_interleaved_order() -> None:
    runner = _Runner(set())
    _collect(runner, seed=5)
    plain = [Task(i, t, t.verifier).key for i in ITEMS for t in TIERS]
    assert sorted(runner.ran) == sorted(plain) and runner.ran != plain
    tiers_in_first_half = {k.split("|")[2] for k in runner.ran[: len(plain) // 2]}
    assert tiers_in_first_half == {"FAST", "SLOW"}
    again = _Runner(set())
    _collect(again, seed=5)
    assert again.ran == runner.ran
    other = _Runner(set())
    _collect(other, seed=6)
    assert other.ran != runner.ran


def test_a_resumed_stage_two_keeps_the_order_and_loses_nothing() -> None:
    first = _Runner(set(), budget=30)
    with pytest.raises(KeyboardInterrupt):
        _collect(first, seed=5)
    second = _Runner(set(first.ran))
    records = _collect(second, seed=5)
    full = [
        t.key for t in interleaved([Task(i, t, t.verifier) for i in ITEMS for t in TIERS], seed=5)
    ]
    assert first.ran + second.ran == full  # the interrupted order, continued
    assert sorted(r.key for r in records) == sorted(full)
