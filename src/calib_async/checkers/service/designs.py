"""Service calibration designs (profile key ``designs``; every one off by default).

``reuse_effect``   the same items checked with ``reuse: false`` and then ``reuse: true``, one at
                   a time (no queueing): verdict disagreement (exact McNemar test on the
                   discordant pairs) and the latency ratio reuse/fresh (client and server time).
``leak_canaries``  ``pairs`` header-less define / use / redeclare triples
                   (:mod:`calib_async.checkers.service.leak`), the definer on a fresh REPL: once
                   with the others on ``reuse: true``, once with every snippet fresh. A service
                   that leaks state shows spurious passes (use) and fails (redeclare).
``timeout_sweep``  the items at each request timeout of ``timeouts`` (default 1, 2, 4, 8 s)
                   with ``concurrency`` requests in flight (default 4): timeout and error rates
                   against the timeout. kimina health-checks a reused REPL within
                   min(5 s, t/4) and replaces it when that fails, so a knee is expected where
                   that budget falls below the REPL's answer time under load.

Each value is ``true`` or a mapping (``items``: corpus items, default 10, chosen with the run's
seed; and the design's own keys above). The load curve and replicates are the run's own
``--load-levels`` and ``--replicates``, which apply to every checker kind.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from scipy.stats import binomtest

from calib_async.checkers.api import Observation
from calib_async.checkers.service.checker import ServiceChecker
from calib_async.checkers.service.leak import Role, leak_pair, score
from calib_async.checkers.service.settings import read_settings
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Outcome, Task, Tier

DESIGNS = ("reuse_effect", "leak_canaries", "timeout_sweep")
DEFAULT_TIMEOUTS = (1.0, 2.0, 4.0, 8.0)


def design_settings(config: VerifierConfig) -> dict[str, dict[str, Any]]:
    """The designs switched on with their settings; ConfigError when malformed."""
    raw = config.options.get("designs") or {}
    where = f"service profile {config.name!r}: designs"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping of design names to true or settings")
    unknown = sorted(set(raw) - set(DESIGNS))
    if unknown:
        raise ConfigError(f"{where}: unknown design(s) {unknown}; known: {list(DESIGNS)}")
    out: dict[str, dict[str, Any]] = {}
    for name in DESIGNS:
        value = raw.get(name, False)
        if value is True:
            out[name] = {}
        elif isinstance(value, Mapping):
            out[name] = dict(value)
        elif value not in (False, None):
            raise ConfigError(f"{where}: {name} must be true, false or a mapping")
    return out


def _write(directory: Path, name: str, text: str) -> CorpusItem:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.lean"
    path.write_text(text, encoding="utf-8")
    return CorpusItem(item_id=name, module_name=name, path=str(path), content_hash="0" * 64)


def _quantiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p95": None}
    arr = np.asarray(values, dtype=float)
    return {"median": float(np.median(arr)), "p95": float(np.quantile(arr, 0.95))}


def _ratio(num: Sequence[float], den: Sequence[float]) -> float | None:
    if not num or not den or float(np.median(den)) <= 0:
        return None
    return float(np.median(num) / np.median(den))


class ServiceDesignRun:
    """The designs of one service profile at its first selected tier."""

    def __init__(
        self,
        config: VerifierConfig,
        tier: Tier,
        items: Sequence[CorpusItem],
        *,
        scratch: Path,
        seed: int,
        max_runs: int = 2000,
    ) -> None:
        self.config = config
        self.tier = tier
        self.items = sorted(items, key=lambda i: i.item_id)
        self.scratch = scratch
        self.seed = seed
        self.settings = design_settings(config)
        self.checker = ServiceChecker(read_settings(config.name, config.options))
        self.budget = max_runs  # every request loop is bounded

    def sample(self, settings: Mapping[str, Any]) -> list[CorpusItem]:
        n = int(settings.get("items", 10))
        rng = random.Random(f"{self.seed}:{self.config.name}")
        return rng.sample(self.items, min(n, len(self.items)))

    async def check(self, item: CorpusItem, **options: Any) -> Observation:
        """One check of ``item`` at the design's tier with ``options`` over its own (bounded by
        the run's ``max_runs``).

        **Cancellation:** as :meth:`ServiceChecker.check`.
        """
        if self.budget <= 0:
            raise ConfigError(f"service profile {self.config.name!r}: designs exceed max runs")
        self.budget -= 1
        timeout = options.pop("timeout_s", None)
        tier = replace(self.tier, options={**self.tier.options, **options})
        task = Task(item=item, tier=tier, verifier=self.config.name, timeout_s=timeout)
        return await self.checker.check(task)

    async def run(self) -> dict[str, Any]:
        """Every design switched on, in order; the checker is closed at the end.

        **Cancellation:** the current request is abandoned, the checker closed, and the
        cancellation re-raised.
        """
        out: dict[str, Any] = {"profile": self.config.name, "tier": self.tier.name}
        try:
            for name in DESIGNS:
                if name in self.settings:
                    out[name] = await getattr(self, name)(self.settings[name])
        finally:
            await self.checker.aclose()
        return out

    async def reuse_effect(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The items fresh, then reused (see the module docstring).

        **Cancellation:** as :meth:`run`.
        """
        items = self.sample(settings)
        seen: dict[bool, list[Observation]] = {False: [], True: []}
        for reuse in (False, True):
            for item in items:
                seen[reuse].append(await self.check(item, reuse=reuse))
        passed = {r: [o.verdict.outcome is Outcome.VERIFIED for o in seen[r]] for r in seen}
        fresh_only = sum(f and not w for f, w in zip(passed[False], passed[True], strict=True))
        warm_only = sum(w and not f for f, w in zip(passed[False], passed[True], strict=True))
        discordant = fresh_only + warm_only
        p = binomtest(fresh_only, discordant).pvalue if discordant else 1.0

        def side(reuse: bool) -> dict[str, Any]:
            obs = seen[reuse]
            client = [o.details["client_time_s"] for o in obs]
            server = [o.details["server_time_s"] for o in obs if o.details["server_time_s"]]
            return {
                "runs": len(obs),
                "verified": sum(passed[reuse]),
                "client_time_s": _quantiles(client),
                "server_time_s": _quantiles(server),
                "distinct_repls": len({o.details["repl_uuid"] for o in obs} - {None}),
            }

        times = {r: [o.details["client_time_s"] for o in seen[r]] for r in seen}
        return {
            "items": len(items),
            "fresh": side(False),
            "reuse": side(True),
            "pass_fresh_only": fresh_only,
            "pass_reuse_only": warm_only,
            "mcnemar_exact_p": float(p),
            "client_time_ratio_reuse_over_fresh": _ratio(times[True], times[False]),
        }

    async def leak_canaries(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The define / use / redeclare triples, reused then fresh.

        **Cancellation:** as :meth:`run`.
        """
        pairs = int(settings.get("pairs", 3))
        out: dict[str, Any] = {"pairs": pairs}
        for label, reuse in (("reuse", True), ("fresh", False)):
            results: list[tuple[Role, Outcome]] = []
            raw: list[dict[str, Any]] = []
            for k in range(pairs):
                for snippet in leak_pair(k):
                    name = f"{label}_{k}_{snippet.role.value}"
                    item = _write(self.scratch / "leak", name, snippet.text)
                    fresh = snippet.role is Role.DEFINE
                    obs = await self.check(item, reuse=False if fresh else reuse)
                    results.append((snippet.role, obs.verdict.outcome))
                    raw.append(
                        {
                            "pair": k,
                            "role": snippet.role.value,
                            "outcome": obs.verdict.outcome.value,
                            "raw_error": obs.details["raw_error"],
                            "first_error": obs.verdict.first_error,
                            "repl_uuid": obs.details["repl_uuid"],
                        }
                    )
            out[label] = {**score(results).as_dict(), "runs_detail": raw}
        return out

    async def timeout_sweep(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The items at each timeout with ``concurrency`` requests in flight.

        **Cancellation:** every request in flight is abandoned; re-raised.
        """
        items = self.sample(settings)
        timeouts = [float(t) for t in settings.get("timeouts", DEFAULT_TIMEOUTS)]
        concurrency = max(1, int(settings.get("concurrency", 4)))
        rows = []
        for timeout in timeouts:
            found = await self._at_load(items, timeout, concurrency)
            n = len(found)
            counts = {o: sum(x.verdict.outcome is o for x in found) for o in Outcome}
            rows.append(
                {
                    "timeout_s": timeout,
                    "health_check_budget_s": min(5.0, timeout / 4),
                    "runs": n,
                    **{f"{o.value.lower()}_rate": counts[o] / n if n else None for o in Outcome},
                    "reasons": _reasons(found),
                }
            )
        return {"concurrency": concurrency, "items": len(items), "rows": rows}

    async def _at_load(
        self, items: Sequence[CorpusItem], timeout: float, concurrency: int
    ) -> list[Observation]:
        """Every item once at ``timeout``, ``concurrency`` requests in flight."""
        found: list[Observation] = []
        limiter = anyio.CapacityLimiter(concurrency)

        async def one(item: CorpusItem) -> None:
            async with limiter:
                found.append(await self.check(item, timeout_s=timeout))

        async with anyio.create_task_group() as tg:
            for item in items:
                tg.start_soon(one, item)
        return found


def _reasons(found: Sequence[Observation]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in found:
        out[o.details["reason"]] = out.get(o.details["reason"], 0) + 1
    return dict(sorted(out.items()))
