from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
from rich.console import Console

from calib_async.cli.labeller import run_labeler
from calib_async.errors import CalibError
from calib_async.labels.manual import load_manual_labels
from calib_async.records import Truth
from helpers.labeller import make_run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run_dir(tmp_path)


def scripted(*values: str) -> Callable[[str], str]:
    it: Iterator[str] = iter(values)

    def ask(prompt: str) -> str:
        assert "[v]erified" in prompt
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return ask


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=120)


def test_labeller_saves_each_answer_and_resumes(run_dir: Path) -> None:
    assert run_labeler(run_dir, console=quiet_console(), input_fn=scripted("v", "s", "I")) == 2
    labels = load_manual_labels(run_dir / "manual_labels.jsonl")
    assert [(m.item_id, m.tier, m.truth) for m in labels] == [
        ("u1", None, Truth.VERIFIED),
        ("u3", None, Truth.INVALID),
    ]
    # resumed: only the skipped item is asked again; end of input counts as quit
    console = quiet_console()
    assert run_labeler(run_dir, console=console, input_fn=scripted()) == 0
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "1 item(s) to label (2 already labelled)" in out
    assert "Item 1/1: u2 (Mod.u2)" in out
    assert run_labeler(run_dir, console=quiet_console(), input_fn=scripted("verified")) == 1
    console = quiet_console()
    assert run_labeler(run_dir, console=console, input_fn=scripted()) == 0
    assert "Nothing to label" in console.file.getvalue()  # type: ignore[attr-defined]


def test_labeller_shows_outcomes_first_error_and_tail(run_dir: Path) -> None:
    console = quiet_console()
    run_labeler(run_dir, console=console, input_fn=scripted("?", "q"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    first = out.split("Item 2/")[0]
    assert "VERIFIER_TIMEOUT" in first and "PROOF_INVALID" in first and "SLOW" in first
    assert "error: unsolved goals [u1]" in first  # no markup eaten
    assert "end of u1" in first and "tail line 29" in first and "tail line 5\n" not in first
    assert "Please answer v, i, s or q." in out
    assert not (run_dir / "manual_labels.jsonl").exists()


def test_nothing_to_label_says_why_without_naming_a_missing_file(run_dir: Path) -> None:
    labels = json.loads((run_dir / "labels.json").read_text())
    for entry in labels["items"].values():
        entry["truth"] = "VERIFIED"
    (run_dir / "labels.json").write_text(json.dumps(labels))
    assert not (run_dir / "manual_labels.jsonl").exists()
    console = quiet_console()
    assert run_labeler(run_dir, console=console, input_fn=scripted()) == 0
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out == "Nothing to label: the calibration left no item undetermined.\n"


def test_cli_label_with_nothing_to_do_suggests_no_rerun(run_dir: Path) -> None:
    import subprocess

    from helpers import run_env

    (run_dir / "labels.json").write_text(json.dumps({"items": {}}))
    out = subprocess.run(
        [sys.executable, "-m", "calib_async", "label", "--output-dir", str(run_dir)],
        capture_output=True, text=True, env=run_env(), timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0
    assert out.stdout == "Nothing to label: the calibration left no item undetermined.\n"


@pytest.mark.parametrize("missing", ["telemetry.jsonl", "labels.json"])
def test_labeller_without_a_calibration_says_to_run_it(run_dir: Path, missing: str) -> None:
    (run_dir / missing).unlink()
    with pytest.raises(CalibError, match=rf"^{run_dir / missing} not found; run the calibration"):
        run_labeler(run_dir, console=quiet_console(), input_fn=scripted())


SCRIPT = (
    "import sys; from pathlib import Path; from calib_async.cli.labeller import run_labeler; "
    "print('labelled', run_labeler(Path(sys.argv[1])))"
)


def spawn(run_dir: Path) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-c", SCRIPT, str(run_dir)],
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 140),
    )


def test_labeller_through_a_pty_saves_and_resumes(run_dir: Path) -> None:
    child = spawn(run_dir)
    child.expect_exact("Item 1/3: u1")
    child.expect_exact("[v]erified")
    child.sendline("v")
    child.expect_exact("Item 2/3: u2")
    child.expect_exact("[v]erified")
    child.sendline("maybe")
    child.expect_exact("Please answer")
    child.sendline("i")
    child.expect_exact("Item 3/3: u3")
    child.expect_exact("[v]erified")
    child.sendline("q")
    child.expect_exact("labelled 2")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    saved = {m.item_id: m.truth for m in load_manual_labels(run_dir / "manual_labels.jsonl")}
    assert saved == {"u1": Truth.VERIFIED, "u2": Truth.INVALID}

    child = spawn(run_dir)  # resume: starts at the one item left
    child.expect_exact("1 item(s) to label (2 already labelled)")
    child.expect_exact("Item 1/1: u3")
    child.expect_exact("[v]erified")
    child.sendeof()  # Ctrl-D quits cleanly
    child.expect_exact("labelled 0")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
