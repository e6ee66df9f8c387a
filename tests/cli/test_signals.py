"""Signals and the driver's death (issue 15), through the real CLI in a subprocess.

- Ctrl-C (SIGINT) and SIGTERM in stage 1 (a 100k-line list corpus) and in stage 4 (a long
  bootstrap): exit 130 / 143 promptly after the signal (within 10 s: a bound that holds at
  load 10, not a speed claim). Every phase that runs checkers: test_sigterm_phases.py.
- SIGHUP (a closed terminal): exit 129, the resume command printed, no checker left, and
  ``--resume`` then completes.
- ``kill -9`` of the driver mid-run, without the sandbox, with a checker that forks a
  ``setsid`` child: no process of the run is alive 3 s later (the watcher kills them); and when
  the watcher is killed too, they die once the next ``--resume`` has started.

Processes are found by a mark in their command line (``sleep <mark>``), unique per test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from helpers import run_env
from helpers.cli import CLI, STOP_WITHIN_S, marked
from helpers.cli import alive as _alive
from helpers.cli import interrupt as _interrupt
from helpers.cli import start as _start
from helpers.cli import wait_for_event as _wait_for_event


@pytest.fixture
def mark() -> Iterator[str]:
    """A unique `sleep` argument; whatever still carries it at the end is killed."""
    yield from marked()


def _checker_config(d: Path, script: str) -> Path:
    cfg = {
        "verifiers": {
            "chk": {
                "command": ["sh", "-c", script, "chk", "{file}"],
                "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
            }
        },
        "tiers": {"T": {"timeout_s": 60, "verifier": "chk", "grace_s": 0.2}},
    }
    path = d / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _corpus(d: Path, n: int) -> Path:
    (d / "c").mkdir()
    for i in range(n):
        (d / "c" / f"p{i}.lean").write_text(f"theorem t{i} : True := trivial\n")
    return d / "c"


def _run_args(d: Path, cfg: Path, n: int = 4) -> list[str]:
    return [
        "--tiers", "T", "--n", str(n), "--export", str(d / "cal.yaml"),
        "--output-dir", str(d / "out"), "--corpus", "custom",
        "--corpus-path", str(_corpus(d, n) if not (d / "c").exists() else d / "c"),
        "--config", str(cfg), "--consensus-verifiers", "chk", "--label-sample", "0",
        "--bootstrap", "0", "--no-report", "--no-progress", "--workers", "2",
        "--log-format", "json", "--log-level", "INFO",
    ]  # fmt: skip


SIGNALS = pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])


@SIGNALS
def test_ctrl_c_in_stage_1_on_a_100k_line_list_exits_130_promptly(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """And SIGTERM: 143."""
    sources = [tmp_path / f"src{k}.lean" for k in range(4)]  # a file has at most 65000 links
    for src in sources:
        src.write_text("theorem t : True := trivial\n")
    files = tmp_path / "files"
    files.mkdir()
    for i in range(100_000):
        os.link(sources[i % 4], files / f"p{i}.lean")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"files/p{i}.lean\n" for i in range(100_000)))
    # a checker that exists (the built-in Lean profile's `lean` is refused before stage 1)
    config = tmp_path / "checkers.yaml"
    config.write_text(
        "verifiers:\n  chk: {kind: command, command: [\"true\", \"{file}\"]}\n"
        "tiers:\n  FAST: {timeout_s: 1, verifier: chk}\nconsensus_verifiers: [chk]\n"
    )
    proc = _start(
        ["--config", str(config), "--tiers", "FAST", "--n", "5", "--export", "cal.yaml",
         "--corpus", "custom", "--corpus-path", str(listing), "--no-progress",
         "--log-format", "json"],
        tmp_path,
    )  # fmt: skip
    _wait_for_event(proc, "stage.started", stage=1)
    code, elapsed, _, err = _interrupt(proc, sig)
    print(f"stage 1: exit {code} {elapsed:.2f} s after {sig.name}")
    assert code == 128 + sig, err[-2000:]
    assert elapsed < STOP_WITHIN_S
    assert "Traceback" not in err


@SIGNALS
def test_ctrl_c_in_stage_4_exits_130_promptly(tmp_path: Path, sig: signal.Signals) -> None:
    """And SIGTERM: 143 (the fit runs in a worker thread: the exit does not wait for it)."""
    proc = _start(
        ["--tiers", "FAST", "--n", "30", "--export", "cal.yaml", "--corpus", "synthetic",
         "--output-dir", "out", "--label-sample", "10", "--bootstrap", "100000",
         "--no-report", "--no-progress", "--log-format", "json", "--workers", "4"],
        tmp_path,
    )  # fmt: skip
    _wait_for_event(proc, "stage.started", stage=4)
    code, elapsed, _, err = _interrupt(proc, sig)
    print(f"stage 4: exit {code} {elapsed:.2f} s after {sig.name}")
    assert code == 128 + sig, err[-2000:]
    assert elapsed < STOP_WITHIN_S
    assert "Traceback" not in err


def test_sighup_exits_129_kills_checkers_and_resume_completes(tmp_path: Path, mark: str) -> None:
    flag = tmp_path / "checkers-finish-now"
    script = f'case "$1" in *p0*|*p1*) exit 0;; esac; [ -e {flag} ] && exit 0; exec sleep {mark}'
    cfg = _checker_config(tmp_path, script)
    args = _run_args(tmp_path, cfg)
    proc = _start(args, tmp_path)
    _wait_for_event(proc, "stage.started", stage=2)
    deadline = time.monotonic() + 20
    while not _alive(mark):  # the slow checkers have started
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    code, _, _, err = _interrupt(proc, signal.SIGHUP)
    assert code == 129, err[-2000:]
    assert "interrupted by SIGHUP" in err and "resume with: " in err
    assert not _alive(mark), "a checker outlived the driver"
    flag.touch()
    done = subprocess.run(
        [*CLI, *args, "--resume"], cwd=tmp_path, env=run_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "cal.yaml").is_file()


def _kill_driver_mid_run(tmp_path: Path, mark: str) -> tuple[list[str], subprocess.Popen[str]]:
    flag = tmp_path / "checkers-finish-now"
    script = (
        f"[ -e {flag} ] && exit 0; "
        f"setsid sh -c 'exec sleep {mark}' </dev/null >/dev/null 2>&1 & exec sleep {mark}"
    )
    args = _run_args(tmp_path, _checker_config(tmp_path, script))
    proc = _start(args, tmp_path)
    deadline = time.monotonic() + 30
    while len(_alive(mark)) < 4:  # two leaders and their two setsid children
        assert time.monotonic() < deadline and proc.poll() is None, "checkers never started"
        time.sleep(0.05)
    return args, proc


def test_kill_9_of_the_driver_leaves_no_process_3_s_later(tmp_path: Path, mark: str) -> None:
    _, proc = _kill_driver_mid_run(tmp_path, mark)
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 3.0
    while _alive(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(mark), "checkers or their setsid children outlived the driver by 3 s"


def test_leftovers_die_once_the_next_resume_has_started(tmp_path: Path, mark: str) -> None:
    """The watcher is killed with the driver (a kill -9 of both): the leaders still die (the
    kernel's PDEATHSIG), and the setsid children die when the next --resume starts."""
    args, proc = _kill_driver_mid_run(tmp_path, mark)
    watchers = [
        p for p in psutil.Process(proc.pid).children() if "calib-async-watcher" in p.cmdline()
    ]
    assert len(watchers) == 1
    watchers[0].kill()  # a zombie until the driver dies: it was the driver's child
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 3.0
    while len(_alive(mark)) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_alive(mark)) == 2, "the leaders did not die with the driver (PDEATHSIG)"
    (tmp_path / "checkers-finish-now").touch()
    resume = _start([*args, "--resume"], tmp_path)
    _wait_for_event(resume, "stage.started", stage=1)
    deadline = time.monotonic() + 1.0  # SIGKILLed before stage 1; a moment to be reaped
    while _alive(mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(mark), "the next run did not kill the leftovers before stage 1"
    _, err = resume.communicate(timeout=120)
    assert resume.returncode == 0, err[-2000:]
