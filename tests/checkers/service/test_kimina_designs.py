"""The service designs against the real kimina-lean-server (one REPL, over the stand-in)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from calib_async.checkers.service.designs import ServiceDesignRun, design_settings
from calib_async.errors import ConfigError
from calib_async.records import Tier
from helpers import file_item
from helpers.fake_service import service_config
from helpers.kimina import KiminaServer

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def corpus(tmp: Path, n: int) -> list:  # type: ignore[type-arg]
    return [
        file_item(tmp / f"c{i}.lean", f"import Mathlib\ntheorem c{i} : True := trivial\n")
        for i in range(n)
    ]


async def test_designs_report_reuse_effect_leak_and_timeout_sweep(
    kimina: KiminaServer, tmp_path: Path
) -> None:
    designs = {
        "reuse_effect": {"items": 3},
        "leak_canaries": {"pairs": 2},
        "timeout_sweep": {"items": 2, "timeouts": [1, 2], "concurrency": 2},
    }
    config = service_config(kimina.url, grace_s=5, designs=designs)
    tier = Tier(name="FAST", timeout_s=5, verifier="svc", options={"reuse": True})
    run = ServiceDesignRun(config, tier, corpus(tmp_path, 4), scratch=tmp_path / "d", seed=1)
    with anyio.fail_after(240):
        out = await run.run()
    reuse = out["reuse_effect"]
    assert reuse["items"] == 3 and reuse["fresh"]["verified"] == reuse["reuse"]["verified"] == 3
    # one REPL at most: every fresh request starts its own, reuse keeps one
    assert reuse["fresh"]["distinct_repls"] == 3 and reuse["reuse"]["distinct_repls"] == 1
    assert reuse["mcnemar_exact_p"] == 1.0
    leak = out["leak_canaries"]
    assert (leak["reuse"]["spurious_pass"], leak["reuse"]["spurious_fail"]) == (2, 2)
    assert (leak["fresh"]["spurious_pass"], leak["fresh"]["spurious_fail"]) == (0, 0)
    raw = [r["first_error"] for r in leak["reuse"]["runs_detail"] if r["role"] == "redeclare"]
    assert all("already been declared" in (e or "") for e in raw)
    sweep = out["timeout_sweep"]
    assert [r["timeout_s"] for r in sweep["rows"]] == [1.0, 2.0]
    assert all(r["runs"] == 2 for r in sweep["rows"])


def test_design_settings_refuse_unknown_designs() -> None:
    config = service_config("http://127.0.0.1:1", designs={"aging": True})
    with pytest.raises(ConfigError, match="unknown design"):
        design_settings(config)
