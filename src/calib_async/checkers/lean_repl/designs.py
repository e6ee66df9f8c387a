"""The REPL-pool calibration designs (profile key ``designs``; every one off by default).

``reuse_effect``  the same items checked with the ``fresh`` policy and the ``warm`` one (one at a
                  time, so no queueing): verdict disagreement with the exact McNemar test, and
                  the latency ratios warm/fresh (end to end, and elaboration alone).
``aging``         on one warm REPL, each measured item after k filler commands, for each k of
                  ``fillers`` (default 0, 10, 100) in turn: RSS after every command against the
                  process's age, the flip rate against k, and the crash hazard against age
                  (deaths: a crash, or a kill or retirement for memory).
``restart_cost``  c REPLs started at once for each c of ``concurrency`` (default 1, 2, 4), each
                  importing the header, ``rounds`` times (default 3): import time against c,
                  and for each tier P(cold import + elaboration > the tier's timeout), with
                  elaboration times from warm checks of the items.
``leak_canaries`` on a warm REPL of the profile's own set-up: "declare X", "declare X again",
                  "use X without declaring it". A correct checker gives VERIFIED, VERIFIED,
                  PROOF_INVALID; a pool that leaks state between proofs does not.

Each value is ``true`` or a mapping (``items``: how many corpus items, default 10, chosen with
the run's seed). Every measurement is appended to a journal in the output directory as it
finishes, so a resumed run repeats none.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from calib_async.checkers.api import OpenContext
from calib_async.checkers.lean_repl import design_stats as ds
from calib_async.checkers.lean_repl.checker import LeanReplChecker
from calib_async.checkers.lean_repl.journal import Journal
from calib_async.checkers.lean_repl.options import ReplOptions
from calib_async.checkers.lean_repl.pool import Policy
from calib_async.checkers.lean_repl.source import FROM_ITEM, split_imports
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Outcome, Task, Tier

DESIGNS = ("reuse_effect", "aging", "restart_cost", "leak_canaries")
_DEATHS = ("crashed", "killed: memory limit", "memory limit (between commands)")
JOURNAL_NAME = "lean_repl_designs.jsonl"


def design_settings(config: VerifierConfig) -> dict[str, dict[str, Any]]:
    """The designs switched on in ``config`` with their settings; ConfigError when malformed."""
    raw = config.options.get("designs") or {}
    where = f"verifier {config.name!r}: designs"
    unknown = set(raw) - set(DESIGNS)
    if unknown:
        raise ConfigError(f"{where}: unknown design(s) {sorted(unknown)}; known: {list(DESIGNS)}")
    out: dict[str, dict[str, Any]] = {}
    for name in DESIGNS:
        value = raw.get(name, False)
        if value is False or value is None:
            continue
        if value is True:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}.{name} must be true, false or a mapping of settings")
        out[name] = dict(value)
    return out


def _write(directory: Path, name: str, text: str) -> CorpusItem:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.lean"
    path.write_text(text, encoding="utf-8")
    return CorpusItem(item_id=name, module_name=name, path=str(path), content_hash="0" * 64)


class DesignRun:
    """Runs the designs of one profile at one tier (the first selected tier of the profile)."""

    def __init__(
        self,
        config: VerifierConfig,
        tiers: Sequence[Tier],
        items: Sequence[CorpusItem],
        *,
        ctx: OpenContext,
        journal: Journal,
        seed: int,
    ) -> None:
        self.config = config
        self.tiers = list(tiers)
        self.tier = self.tiers[0]
        self.items = sorted(items, key=lambda i: i.item_id)
        self.ctx = ctx
        self.journal = journal
        self.seed = seed
        self.settings = design_settings(config)
        self.scratch = ctx.work_dir / "lean_repl_designs" / config.name

    def sample(self, settings: Mapping[str, Any]) -> list[CorpusItem]:
        n = int(settings.get("items", 10))
        rng = random.Random(f"{self.seed}:{self.config.name}")
        return rng.sample(self.items, min(n, len(self.items)))

    def checker(self, policy: Policy, pool_size: int | None = None) -> LeanReplChecker:
        config = self.config
        if pool_size is not None:
            config = replace(config, options={**config.options, "pool_size": pool_size})
        return LeanReplChecker(config, self.ctx, policy=policy)

    def task(self, item: CorpusItem, tier: Tier | None = None) -> Task:
        return Task(item=item, tier=tier or self.tier, verifier=self.config.name)

    async def run(self) -> dict[str, Any]:
        """Every switched-on design, in order; their results by name.

        **Cancellation:** the REPLs of the design in progress are killed and reaped; finished
        measurements are in the journal already.
        """
        out: dict[str, Any] = {"profile": self.config.name, "tier": self.tier.name}
        for name in DESIGNS:
            if name in self.settings:
                out[name] = await getattr(self, f"_{name}")(self.settings[name])
        return out

    # -- designs ------------------------------------------------------------------------------
    async def _reuse_effect(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        items = self.sample(settings)
        runs: dict[str, dict[str, Any]] = {}
        base = replace(ReplOptions.parse(self.config).policy, fresh=False)
        for policy in (replace(base, fresh=True), base):
            label = "fresh" if policy.fresh else "warm"
            checker = self.checker(policy)
            try:
                if not policy.fresh and items:  # warm every slot first (not measured)
                    for _ in range(checker.options.pool_size):
                        await checker.check(self.task(items[0]))
                for item in items:
                    key = f"{label}|{item.key}"
                    if self.journal.get("reuse_effect", key) is None:
                        obs = await checker.check(self.task(item))
                        value = {
                            "outcome": obs.verdict.outcome.value,
                            "total_ms": obs.details["total_ms"],
                            "elaboration_ms": obs.details["elaboration_ms"],
                            "header": obs.details["header"],
                        }
                        self.journal.put("reuse_effect", key, value)
                    runs[key] = self.journal.get("reuse_effect", key)
            finally:
                await checker.aclose()
        passed = Outcome.VERIFIED.value
        pairs = [
            (
                runs[f"fresh|{i.key}"]["outcome"] == passed,
                runs[f"warm|{i.key}"]["outcome"] == passed,
            )
            for i in items
        ]
        fresh = [runs[f"fresh|{i.key}"] for i in items]
        warm = [runs[f"warm|{i.key}"] for i in items]
        result = ds.mcnemar(pairs)
        result["latency_ratio_warm_over_fresh"] = ds.ratio_of_medians(
            [r["total_ms"] for r in warm], [r["total_ms"] for r in fresh]
        )
        result["elaboration_ratio_warm_over_fresh"] = ds.ratio_of_medians(
            [r["elaboration_ms"] for r in warm], [r["elaboration_ms"] for r in fresh]
        )
        result["disagreeing_items"] = [
            {
                "item": i.item_id,
                "fresh": runs[f"fresh|{i.key}"]["outcome"],
                "warm": runs[f"warm|{i.key}"]["outcome"],
            }
            for i, (a, b) in zip(items, pairs, strict=True)
            if a != b
        ][:20]
        return result

    async def _aging(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        items = self.sample(settings)
        fillers = sorted({int(k) for k in settings.get("fillers", [0, 10, 100])})
        filler = _write(self.scratch, "calib_filler", "theorem calib_filler : True := trivial\n")
        checker = self.checker(Policy(base_env=self.config.options.get("base_env", "header")), 1)
        outcomes: dict[int, dict[str, str]] = {}
        commands: list[tuple[int, bool]] = []
        curve: list[tuple[int, int, float]] = []  # (age, generation, RSS after)
        try:
            for k in fillers:
                for item in items:
                    key = f"k{k}|{item.key}"
                    if self.journal.get("aging", key) is None:
                        unit: list[list[Any]] = []  # [age, died, generation, rss after]
                        for _ in range(k):
                            unit.append(_aging_point(await checker.check(self.task(filler))))
                        obs = await checker.check(self.task(item))
                        unit.append(_aging_point(obs))
                        value = {"outcome": obs.verdict.outcome.value, "commands": unit}
                        self.journal.put("aging", key, value)
                    value = self.journal.get("aging", key)
                    outcomes.setdefault(k, {})[item.item_id] = value["outcome"]
                    for age, died, generation, rss in value["commands"]:
                        commands.append((age, died))
                        curve.append((age, generation, rss))
        finally:
            await checker.aclose()
        step = max(1, len(curve) // 400)  # the curve in the export: at most ~400 points
        return {
            "fillers": fillers,
            "items": len(items),
            "flip_rate": ds.flip_rates(outcomes),
            "crash_hazard": ds.crash_hazard(commands),
            "rss_curve": [{"age": a, "generation": g, "rss_mb": r} for a, g, r in curve[::step]],
            "rss_growth_mb_per_command": _slope(curve),
        }

    async def _restart_cost(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        levels = sorted({int(c) for c in settings.get("concurrency", [1, 2, 4])})
        rounds = int(settings.get("rounds", 3))
        items = self.sample(settings)
        probe = (
            items[0]
            if items
            else _write(self.scratch, "calib_probe", "theorem calib_probe : True := trivial\n")
        )
        imports: dict[int, list[float]] = {}
        for c in levels:
            for r in range(rounds):
                key = f"c{c}|r{r}"
                if self.journal.get("restart_cost", key) is None:
                    checker = self.checker(Policy(fresh=True), c)
                    times: list[float] = []
                    try:
                        async with anyio.create_task_group() as tg:
                            for _ in range(c):
                                tg.start_soon(_import_time, checker, self.task(probe), times)
                    finally:
                        await checker.aclose()
                    self.journal.put("restart_cost", key, times)
                imports.setdefault(c, []).extend(self.journal.get("restart_cost", key))
        elaborations: dict[str, list[float]] = {}
        checker = self.checker(Policy(), 1)
        try:
            for tier in self.tiers:
                for item in items:
                    key = f"warm|{tier.name}|{item.key}"
                    if self.journal.get("restart_cost", key) is None:
                        obs = await checker.check(self.task(item, tier))
                        self.journal.put("restart_cost", key, obs.details["elaboration_ms"])
                    elaborations.setdefault(tier.name, []).append(
                        self.journal.get("restart_cost", key)
                    )
        finally:
            await checker.aclose()
        return {
            "import_ms": {str(c): ds.quantiles(v) for c, v in imports.items()},
            "cold_exceeds_timeout": {
                tier.name: {
                    str(c): ds.exceed_probability(
                        imports[c], elaborations.get(tier.name, []), tier.timeout_s
                    )
                    for c in levels
                }
                for tier in self.tiers
            },
        }

    async def _leak_canaries(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        if (done := self.journal.get("leak_canaries", "outcomes")) is None:
            name = f"calib_leak_{uuid.uuid4().hex[:8]}"
            head = ""
            if self.config.options.get("header", FROM_ITEM) == FROM_ITEM and self.items:
                source = Path(self.items[0].path).read_text(encoding="utf-8", errors="replace")
                head = split_imports(source)[0] + "\n"
            declare = f"{head}theorem {name} : True := trivial\n"
            use = (  # the marker is a comment for Lean; the stand-in reads it
                f"{head}theorem {name}_use : True := by\n  -- standin: uses {name}\n"
                f"  exact {name}\n"
            )
            texts = [("declare", declare), ("declare_again", declare), ("use_undeclared", use)]
            checker = self.checker(
                Policy(base_env=self.config.options.get("base_env", "header")), 1
            )
            done = []
            try:
                for label, text in texts:
                    obs = await checker.check(self.task(_write(self.scratch, label, text)))
                    done.append([label, obs.verdict.outcome.value])
            finally:
                await checker.aclose()
            self.journal.put("leak_canaries", "outcomes", done)
        expected = [Outcome.VERIFIED.value, Outcome.VERIFIED.value, Outcome.PROOF_INVALID.value]
        observed = [o for _, o in done]
        return {
            "canaries": [
                {"canary": label, "outcome": o, "expected": e}
                for (label, o), e in zip(done, expected, strict=True)
            ],
            "passed": observed == expected,
        }


def _aging_point(obs: Any) -> list[Any]:
    d = obs.details
    died = d.get("retired") in _DEATHS
    return [d["age_commands"], died, d["generation"], d.get("rss_after_mb") or 0.0]


def _slope(curve: Sequence[tuple[int, int, float]]) -> float | None:
    """Least-squares RSS growth per command within the first process's life."""
    first = [(a, r) for a, g, r in curve if g == curve[0][1] and r > 0] if curve else []
    if len(first) < 3:
        return None
    from scipy import stats

    fit = stats.linregress([a for a, _ in first], [r for _, r in first])
    return round(float(fit.slope), 6)


async def _import_time(checker: LeanReplChecker, task: Task, out: list[float]) -> None:
    obs = await checker.check(task)
    out.append(float(obs.details["import_ms"]))


async def run_designs(
    configs: Sequence[VerifierConfig],
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    *,
    ctx: OpenContext,
    output_dir: Path,
    seed: int,
) -> list[dict[str, Any]]:
    """The designs of every ``lean_repl`` profile that switches one on, at its tiers.

    **Cancellation:** as :meth:`DesignRun.run`: no REPL survives, nothing journaled is lost.
    """
    journal = Journal(output_dir / JOURNAL_NAME)
    results = []
    for config in configs:
        own = [t for t in tiers if t.verifier == config.name]
        if config.kind != "lean_repl" or not own or not design_settings(config):
            continue
        results.append(
            await DesignRun(config, own, items, ctx=ctx, journal=journal, seed=seed).run()
        )
    return results
