"""The report's service section shows the mapping with raw strings, the timing, reuse, the
state-leak canaries and the timeout sweep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calib_async.checkers.service.summary import service_section
from calib_async.export.report_sections import optional_sections
from calib_async.export.report_service import render_section


@dataclass
class Rec:
    tier: str
    outcome: str
    checker: dict[str, Any]


RAW = "Lean REPL command timed out in 2.0 seconds"
DESIGN = {
    "profile": "kimina",
    "tier": "WARM",
    "reuse_effect": {
        "items": 3,
        "fresh": {"verified": 3},
        "reuse": {"verified": 2},
        "pass_fresh_only": 1,
        "pass_reuse_only": 0,
        "mcnemar_exact_p": 1.0,
        "client_time_ratio_reuse_over_fresh": 0.5,
    },
    "leak_canaries": {
        "pairs": 2,
        "reuse": {"runs": 6, "spurious_pass": 2, "spurious_fail": 2, "undecided": 0},
        "fresh": {"runs": 6, "spurious_pass": 0, "spurious_fail": 0, "undecided": 0},
    },
    "timeout_sweep": {
        "concurrency": 2,
        "items": 2,
        "rows": [
            {
                "timeout_s": 1.0,
                "health_check_budget_s": 0.25,
                "runs": 2,
                "verifier_timeout_rate": 0.5,
                "verifier_error_rate": 0.0,
                "reasons": {"timeout": 1},
            },
        ],
    },
}


def test_section_shows_raw_strings_timing_reuse_and_leak() -> None:
    block = {"api": "kimina", "http_status": 200, "server_status": "timeout_error",
             "raw_error": RAW, "server_time_s": 2.0, "client_time_s": 2.1, "repl_uuid": "u",
             "reuse": True, "reason": "timeout"}  # fmt: skip
    export = {"service": service_section([Rec("WARM", "VERIFIER_TIMEOUT", block)], [DESIGN])}
    html = render_section(export)
    assert html is not None
    for text in (
        RAW,
        "timeout_error",
        "VERIFIER_TIMEOUT",
        "Server time against client",
        "State-leak canaries",
        "spurious passes",
        "Reuse effect",
        "Timeout sweep",
    ):
        assert text in html, text
    assert html in optional_sections(export)


def test_no_service_no_section() -> None:
    assert render_section({"noise_models": {}}) is None
    assert service_section([], []) is None
