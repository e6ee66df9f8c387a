"""An unreachable ``--ray-address`` fails within a stated bound with one line (exit 2), before
the telemetry log exists: ``ray.init`` alone retries such an address for minutes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from calib_async.backends.ray import CONNECT_TIMEOUT_S, probe_address
from calib_async.errors import CalibError
from helpers.cli import run

pytest.importorskip("ray")
#: The CLI's start-up plus the probe's timeout, generous for load 10.
WITHIN_S = 60.0 + CONNECT_TIMEOUT_S


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


def test_probe_accepts_a_listening_port_and_refuses_a_closed_one() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        probe_address(f"127.0.0.1:{server.getsockname()[1]}")
        probe_address(f"ray://127.0.0.1:{server.getsockname()[1]}")
    port = _closed_port()
    with pytest.raises(CalibError, match=rf"^cannot reach the Ray cluster at '127.0.0.1:{port}'"):
        probe_address(f"127.0.0.1:{port}")
    probe_address("auto")  # left to ray.init


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_ray_address_is_one_line_within_the_bound(
    tmp_path: Path, scheme: str
) -> None:
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    done = run(
        ["--tiers", "FAST", "--n", "3", "--export", "cal.yaml", "--corpus", "synthetic",
         "--output-dir", "out", "--label-sample", "0", "--bootstrap", "0", "--no-report",
         "--no-progress", "--log-level", "ERROR", "--backend", "ray", "--ray-address", address],
        tmp_path, timeout=WITHIN_S * 3,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert done.returncode == 2, done.stderr[-3000:]
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "cannot reach the Ray cluster" in lines[0], done.stderr[-3000:]
    assert elapsed < WITHIN_S
    assert not (tmp_path / "out" / "telemetry.jsonl").exists()
