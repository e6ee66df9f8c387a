from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

# These machines are shared and noisy: property tests assert behaviour, never speed.
settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machine")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every anyio test runs under both backends (parametrize ``anyio_backend`` to narrow)."""
    return request.param


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Collecting no test is a failure here, never a pass: exit 5 becomes exit 1."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
