"""What a run does for its service profiles beyond checking: probe them before the first check,
and run their designs (:mod:`calib_async.checkers.service.designs`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import structlog

from calib_async.checkers.service.checker import ServiceChecker
from calib_async.checkers.service.designs import ServiceDesignRun, design_settings
from calib_async.checkers.service.settings import read_settings
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Tier

log = structlog.get_logger(__name__)


async def preflight(configs: Iterable[VerifierConfig]) -> dict[str, str | None]:
    """Each service profile's version; :class:`~calib_async.checkers.service.checker.
    ServiceUnavailable` (one line, with the fix) for the first one that does not answer.

    **Cancellation:** the probe's connection is closed; re-raised.
    """
    versions: dict[str, str | None] = {}
    for config in configs:
        if config.kind != "service":
            continue
        checker = ServiceChecker(read_settings(config.name, config.options))
        try:
            versions[config.name] = await checker.version()
        finally:
            await checker.aclose()
        log.info("service.answered", profile=config.name, version=versions[config.name])
    return versions


async def run_designs(
    configs: Iterable[VerifierConfig],
    tiers: Sequence[Tier],
    items: Sequence[CorpusItem],
    *,
    work_dir: Path,
    seed: int,
) -> list[dict[str, Any]]:
    """The designs of every service profile that switches one on, at its first selected tier.

    **Cancellation:** as :meth:`~calib_async.checkers.service.designs.ServiceDesignRun.run`.
    """
    out = []
    for config in configs:
        if config.kind != "service" or not design_settings(config):
            continue
        own = [t for t in tiers if t.verifier == config.name]
        if not own:
            continue
        run = ServiceDesignRun(
            config, own[0], items, scratch=work_dir / "service_designs" / config.name, seed=seed
        )
        out.append(await run.run())
    return out
