"""The report's REPL-pool section and the terminal's REPL table read the export's designs."""

from __future__ import annotations

from typing import Any

from calib_async.cli.repl_table import repl_table
from calib_async.export.report_repl import render_section
from calib_async.export.report_sections import optional_sections

DESIGNS: list[dict[str, Any]] = [
    {
        "profile": "repl",
        "tier": "FAST",
        "reuse_effect": {
            "items": 4,
            "disagreements": 1,
            "mcnemar_p": 1.0,
            "latency_ratio_warm_over_fresh": 0.25,
            "elaboration_ratio_warm_over_fresh": 0.9,
            "disagreeing_items": [{"item": "x", "fresh": "VERIFIED", "warm": "PROOF_INVALID"}],
        },
        "aging": {
            "flip_rate": [{"fillers": 0, "items": 2, "flips": 0, "flip_rate": 0.0}],
            "crash_hazard": [
                {
                    "age_from": 0,
                    "age_to": 10,
                    "commands": 9,
                    "deaths": 1,
                    "hazard": 0.111,
                    "ci95": [0.02, 0.43],
                }
            ],
            "rss_curve": [{"age": 1, "generation": 0, "rss_mb": 10.0}],
            "rss_growth_mb_per_command": 0.5,
        },
        "restart_cost": {
            "import_ms": {"1": {"n": 2, "median_ms": 40.0, "p90_ms": 41.0, "max_ms": 41.0}},
            "cold_exceeds_timeout": {"FAST": {"1": 0.5}},
        },
        "leak_canaries": {
            "passed": False,
            "canaries": [{"canary": "declare", "outcome": "VERIFIED", "expected": "VERIFIED"}],
        },
    }
]


def test_the_report_section_shows_every_design() -> None:
    html = render_section({"lean_repl_designs": DESIGNS})
    assert html is not None
    for text in (
        "Reuse effect",
        "Aging",
        "Crash hazard",
        "Restart cost",
        "State-leak canaries",
        "FAIL: state leaks",
    ):
        assert text in html
    assert render_section({}) is None
    assert any("REPL pool" in s for s in optional_sections({"lean_repl_designs": DESIGNS}))


def test_the_terminal_table_has_one_row_per_profile() -> None:
    table = repl_table({"lean_repl_designs": DESIGNS})
    assert table is not None and table.row_count == 1
    assert repl_table({}) is None
