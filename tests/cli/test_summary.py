"""The terminal summary: the verdict first, and every warning kept at 80 columns."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from calib_async.cli.summary import print_summary
from helpers.exports import export_with_warnings

#: What the export of :func:`export_with_warnings` must show, whatever the width.
WARNINGS = (
    "FAST: not safe as a reward",
    "passes 100 % [84, 100] of sorry canaries",
    "axiom 5/20",
    "partial: undetermined labels; bounds 10–14 %",
    "low labels",
    "duration model misfit: goodness-of-fit bootstrap rejects (p = 0.01) (Kaplan–Meier used)",
    "[runaway 0.059, MISFIT]",
    "FAST: 5% target unreachable – target 0.05 is below the floor 0.0904",
    "use SLOW at 2.6 s [1.6, > 2] (extrapolated beyond the longest budget watched)",
    "Youden's J",
    "checker sim sim 4.0 [beta]: sim {file}",
    "SLOW 2 s (args -w all; precision=slow)",
    "Verdict (90% intervals)",
    "Statistical self-check",
)


def summary_text(width: int, terminal: bool = True) -> str:
    console = Console(
        file=io.StringIO(), width=width, force_terminal=terminal, color_system=None
    )
    print_summary(console, export_with_warnings(), tiers=["FAST", "SLOW"], log_lines=False)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [80, 120, 200])
def test_summary_shows_every_warning_at_any_width(width: int) -> None:
    text = summary_text(width)
    assert all(len(line) <= width for line in text.splitlines())
    flat = " ".join(text.split())  # rich wraps at spaces
    missing = [w for w in WARNINGS if " ".join(w.split()) not in flat]
    assert not missing, text
    assert "…" not in text  # nothing cut off


def test_summary_leads_with_the_verdict_and_the_self_check_comes_last() -> None:
    text = summary_text(100)
    assert text.startswith("Verdict")
    assert text.index("Statistical self-check") > text.index("Calibration summary")


def test_log_file_summary_is_a_wide_table_with_its_warnings() -> None:
    text = summary_text(80, terminal=False)
    assert any(line.startswith("│ FAST") for line in text.splitlines())
    assert "MISFIT]" in text and "(partial:" in text
    assert max(len(line) for line in text.splitlines()) > 80  # not squeezed into 80
