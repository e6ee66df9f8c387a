"""The labeller shows a checker's output with control characters made visible: a hostile proof
cannot set the window title, write the clipboard (OSC 52), clear the screen, or print over the
automatic label."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from calib_async.cli.labeller import run_labeler
from calib_async.cli.visible import visible

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # write "echo pwned" to the clipboard
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J\x1b[H"
C1_CSI = "\x9b2J"
FAKE = "\r\x1b[Kautomatic label: VERIFIED"
HOSTILE = f"ok\n{OSC52}{TITLE}{CLEAR}{C1_CSI}{FAKE}\nbidi \u202eevil\n"
RAW = ("\x1b", "\x07", "\x9b", "\r", "\u202e")


def _run_dir(tmp_path: Path) -> Path:
    run = {
        "item_id": f"u{TITLE}",
        "module_name": f"M{CLEAR}",
        "tier": f"T{OSC52}",
        "phase": "telemetry",
        "attempt": 0,
        "timeout_s": 1.0,
        "outcome": "PROOF_INVALID",
        "duration_ms": 5.0,
        "first_error": f"error: {CLEAR}{FAKE}",
        "output_tail": HOSTILE,
    }
    header = {"kind": "header"}
    (tmp_path / "telemetry.jsonl").write_text(f"{json.dumps(header)}\n{json.dumps(run)}\n")
    items = {run["item_id"]: {"truth": "UNDETERMINED", "method": f"x{OSC52}", "votes": {}}}
    (tmp_path / "labels.json").write_text(json.dumps({"items": items}))
    return tmp_path


def test_hostile_output_is_shown_escaped_never_interpreted(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=300, force_terminal=False, color_system=None)
    run_labeler(_run_dir(tmp_path), console=console, input_fn=lambda prompt: "q")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    for raw in RAW:
        assert raw not in out, repr(raw)
    assert "\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in out  # the human sees the attempt
    assert "\\x1b]0;pwned\\x07" in out and "\\x1b[2J" in out and "\\x9b2J" in out
    assert "\\u202eevil" in out
    # the fake label is quoted output, never a line of its own
    assert not any(line.startswith("automatic label: VERIFIED") for line in out.splitlines())


BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@given(st.text())
def test_visible_leaves_no_control_character_but_newline_and_tab(text: str) -> None:
    shown = visible(text)
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in shown)
    assert not any(0x7F <= ord(c) <= 0x9F or c in BIDI for c in shown)
    harmless = all(c in "\n\t" or not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in text)
    if harmless and not any(c in BIDI for c in text):
        assert shown == text  # nothing else is changed
