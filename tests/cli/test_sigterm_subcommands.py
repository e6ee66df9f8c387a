"""SIGTERM obeyed by the subcommands without an event loop: ``refit`` in a long bootstrap,
``compare`` while it parses a large YAML file, ``label`` at its prompt. Each exits 143 within
``STOP_WITHIN_S`` (a bound that holds at load 10) with one "interrupted by SIGTERM" line, no
traceback, nothing lost (the export is not half-written, no temp file stays, answered labels are
kept) and no process left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import psutil
import pytest

from calib_async.labels.manual import load_manual_labels
from helpers import run_env
from helpers.cli import CLI, STOP_WITHIN_S, interrupt, run, start
from helpers.labeller import make_run_dir

BUSY_CPU_S = 3.0  # the CLI has imported its modules and is at work once it used this much CPU


def _busy(proc: subprocess.Popen[str], within: float = 120) -> None:
    """Poll the CLI's CPU time until it is at work (a computation cannot be awaited)."""
    p, deadline = psutil.Process(proc.pid), time.monotonic() + within
    while sum(p.cpu_times()[:2]) < BUSY_CPU_S:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the CLI never got to work"
        time.sleep(0.05)


def _stopped_cleanly(code: int, elapsed: float, out: str, err: str) -> None:
    assert "Traceback" not in err, err[-3000:]
    assert code == 143, err[-3000:]
    assert elapsed < STOP_WITHIN_S, elapsed
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines == ["calibrate_noise: interrupted by SIGTERM"], err[-3000:]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("run")
    done = run(
        ["--tiers", "FAST", "--n", "30", "--export", str(d / "cal.yaml"), "--corpus",
         "synthetic", "--output-dir", str(d / "out"), "--label-sample", "10", "--bootstrap",
         "0", "--no-report", "--no-progress", "--workers", "4"],
        d,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return d


def test_sigterm_during_a_refit_bootstrap_exits_143_and_writes_nothing(
    finished_run: Path, tmp_path: Path
) -> None:
    export = tmp_path / "refit.yaml"
    before = sorted(p.name for p in (finished_run / "out").iterdir())
    proc = start(
        ["refit", "--output-dir", str(finished_run / "out"), "--export", str(export),
         "--bootstrap", "100000", "--no-report"],
        tmp_path,
    )  # fmt: skip
    _busy(proc)
    _stopped_cleanly(*interrupt(proc, signal.SIGTERM))
    assert not export.exists(), "a half-written export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a temp file stayed"
    assert sorted(p.name for p in (finished_run / "out").iterdir()) == before


def test_sigterm_while_compare_parses_a_large_file_exits_143(
    finished_run: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.yaml"
    # a valid calibration padded with a long list under an extra key: slow to parse
    padding = "".join(f"- {{k: {i}, v: [{i}, {i + 1}, '{i}']}}\n" for i in range(300_000))
    big.write_text((finished_run / "cal.yaml").read_text() + "padding:\n" + padding)
    proc = start(["compare", str(finished_run / "cal.yaml"), str(big)], tmp_path)
    _busy(proc)
    _stopped_cleanly(*interrupt(proc, signal.SIGTERM))


def test_sigterm_at_the_labellers_prompt_exits_143_and_keeps_the_answers(
    tmp_path: Path,
) -> None:
    run_dir = make_run_dir(tmp_path)
    child = pexpect.spawn(
        CLI[0], [*CLI[1:], "label", "--output-dir", str(run_dir)], encoding="utf-8",
        timeout=60, dimensions=(40, 140), env=run_env(),
    )  # fmt: skip
    try:
        child.expect_exact("Item 1/3: u1")
        child.expect_exact("[v]erified")
        child.sendline("v")
        child.expect_exact("Item 2/3: u2")
        child.expect_exact("[v]erified")
        t0 = time.monotonic()
        child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF, timeout=STOP_WITHIN_S * 2)
        elapsed = time.monotonic() - t0
        text = child.before or ""
    finally:
        child.close(force=True)
    assert "Traceback" not in text, text
    assert child.exitstatus == 143, (child.exitstatus, child.signalstatus, text)
    assert elapsed < STOP_WITHIN_S
    assert "calibrate_noise: interrupted by SIGTERM" in text
    saved = {m.item_id: m.truth.value for m in load_manual_labels(run_dir / "manual_labels.jsonl")}
    assert saved == {"u1": "VERIFIED"}  # the answer given before the signal is kept


def test_the_subcommands_restore_the_signal_handlers(tmp_path: Path) -> None:
    """In-process use (tests, embedding): SIGTERM's handler is the caller's again after."""
    code = (
        "import signal, sys; from calib_async.cli.main import main; "
        "before = signal.getsignal(signal.SIGTERM); "
        f"main(['compare', '{tmp_path}/a.yaml', '{tmp_path}/b.yaml']); "
        "print(signal.getsignal(signal.SIGTERM) is before)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=run_env()
    )
    assert done.stdout.strip() == "True", done.stderr
