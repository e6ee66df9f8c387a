"""Shared test helpers: paths, the CLI's environment, and builders of the records tests use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
FIXTURES = TESTS / "fixtures"
HELPERS = TESTS / "helpers"
EXAMPLES = TESTS.parent / "examples"


def run_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: this interpreter's venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env
