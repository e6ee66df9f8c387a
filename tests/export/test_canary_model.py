"""Canary rates in the export: NoiseModel access, validation, report heat map, terminal table."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rich.console import Console

from calib_async.cli.canary_table import canary_cell, canary_table
from calib_async.errors import CalibError
from calib_async.export.noise_model import NoiseModel
from calib_async.export.report_canaries import canary_section, heat_colour

ENTRY = {"run": 8, "passed": 2, "spurious_pass_rate": 0.25,
         "spurious_pass_rate_ci": [0.07, 0.59], "not_applicable": 1}  # fmt: skip
NA = {"run": 0, "passed": 0, "spurious_pass_rate": None, "spurious_pass_rate_ci": None,
      "not_applicable": 8}  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "calibration_metadata": {"schema_version": "calib-async/1",
                                 "tiers": {"FAST": {"timeout_s": 1}}},
        "noise_models": {"fast": {"timeout_rate": 0.1, "spurious_pass_rate": 0.05,
                                  "canaries": {"axiom": ENTRY, "statement": NA}}},
    }  # fmt: skip


def test_noise_model_exposes_rates_per_exploit() -> None:
    model = NoiseModel.from_dict(document())
    assert model.spurious_pass_rate("FAST") == 0.05  # the labelled rate
    assert model.spurious_pass_rate("fast", exploit="axiom") == 0.25
    assert model.spurious_pass_rate("FAST", exploit="statement") is None
    rate = model.tier("FAST").canary("axiom")
    assert (rate.run, rate.passed, rate.not_applicable) == (8, 2, 1)
    assert rate.spurious_pass_rate_ci == (0.07, 0.59)
    with pytest.raises(CalibError, match=r"^tier FAST has no canary class 'sorry'; it has axiom"):
        model.spurious_pass_rate("FAST", exploit="sorry")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("run", -1, r"canaries\.axiom\.run: expected a count"),
        ("passed", 9, r"canaries\.axiom: passed 9 exceeds run 8"),
        ("spurious_pass_rate", 1.5, r"canaries\.axiom\.spurious_pass_rate: expected a probability"),
        ("spurious_pass_rate_ci", [0.6, 0.1], r"canaries\.axiom\.spurious_pass_rate_ci: low 0\.6"),
    ],
)
def test_bad_canary_entries_are_one_line_errors(key: str, value: Any, message: str) -> None:
    doc = copy.deepcopy(document())
    doc["noise_models"]["fast"]["canaries"]["axiom"][key] = value
    with pytest.raises(CalibError, match=rf"^noise_models\.fast\.{message}"):
        NoiseModel.from_dict(doc)


def test_report_heat_map_and_terminal_table() -> None:
    models = {"FAST": document()["noise_models"]["fast"], "SLOW": {"canaries": {"axiom": NA}}}
    html = canary_section(models)
    assert '<section id="canaries">' in html and 'data-rate="0.2500"' in html
    heat = html.split("</table>")[0]
    assert heat.count("<tr>") == 3 and "n/a" in heat and "(2/8)" in heat
    assert canary_section({"FAST": {"timeout_rate": 0.1}}) == ""
    assert heat_colour(0.0) == "rgb(120,200,120)"  # caught: green
    for rate in (0.05, 0.25, 0.5, 1.0):  # any pass: warm (red above green), darker with more
        r, g, _ = (int(x) for x in heat_colour(rate)[4:-1].split(","))
        assert r > g
    assert heat_colour(1.0) == "rgb(183,28,28)"
    assert "caught (0 passed)" in html  # the legend
    table = canary_table(list(models.items()))
    assert table is not None
    console = Console(width=120, record=True)
    console.print(table)
    text = console.export_text()
    assert "2/8 0.25" in text and "n/a" in text
    assert canary_cell(None) == "–" and canary_table([("FAST", {})]) is None
