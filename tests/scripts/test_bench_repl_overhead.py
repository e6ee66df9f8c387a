"""scripts/bench_repl_overhead.py runs with tiny arguments and prints its ratio."""

from __future__ import annotations

import subprocess
import sys

from helpers import TESTS, run_env

SCRIPT = TESTS.parent / "scripts" / "bench_repl_overhead.py"


def test_tiny_run_prints_the_ratio() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--commands", "10", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=run_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ratio lean_repl/bare:" in proc.stdout
    assert "processes started by the kind: 2 (the warm-up), none after" in proc.stdout
