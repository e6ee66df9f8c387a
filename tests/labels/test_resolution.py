"""resolution.py: undetermined items get more evidence within a budget, and say why not."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.labels.resolution import (
    Reason,
    Step,
    merge_with,
    next_step,
    reasons_for,
    run_consensus,
    undetermined_reason,
)
from calib_async.labels.sampling import label_summary
from calib_async.records import CorpusItem, Outcome, Task, TelemetryRecord, Tier, Truth

pytestmark = pytest.mark.anyio
PROFILES = ["a", "b", "c"]
LADDERS = {p: [2.0, 4.0] for p in PROFILES}  # base 1 s, top 4 s


def record(task: Task, outcome: str) -> TelemetryRecord:
    return TelemetryRecord(
        verification_id="x", timestamp="t", context="c", metadata={}, task_key=task.key,
        item_id=task.item.item_id, content_hash=task.item.content_hash,
        module_name=task.item.module_name, tier=task.tier.name, verifier=task.verifier,
        phase=task.phase.value, attempt=task.attempt, timeout_s=task.effective_timeout_s,
        outcome=outcome, exit_code=0, signal=None, duration_ms=1.0, cpu_time_ms=1.0,
        memory_peak_mb=1.0, memory_final_mb=1.0,
    )  # fmt: skip


class FakeRunner:
    """Answers consensus tasks without processes: ``noisy*`` items are right with probability
    0.7 per run (seeded by the task key: a replay gives the same answer), ``hang*`` items time
    out at every timeout, ``crash*`` items crash, others are always right. Counts runs."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.runs: list[str] = []

    def outcome(self, task: Task) -> str:
        name = task.item.item_id
        truth = Outcome.VERIFIED if name.endswith("_valid") else Outcome.PROOF_INVALID
        wrong = Outcome.PROOF_INVALID if truth == Outcome.VERIFIED else Outcome.VERIFIED
        if name.startswith("hang"):
            return Outcome.VERIFIER_TIMEOUT
        if name.startswith("crash"):
            return Outcome.VERIFIER_ERROR
        if name.startswith("noisy"):
            digest = hashlib.sha256(f"{self.seed}|{task.key}".encode()).digest()
            return truth if random.Random(digest).random() < 0.7 else wrong
        return truth

    async def run_all(self, tasks: Iterable[Task]) -> AsyncIterator[TelemetryRecord]:
        for task in tasks:
            self.runs.append(task.key)
            yield record(task, self.outcome(task))


def items(names: list[str]) -> list[CorpusItem]:
    return [CorpusItem(n, n, f"/c/{n}", hashlib.sha256(n.encode()).hexdigest()) for n in names]


def tier_for(profile: str, repeat: int) -> Tier:
    name = f"label:{profile}" + (f"#{repeat}" if repeat else "")
    return Tier(name, 1.0, profile, options={"repeat": repeat} if repeat else {})


async def resolve(names: list[str], budget: int, seed: int = 0):  # type: ignore[no-untyped-def]
    runner = FakeRunner(seed)
    state = await run_consensus(
        items(names), PROFILES, tier_for, runner,  # type: ignore[arg-type]
        other_evidence=[], allowlist=(), ladders=LADDERS, budget=budget,
    )  # fmt: skip
    labels = merge_with(state, [], ())
    return state, labels, reasons_for(labels, state, LADDERS), runner


async def test_noisy_checker_leaves_fewer_undetermined_items_than_one_pass_each_with_a_reason(
    anyio_backend: str,
) -> None:
    names = [f"noisy{i}_{'valid' if i % 2 else 'invalid'}" for i in range(60)]
    names += ["hang0_valid", "crash0_invalid"]
    _, one_pass, one_reasons, _ = await resolve(names, budget=0)
    _, labels, reasons, runner = await resolve(names, budget=10_000)

    def undetermined(labs: dict) -> set[str]:
        return {i for (i, t), lab in labs.items() if t is None and lab.truth is Truth.UNDETERMINED}

    before, after = undetermined(one_pass), undetermined(labels)
    assert len(after) < len(before)
    assert set(reasons) == after and set(one_reasons) == before  # every one has a reason
    assert reasons["hang0_valid"] == Reason.TIMEOUT_AT_TOP
    assert reasons["crash0_invalid"] == Reason.CRASHED_EVERY_TIME
    assert set(reasons.values()) <= {r.value for r in Reason}
    # the hung item climbed every consensus ladder to the top, then nothing more was tried
    hang_runs = [k for k in runner.runs if k.startswith("hang0_valid|")]
    assert len(hang_runs) == len(PROFILES) * (1 + len(LADDERS["a"]))
    summary = label_summary(labels, reasons)
    assert sum(summary["undetermined_by_reason"].values()) == summary["undetermined"]
    wrong = {
        name: sum(
            1
            for (i, t), lab in labs.items()
            if t is None
            and lab.truth is not Truth.UNDETERMINED
            and (lab.truth is Truth.VERIFIED) != i.endswith("_valid")
        )
        for name, labs in (("one pass", one_pass), ("adaptive", labels))
    }
    print(f"undetermined: one pass {len(before)}, adaptive {len(after)}; wrong {wrong}; {summary}")


async def test_budget_bounds_extra_runs_and_a_larger_one_only_adds(anyio_backend: str) -> None:
    names = [f"noisy{i}_valid" for i in range(30)]
    small, _, _, small_runner = await resolve(names, budget=7)
    large, _, _, large_runner = await resolve(names, budget=40)
    first_pass = len(names) * len(PROFILES)
    assert small.extra_runs == 7 and len(small_runner.runs) == first_pass + 7
    # deterministic planning: the small run's runs are a prefix of the large run's plan
    assert set(small_runner.runs) <= set(large_runner.runs)
    assert len(large_runner.runs) == first_pass + large.extra_runs <= first_pass + 40


def chain(*outcomes: str, profile: str = "a", repeat: int = 0) -> list[TelemetryRecord]:
    item = items(["x"])[0]
    return [
        record(Task(item, tier_for(profile, repeat), profile, attempt=k), o)
        for k, o in enumerate(outcomes)
    ]


def test_next_step_climbs_the_ladder_then_repeats_the_least_used_profile() -> None:
    timed_out = {("a", 0): chain("VERIFIER_TIMEOUT"), ("b", 0): chain("VERIFIED", profile="b")}
    assert next_step(timed_out, PROFILES, LADDERS) == Step("a", 0, 1, 2.0)
    decided_rungs = {("a", 0): chain("VERIFIER_TIMEOUT", "VERIFIED")}
    assert next_step(decided_rungs, PROFILES, LADDERS) == Step("b", 0)
    at_top = {("a", 0): chain("VERIFIER_TIMEOUT", "VERIFIER_TIMEOUT", "VERIFIER_TIMEOUT")}
    assert next_step(at_top, ["a"], LADDERS) is None
    full = {("a", r): chain("VERIFIED", repeat=r) for r in range(2)}
    assert next_step(full, ["a"], LADDERS, max_repeats=2) is None


@given(st.lists(st.sampled_from(list(Outcome)), min_size=0, max_size=6))
def test_every_undecided_vote_pattern_has_exactly_one_reason(outcomes: list[Outcome]) -> None:
    chains = {("a", r): chain(o, repeat=r) for r, o in enumerate(outcomes)}
    reason = undetermined_reason(chains, {"a": []})
    valid, invalid = outcomes.count(Outcome.VERIFIED), outcomes.count(Outcome.PROOF_INVALID)
    if valid == invalid > 0:
        assert reason is Reason.SPLIT_VOTE
    elif valid or invalid:
        assert reason is Reason.BELOW_THRESHOLD
    elif not outcomes:
        assert reason is Reason.NO_EVIDENCE
    elif Outcome.VERIFIER_TIMEOUT in outcomes:
        assert reason is Reason.TIMEOUT_AT_TOP  # no ladder above: the first timeout is the top
    else:
        assert reason is Reason.CRASHED_EVERY_TIME
