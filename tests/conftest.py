from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def run_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: this interpreter's venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Collecting no test is a failure here, never a pass: exit 5 becomes exit 1."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
