"""Bad server replies are VERIFIER_ERROR with a reason, and nothing outlasts timeout + grace."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import pytest

from calib_async.checkers.api import OpenContext
from calib_async.checkers.service.checker import ServiceChecker, ServiceUnavailable
from calib_async.checkers.service.kind import KIND
from calib_async.records import Outcome, TimeoutKind
from calib_async.runner.spec import Termination
from helpers.fake_service import FakeService, service_config, service_task

pytestmark = pytest.mark.anyio
GRACE_S = 0.5
#: the machine is shared (load 10): a bound on hanging, not a speed test
SLACK_S = 8.0


def open_checker(url: str, **options: object) -> ServiceChecker:
    ctx = OpenContext(work_dir=Path("/tmp"), backend=None)  # type: ignore[arg-type]
    checker = KIND.open(service_config(url, grace_s=GRACE_S, **options), ctx)
    assert isinstance(checker, ServiceChecker)
    return checker


@pytest.mark.parametrize(
    ("behaviour", "why"),
    [
        ("not_json", "not JSON"),
        ("missing", "neither or both"),
        ("huge", "huge_body"),
        ("slow_body", "slow_body"),
    ],
)
async def test_bad_reply_is_verifier_error_with_reason(
    tmp_path: Path, behaviour: str, why: str
) -> None:
    with FakeService(behaviour) as fake:
        checker = open_checker(fake.url, max_reply_kb=256)
        try:
            obs = await checker.check(service_task(tmp_path, "theorem t : True := trivial"))
        finally:
            await checker.aclose()
    assert obs.verdict.outcome is Outcome.VERIFIER_ERROR
    assert obs.details["reason"] == "bad_reply"
    assert why in (obs.verdict.first_error or "")
    assert obs.details["client_time_s"] < 1 + GRACE_S + SLACK_S


async def test_no_reply_is_a_client_deadline_timeout_within_timeout_plus_grace(
    tmp_path: Path,
) -> None:
    with FakeService("no_reply") as fake:
        checker = open_checker(fake.url)
        try:
            obs = await checker.check(service_task(tmp_path, "theorem t : True := trivial"))
        finally:
            await checker.aclose()
    assert obs.verdict.outcome is Outcome.VERIFIER_TIMEOUT
    assert obs.verdict.timeout_kind is TimeoutKind.WALL
    assert obs.details["reason"] == "client_deadline"
    assert obs.result.termination is Termination.TIMEOUT
    assert 1 + GRACE_S - 0.05 <= obs.details["client_time_s"] < 1 + GRACE_S + SLACK_S


@pytest.mark.parametrize(("status", "reason"), [(500, "service"), (503, "service"), (401, "auth")])
async def test_http_error_status(tmp_path: Path, status: int, reason: str) -> None:
    with FakeService("status", status=status) as fake:
        checker = open_checker(fake.url)
        try:
            obs = await checker.check(service_task(tmp_path, "theorem t : True := trivial"))
        finally:
            await checker.aclose()
    assert obs.verdict.outcome is Outcome.VERIFIER_ERROR
    assert obs.details["reason"] == reason
    assert obs.details["http_status"] == status
    assert f"HTTP {status}" in (obs.verdict.first_error or "")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_connection_refused_is_a_service_error(tmp_path: Path) -> None:
    checker = open_checker(f"http://127.0.0.1:{closed_port()}")
    try:
        obs = await checker.check(service_task(tmp_path, "theorem t : True := trivial"))
    finally:
        await checker.aclose()
    assert obs.verdict.outcome is Outcome.VERIFIER_ERROR
    assert obs.details["reason"] == "service"
    assert obs.details["http_status"] is None


async def test_a_service_that_is_down_fails_the_version_probe_with_one_clear_error() -> None:
    checker = open_checker(f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(ServiceUnavailable, match=r"does not answer.*start the service"):
            await checker.version()
    finally:
        await checker.aclose()


async def test_valid_reply_records_the_exchange_and_never_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVC_TOKEN", "s3cret-token")
    with FakeService("reply") as fake:
        checker = open_checker(fake.url, token_env="SVC_TOKEN", headers={"X-Team": "a"})
        try:
            obs = await checker.check(service_task(tmp_path, "theorem t : True := trivial"))
            version = await checker.version()
        finally:
            await checker.aclose()
    assert obs.verdict.outcome is Outcome.VERIFIED
    assert fake.requests[0]["_auth"] == "Bearer s3cret-token"
    assert fake.requests[0]["reuse"] is True and fake.requests[0]["timeout"] == 1
    d = obs.details
    assert (d["http_status"], d["server_status"], d["repl_uuid"]) == (200, "valid", "u-1")
    assert d["server_time_s"] == 0.01 and d["client_time_s"] > 0
    assert d["header_names"] == ["Authorization", "X-Team"]
    assert "s3cret" not in repr(obs)
    assert version == "Fake 0.1"


async def test_cancellation_is_not_swallowed_and_ends_the_request(tmp_path: Path) -> None:
    with FakeService("no_reply") as fake:
        checker = open_checker(fake.url)
        try:
            with anyio.move_on_after(0.3) as scope:
                await checker.check(service_task(tmp_path, "theorem t : True := trivial"))
            assert scope.cancelled_caught
            await checker.aclose()
            await checker.aclose()  # idempotent
        finally:
            await checker.aclose()
