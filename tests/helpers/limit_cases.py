"""Checkers that break a tier's limits, and what each must be classified as: the same locally,
under ``--sandbox bwrap`` and on the Ray backend (issue 25)."""

from __future__ import annotations

import sys

from calib_async.records import Outcome, Tier

#: name -> (argv, tier, termination reason, outcome)
LIMIT_CASES: dict[str, tuple[tuple[str, ...], Tier, str, Outcome]] = {
    "memory": (
        (sys.executable, "-S", "-c", "b = bytearray(2**31)"),
        Tier("T", timeout_s=60, verifier="v", memory_limit_mb=256, grace_s=0.2),
        "memory",
        Outcome.MEMORY_LIMIT_EXCEEDED,
    ),
    "fork_bomb": (
        ("sh", "-c", "b() { b & b & wait; }; b"),
        Tier("T", timeout_s=60, verifier="v", max_processes=32, grace_s=0.2),
        "process_limit",
        Outcome.VERIFIER_ERROR,
    ),
}
