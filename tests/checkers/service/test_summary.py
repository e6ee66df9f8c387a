"""The service section computed from records' checker blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calib_async.checkers.service.summary import service_summary


@dataclass
class Rec:
    tier: str
    outcome: str
    checker: dict[str, Any] | None = field(default=None)


def block(**kw: Any) -> dict[str, Any]:
    base = {
        "api": "kimina",
        "http_status": 200,
        "server_status": "valid",
        "raw_error": None,
        "server_time_s": 0.1,
        "client_time_s": 0.3,
        "repl_uuid": "a",
        "reuse": True,
        "reason": "valid",
    }
    return {**base, **kw}


def test_no_service_records_no_section() -> None:
    assert service_summary([Rec("FAST", "VERIFIED")]) is None


def test_mapping_rows_keep_raw_strings_and_count() -> None:
    timeout = "Lean REPL command timed out in 2.0 seconds"
    records = [
        Rec("FAST", "VERIFIED", block()),
        Rec("FAST", "VERIFIED", block(repl_uuid="b")),
        Rec(
            "FAST",
            "VERIFIER_TIMEOUT",
            block(
                server_status="timeout_error",
                raw_error=timeout,
                reason="timeout",
                server_time_s=2.0,
                client_time_s=2.2,
            ),
        ),
        Rec("SLOW", "VERIFIED", block(reuse=False, client_time_s=0.5)),
    ]
    out = service_summary(records)
    assert out is not None
    rows = {(r["server_status"], r["raw_error"]): r for r in out["mapping"]}
    assert rows[("valid", None)]["runs"] == 3
    assert rows[("timeout_error", timeout)]["outcome"] == "VERIFIER_TIMEOUT"
    assert rows[("timeout_error", timeout)]["reason"] == "timeout"
    fast = out["timing"]["FAST"]
    assert fast["server_time_s"]["median"] == 0.1
    assert fast["client_minus_server_s"]["median"] == 0.2
    assert out["reuse"]["FAST"]["reuse"] is True and out["reuse"]["SLOW"]["reuse"] is False
    assert out["reuse"]["FAST"]["distinct_repls"] == 2
    assert out["reuse"]["FAST"]["rates"]["VERIFIER_TIMEOUT"] == round(1 / 3, 6)


def test_leak_roles_are_scored() -> None:
    records = [
        Rec("FAST", "VERIFIED", block(leak_role="use")),
        Rec("FAST", "PROOF_INVALID", block(leak_role="redeclare")),
        Rec("FAST", "VERIFIED", block(leak_role="define")),
    ]
    out = service_summary(records)
    assert out is not None
    assert out["state_leak"]["FAST"] == {
        "runs": 3,
        "spurious_pass": 1,
        "spurious_fail": 1,
        "undecided": 0,
    }
