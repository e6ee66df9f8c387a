"""The simulated checker's built-in tiers with 4x their budgets, for tests that compare outcomes
across runs. The built-in budgets (0.5-2 s) leave a Python checker about 0.1 s of margin around
the simulated durations (their guard band is +-20 % of the budget); under load a slow start
crossed FAST's 0.5 s and turned an OOM into a timeout. 4x keeps every outcome off the clock."""

from __future__ import annotations

from pathlib import Path

X4_TIERS = ("FAST_X4", "BALANCED_X4")

_X4_YAML = (
    "tiers:\n"
    "  FAST_X4: {verifier: simulated, timeout_s: 2.0, memory_limit_mb: 80, grace_s: 0.2,"
    " options: {precision: fast}}\n"
    "  BALANCED_X4: {verifier: simulated, timeout_s: 4.0, memory_limit_mb: 160, grace_s: 0.2,"
    " options: {precision: balanced}}\n"
)


def x4_config(directory: Path) -> Path:
    """A ``--config`` file with :data:`X4_TIERS`, written in ``directory``."""
    path = directory / "x4.yaml"
    path.write_text(_X4_YAML)
    return path
