"""Builders for the checkpoint log's tests: corpus items, a fingerprint, a record, a new log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calib_async.checkers.simulated import default_synthetic_config
from calib_async.checkpoint.fingerprint import make_fingerprint
from calib_async.checkpoint.opening import prepare_log
from calib_async.checkpoint.reading import (
    CheckpointWriter,
)
from calib_async.records import CorpusItem
from helpers import fake_items


def items(n: int = 3, changed: int = -1) -> list[CorpusItem]:
    return fake_items(n, changed=changed)


def fingerprint(
    *, tiers: tuple[str, ...] = ("FAST",), seed: int = 1, corpus: list[CorpusItem] | None = None
) -> dict[str, Any]:
    config = default_synthetic_config()
    return make_fingerprint(
        items=corpus if corpus is not None else items(),
        tiers={name: config.tiers[name] for name in tiers},
        verifiers=config.verifiers,
        seed=seed,
        n=3,
        label_sample=2,
        tool_version="0.1.0",
    )


def rec(key: str, **extra: Any) -> dict[str, Any]:
    return {"task_key": key, "outcome": "VERIFIED", "duration_ms": 1.0, **extra}


def new_log(path: Path, keys: list[str]) -> None:
    prepare_log(path, fingerprint(), resume=False, fresh=False)
    with CheckpointWriter(path) as writer:
        for key in keys:
            writer.append(rec(key))
