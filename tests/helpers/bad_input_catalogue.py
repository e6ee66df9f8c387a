"""Builders for issue 15's bad-input catalogue (tests/cli/test_bad_inputs_catalogue.py): a config
and a calibration's arguments, case builders, prepared logs, and the ``Case`` row."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from calib_async.runner.leftovers import RECORD_NAME, _boot_id, _start_time
from helpers.bad_inputs import OK_PROFILE, corpus, log_path, write


def cfg_data(profile: dict[str, Any] | None = None, **tier: Any) -> dict[str, Any]:
    return {
        "verifiers": {"chk": {**OK_PROFILE, **(profile or {})}},
        "tiers": {"T": {"timeout_s": 20, "verifier": "chk", "grace_s": 0.2, **tier}},
    }


def config(d: Path, data: Any = None) -> Path:
    if isinstance(data, str | bytes):
        return write(d / "cfg.yaml", data)
    return write(d / "cfg.yaml", yaml.safe_dump(data or cfg_data(), sort_keys=False))


def run_args(d: Path, *extra: str, cfg: Path | None = None, cpath: Path | None = None) -> list[str]:
    return [
        "--tiers", "T", "--n", "3", "--export", str(d / "cal.yaml"), "--output-dir", str(d / "out"),
        "--corpus", "custom", "--corpus-path", str(cpath or corpus(d)),
        "--config", str(cfg or config(d)), "--consensus-verifiers", "chk",
        "--label-sample", "0", "--bootstrap", "0", "--no-report", "--no-progress",
        "--workers", "2", "--log-level", "ERROR", *extra,
    ]  # fmt: skip


def flags(*extra: str) -> Callable[[Path], list[str]]:
    return lambda d: run_args(d, *extra)


def yaml_case(data: Any) -> Callable[[Path], list[str]]:
    return lambda d: run_args(d, cfg=config(d, data))


def corpus_case(build: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: run_args(d, cpath=build(d))


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def edit_record(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        lines = log_path(d).read_text().splitlines(keepends=True)
        lines[1] = json.dumps(change(json.loads(lines[1]))) + "\n"
        log_path(d).write_text("".join(lines))

    return setup


def live_driver_record(d: Path) -> None:  # this test process plays the running driver
    record = {"pid": os.getpid(), "start": _start_time(os.getpid()), "boot": _boot_id(),
              "token": "catalogue"}  # fmt: skip
    write(d / "out" / RECORD_NAME, json.dumps(record))


ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
SLOW_NAME = "a" * 40 + "!"  # (a+)+$ takes 2^40 steps on it in a backtracking engine


@dataclass(frozen=True)
class Case:
    """``message`` must be in the one stderr line (exit 2); exit 0 cases run ``check``."""

    id: str
    args: Callable[[Path], list[str]]
    message: str = ""
    exit_code: int = 2
    base: bool = False  # start from a copy of a finished run's output directory
    setup: Callable[[Path], None] | None = None
    unchanged: tuple[str, ...] = ()  # files (relative to the case dir) a refusal must not touch
    check: Callable[[Path], None] | None = None
    lock_log: bool = False


def outcomes(d: Path) -> list[str]:
    rows = [json.loads(x) for x in log_path(d).read_text().splitlines() if x.strip()]
    return [r["outcome"] for r in rows if r.get("kind") != "header"]


def all_proof_invalid(d: Path) -> None:  # the rule's regex never matched: the default
    assert outcomes(d) == ["PROOF_INVALID"] * 3
