"""Consensus evidence for the sampled items, and adaptive resolution within a budget.

The first pass checks every sampled item once with every consensus profile. Items that are
still undetermined after merging all evidence then get more, one run per item per round
(items in id order), until they are decided, nothing more can be tried, or ``budget`` extra
runs have been planned:

1. a consensus run that timed out below the top of the ladder climbs its consensus ladder
   (same profile and repeat, timeout x2, x4, ... up to the top);
2. otherwise another independent repeat of a consensus profile, the profile with the fewest
   repeats first (so every consensus profile gets its turn), up to ``max_repeats`` each;
3. an item whose every consensus run timed out at the top of the ladder gets nothing more.

Every decision depends only on the outcomes of earlier runs, never on their order or timing,
so a resumed run plans exactly the runs an uninterrupted one would: the ones already in the
checkpoint are replayed, and a larger budget only adds runs.

An item that stays undetermined records why (:class:`Reason`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import anyio

from calib_async.events import Listener, RunEscalated, emit
from calib_async.labels.sampling import (
    Evidence,
    axiom_evidence,
    consensus_evidence,
    merge_labels,
)
from calib_async.records import (
    CorpusItem,
    ItemLabel,
    Outcome,
    Phase,
    Task,
    TelemetryRecord,
    Tier,
    Truth,
)
from calib_async.telemetry.resuming import ResumingRunner

#: Consensus runs per profile and item at most (the first pass's included).
MAX_REPEATS = 5


class Reason(StrEnum):
    """Why an item stayed undetermined."""

    SPLIT_VOTE = "split_vote"  # as many VERIFIED as INVALID votes
    BELOW_THRESHOLD = "below_threshold"  # a majority, but its share is below the threshold
    TIMEOUT_AT_TOP = "timeout_at_top"  # no vote: runs timed out at the top of the ladder
    TIMEOUT_BELOW_TOP = "timeout_below_top"  # no vote: timed out; the budget ran out first
    CRASHED_EVERY_TIME = "crashed_every_time"  # no vote: every run crashed or hit memory
    NO_EVIDENCE = "no_evidence"  # no consensus run at all (no consensus profile)


@dataclass(frozen=True, slots=True)
class Step:
    """One more consensus run: ``profile``'s repeat ``repeat``, ladder rung ``attempt``."""

    profile: str
    repeat: int
    attempt: int = 0
    timeout_s: float | None = None  # None: the consensus tier's own timeout


#: item id -> (profile, repeat) -> records by attempt (the consensus ladder), in order.
Chains = dict[tuple[str, int], list[TelemetryRecord]]


def final_outcomes(chains: Chains) -> list[str]:
    """The outcome of each chain's last rung: a chain's verdict."""
    return [runs[-1].outcome for _, runs in sorted(chains.items()) if runs]


def next_step(
    chains: Chains,
    profiles: Sequence[str],
    ladders: Mapping[str, Sequence[float]],
    *,
    max_repeats: int = MAX_REPEATS,
) -> Step | None:
    """The next consensus run for an undetermined item, or None when nothing is left to try."""
    order = {p: i for i, p in enumerate(profiles)}
    live = sorted(
        (k for k in chains if k[0] in order and chains[k]), key=lambda k: (order[k[0]], k[1])
    )
    at_top = []
    for profile, repeat in live:
        runs = chains[(profile, repeat)]
        if runs[-1].outcome != Outcome.VERIFIER_TIMEOUT:
            at_top.append(False)
            continue
        rung = len(runs)  # attempt numbers 0, 1, ...: the next rung is attempt len(runs)
        ladder = ladders.get(profile, ())
        if rung <= len(ladder):
            return Step(profile, repeat, rung, ladder[rung - 1])
        at_top.append(True)
    if at_top and all(at_top):
        return None  # every check ran out of time at the top: more of them will too
    repeats = Counter(p for p, _ in live)
    open_profiles = [p for p in profiles if repeats[p] < max_repeats]
    if not open_profiles:
        return None
    profile = min(open_profiles, key=lambda p: (repeats[p], order[p]))
    return Step(profile, repeats[profile])


def undetermined_reason(chains: Chains, ladders: Mapping[str, Sequence[float]]) -> Reason:
    """Why the consensus runs of an item decide nothing."""
    finals = final_outcomes(chains)
    valid = finals.count(Outcome.VERIFIED)
    invalid = finals.count(Outcome.PROOF_INVALID)
    if valid or invalid:
        return Reason.SPLIT_VOTE if valid == invalid else Reason.BELOW_THRESHOLD
    if not finals:
        return Reason.NO_EVIDENCE
    timed_out = [
        (profile, len(runs))
        for (profile, _), runs in chains.items()
        if runs and runs[-1].outcome == Outcome.VERIFIER_TIMEOUT
    ]
    if any(rungs > len(ladders.get(profile, ())) for profile, rungs in timed_out):
        return Reason.TIMEOUT_AT_TOP
    if timed_out:
        return Reason.TIMEOUT_BELOW_TOP
    return Reason.CRASHED_EVERY_TIME


def item_evidence(item_id: str, chains: Chains, allowlist: Sequence[str]) -> list[Evidence]:
    """Consensus (over the chains' verdicts) and axiom-audit evidence (over every run)."""
    out = [consensus_evidence(item_id, final_outcomes(chains))]
    audit = axiom_evidence(item_id, (r.axioms for runs in chains.values() for r in runs), allowlist)
    if audit is not None:
        out.append(audit)
    return out


@dataclass(slots=True)
class Resolution:
    """The consensus runs of every sampled item and what resolving undetermined items did."""

    chains: dict[str, Chains]
    runs: list[TelemetryRecord] = field(default_factory=list)
    extra_runs: int = 0  # runs planned beyond the first pass (replayed ones included)
    budget: int = 0


async def run_consensus(
    items: Sequence[CorpusItem],
    profiles: Sequence[str],
    tier_for: Callable[[str, int], Tier],
    runner: ResumingRunner,
    *,
    other_evidence: Sequence[Evidence],
    allowlist: Sequence[str],
    ladders: Mapping[str, Sequence[float]],
    budget: int,
    listeners: Sequence[Listener] = (),
    ready: anyio.Event | None = None,
    max_repeats: int = MAX_REPEATS,
) -> Resolution:
    """The first pass, then adaptive rounds until decided, exhausted or ``budget`` is spent.

    ``tier_for(profile, repeat)`` is the consensus tier; ``allowlist`` the axiom allowlist of
    the audits; ``other_evidence`` (manual labels, strict ladder verdicts; read at every merge,
    so it may still grow until ``ready`` is set) joins every merge. The adaptive rounds start
    once the first pass is done and ``ready`` is set.

    **Cancellation:** running checkers are killed and reaped; finished runs are already in the
    checkpoint, so a resumed run replays them and plans the same next runs.
    """
    other = other_evidence
    state = Resolution(chains={item.item_id: {} for item in items}, budget=budget)
    by_id = {item.item_id: item for item in items}

    def task(item_id: str, step: Step) -> Task:
        tier = tier_for(step.profile, step.repeat)
        return Task(by_id[item_id], tier, step.profile, Phase.LABEL, step.attempt, step.timeout_s)

    async def run(steps: list[tuple[str, Step]]) -> None:
        where = {}
        for item_id, step in steps:
            t = task(item_id, step)
            where[t.key] = (item_id, step)
        tasks = [task(item_id, step) for item_id, step in steps]
        async for record in runner.run_all(tasks):
            item_id, step = where[record.task_key]
            state.chains[item_id].setdefault((step.profile, step.repeat), []).append(record)
            state.runs.append(record)

    await run([(item.item_id, Step(p, 0)) for item in items for p in profiles])
    if ready is not None:
        await ready.wait()
    while state.extra_runs < budget:
        labels = merge_with(state, other, allowlist)
        steps: list[tuple[str, Step]] = []
        for item_id in sorted(state.chains):
            if labels[(item_id, None)].truth is not Truth.UNDETERMINED:
                continue
            if state.extra_runs >= budget:
                break
            step = next_step(state.chains[item_id], profiles, ladders, max_repeats=max_repeats)
            if step is None:
                continue
            steps.append((item_id, step))
            state.extra_runs += 1
            previous = _last(state.chains[item_id])
            if previous is not None:
                emit(listeners, RunEscalated(task=task(item_id, step), previous=previous))
        if not steps:
            break
        await run(steps)
    return state


def _last(chains: Chains) -> TelemetryRecord | None:
    runs = [r for rs in chains.values() for r in rs]
    return runs[-1] if runs else None


def merge_with(
    state: Resolution, other: Sequence[Evidence], allowlist: Sequence[str]
) -> dict[tuple[str, str | None], ItemLabel]:
    """All evidence merged: ``other`` plus every item's consensus and axiom evidence."""
    evidence = list(other)
    for item_id, chains in state.chains.items():
        evidence += item_evidence(item_id, chains, allowlist)
    return merge_labels(evidence)


def reasons_for(
    labels: Mapping[tuple[str, str | None], ItemLabel],
    state: Resolution,
    ladders: Mapping[str, Sequence[float]],
) -> dict[str, str]:
    """item id -> reason, for every item whose item-wide label is undetermined."""
    out = {}
    for (item_id, tier), label in labels.items():
        if tier is None and label.truth is Truth.UNDETERMINED:
            out[item_id] = undetermined_reason(state.chains.get(item_id, {}), ladders).value
    return dict(sorted(out.items()))
