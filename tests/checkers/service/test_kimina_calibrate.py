"""``calibrate_noise --config`` through the service kind against the real kimina server: the
YAML, the terminal summary and the report show the mapping with raw strings, server time
against client wall time, the reuse effect and the state-leak canaries. A service that is down
stops the run with one message before stage 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from helpers import run_env
from helpers.kimina import KiminaServer

pytestmark = pytest.mark.slow
RUN_TIMEOUT_S = 900


def corpus(d: Path) -> Path:
    texts = {
        **{f"v{i}": f"import Mathlib\ntheorem v{i} : True := trivial\n" for i in range(4)},
        **{f"s{i}": f"import Mathlib\ntheorem s{i} : True := sorry\n" for i in range(2)},
        "e0": "import Mathlib\n-- standin: error type mismatch\ntheorem e0 : True := trivial\n",
        "t0": "import Mathlib\n-- standin: sleep 3000\ntheorem t0 : True := trivial\n",
        **{f"h{i}": f"theorem calib_h{i} : True := trivial\n" for i in range(2)},
    }
    out = d / "corpus"
    out.mkdir()
    for name, text in texts.items():
        (out / f"{name}.lean").write_text(text)
    return out


def config(d: Path, url: str) -> Path:
    doc: dict[str, Any] = {
        "verifiers": {
            "kimina": {
                "kind": "service",
                "url": url,
                "grace_s": 5,
                "designs": {
                    "reuse_effect": {"items": 3},
                    "leak_canaries": {"pairs": 2},
                    "timeout_sweep": {"items": 2, "timeouts": [1, 2], "concurrency": 2},
                },
            }
        },
        "tiers": {
            "WARM": {"timeout_s": 2, "verifier": "kimina", "options": {"reuse": True}},
            "FRESH": {
                "timeout_s": 2,
                "verifier": "kimina",
                "options": {"reuse": False, "reject_sorry": True, "audit_axioms": True},
            },
        },
        "consensus_verifiers": ["kimina"],
    }
    path = d / "kimina.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def calibrate(d: Path, cfg: Path, proofs: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable, "-m", "calib_async", "--config", str(cfg), "--corpus", "custom",
        "--corpus-path", str(proofs), "--tiers", "WARM", "FRESH", "--n", "10",
        "--export", str(d / "calibration.yaml"), "--output-dir", str(d / "out"),
        "--bootstrap", "0", "--no-progress", "--log-level", "WARNING",
        *(extra or ("--workers", "1")),
    ]  # fmt: skip
    return subprocess.run(
        args, capture_output=True, text=True, env=run_env(), timeout=RUN_TIMEOUT_S
    )


def test_calibrating_kimina_end_to_end(kimina: KiminaServer, tmp_path: Path) -> None:
    done = calibrate(tmp_path, config(tmp_path, kimina.url), corpus(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:] + kimina.log_tail()
    doc = yaml.safe_load((tmp_path / "calibration.yaml").read_text())
    service = doc["service"]
    rows = service["records"]["mapping"]
    statuses = {r["server_status"] for r in rows}
    assert {"valid", "sorry", "lean_error", "timeout_error"} <= statuses
    timeout_row = next(r for r in rows if r["server_status"] == "timeout_error")
    assert "Lean REPL command timed out in 2" in timeout_row["raw_error"]
    assert (timeout_row["outcome"], timeout_row["reason"]) == ("VERIFIER_TIMEOUT", "timeout")
    timing = service["records"]["timing"]
    assert set(timing) == {"WARM", "FRESH"}
    for t in timing.values():
        assert t["server_time_s"]["median"] <= t["client_time_s"]["median"]
    reuse = service["records"]["reuse"]
    assert (reuse["WARM"]["reuse"], reuse["FRESH"]["reuse"]) == (True, False)
    design = service["designs"][0]
    leak = design["leak_canaries"]
    assert leak["reuse"]["spurious_pass"] >= 1 and leak["reuse"]["spurious_fail"] >= 1
    assert (leak["fresh"]["spurious_pass"], leak["fresh"]["spurious_fail"]) == (0, 0)
    assert design["reuse_effect"]["items"] == 3
    assert [r["timeout_s"] for r in design["timeout_sweep"]["rows"]] == [1.0, 2.0]
    # the terminal summary
    for text in ("Service verdict mapping", "timeout_error", "Service time", "spurious passes"):
        assert text in done.stdout, text
    # the report
    html = (tmp_path / "out" / "report.html").read_text()
    for text in ("Verification service", "Lean REPL command timed out", "State-leak canaries",
                 "Server time against client wall time", "Reuse effect"):  # fmt: skip
        assert text in html, text
    # the records keep the raw exchange
    lines = (tmp_path / "out" / "telemetry.jsonl").read_bytes().splitlines()[1:]
    records = [orjson.loads(line) for line in lines]
    blocks = [r["checker"] for r in records if r["phase"] == "telemetry"]
    assert blocks and all(b["http_status"] == 200 and b["api"] == "kimina" for b in blocks)
    assert all(r["memory_peak_source"] == "service" for r in records)


def test_a_service_that_is_down_stops_before_stage_2(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = calibrate(tmp_path, config(tmp_path, f"http://127.0.0.1:{port}"), corpus(tmp_path))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "does not answer" in done.stderr and "Traceback" not in done.stderr
    assert (
        not (tmp_path / "out" / "telemetry.jsonl").exists()
        or len((tmp_path / "out" / "telemetry.jsonl").read_bytes().splitlines()) <= 1
    )
