"""Builders for the bad-input catalogue (tests/cli/test_bad_inputs_*.py): a small corpus and
config, a calibration's arguments, the ``Case`` row, the hostile checker profiles run together in
one calibration, and the runner that starts the selected subprocesses (helpers/hostile_cli.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from helpers import run_env
from helpers.hostile_cli import Done, Job, run_jobs

DAEMON_MARK = "7771.5"  # `sleep 7771.5`: the detached daemon a checker leaves behind


# ---------------------------------------------------------------------------------------------
# Building blocks


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def corpus(d: Path, n: int = 3) -> Path:
    for i in range(n):
        write(d / "corpus" / f"p{i}.lean", f"theorem t{i} : True := trivial\n")
    return d / "corpus"


def config(d: Path, data: Any) -> Path:
    return write(d / "cfg.yaml", yaml.safe_dump(data, sort_keys=False))


OK_PROFILE = {
    "command": ["sh", "-c", 'grep -q t1 "$1" && exit 1; exit 0', "checker", "{file}"],
    "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
}


def good_config(d: Path) -> Path:
    return config(
        d, {"verifiers": {"chk": OK_PROFILE}, "tiers": {"T": {"timeout_s": 20, "verifier": "chk"}}}
    )


def run_args(d: Path, *extra: str, cfg: Path | None = None, cpath: Path | None = None) -> list[str]:
    """A complete, fast calibration of the good checker over the small corpus."""
    return [
        "--tiers", "T", "--n", "3", "--export", str(d / "cal.yaml"), "--output-dir", str(d / "out"),
        "--corpus", "custom", "--corpus-path", str(cpath or corpus(d)),
        "--config", str(cfg or good_config(d)), "--consensus-verifiers", "chk",
        "--label-sample", "0", "--bootstrap", "0", "--no-report", "--no-progress",
        "--workers", "2", "--log-level", "ERROR", *extra,
    ]  # fmt: skip


def records(log: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("kind") != "header"]


def cfg_case(data: Any) -> Callable[[Path], list[str]]:
    """Args for a run whose --config holds ``data`` (a YAML mapping, or raw text/bytes)."""

    def build(d: Path) -> list[str]:
        path = write(d / "cfg.yaml", data) if isinstance(data, str | bytes) else config(d, data)
        return run_args(d, cfg=path)

    return build


def tier_cfg(**tier: Any) -> dict[str, Any]:
    return {"verifiers": {"chk": OK_PROFILE}, "tiers": {"T": {"verifier": "chk", **tier}}}


def verifier_cfg(**profile: Any) -> dict[str, Any]:
    return {"verifiers": {"chk": profile}, "tiers": {"T": {"timeout_s": 5, "verifier": "chk"}}}


# ---------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class Case:
    """One bad input. ``exit_code`` 2 (bad input) cases must print exactly one stderr line
    containing ``message``; exit 0 cases are checked by ``check(case_dir, records)``."""

    id: str
    args: Callable[[Path], list[str]]
    exit_code: int = 2
    message: str = ""
    needs_base: bool = False  # start from a copy of the finished base run (checkpoint cases)
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path, list[dict[str, Any]]], None] | None = None
    env: Callable[[Path], dict[str, str]] | None = None
    fsize_bytes: int | None = None  # RLIMIT_FSIZE of the driver (a full disk)


def log_path(d: Path) -> Path:
    return d / "out" / "telemetry.jsonl"


def hold_lock(d: Path) -> None:
    pass  # the lock is taken by the fixture (it must outlive this function)


# ---------------------------------------------------------------------------------------------
# Hostile checkers: one calibration, one tier per checker


@dataclass(frozen=True)
class Checker:
    name: str
    script: str  # sh script; $1 is the proof file
    outcome: str
    tier: dict[str, Any] = field(default_factory=dict)
    command: list[str] | None = None  # instead of sh -c script
    check: Callable[[dict[str, Any]], None] | None = None


def _big_output(r: dict[str, Any]) -> None:
    assert r["stdout_bytes"] == 10**9
    assert len(r["output_tail"]) <= 4000


def _mentions(text: str) -> Callable[[dict[str, Any]], None]:
    def check(r: dict[str, Any]) -> None:
        assert text in (r["first_error"] or "") + (r["message"] or ""), r

    return check


def _file_size_signal(r: dict[str, Any]) -> None:
    assert r["exit_code"] == 128 + 25  # head was killed by SIGXFSZ at the 1 MiB limit


CHECKERS: list[Checker] = [
    Checker("ok", "exit 0", "VERIFIED"),
    # a checker that is missing, not on PATH or not executable stops the run before stage 2:
    # bad-input cases checker-missing, checker-not-on-path, checker-not-executable
    Checker("crashes", "kill -SEGV $$", "VERIFIER_ERROR", check=lambda r: r["signal"] == 11),
    Checker("aborts", "kill -ABRT $$", "VERIFIER_ERROR"),
    Checker("exits-3", "echo oops >&2; exit 3", "PROOF_INVALID"),
    Checker("prints-1gb", "head -c 1000000000 /dev/zero; exit 0", "VERIFIED", check=_big_output),
    Checker("invalid-utf8", r"printf '\377\376 error: \300\000 bad\n'; exit 1", "PROOF_INVALID"),
    Checker("never-exits", "sleep 600", "VERIFIER_TIMEOUT", tier={"timeout_s": 0.5}),
    Checker(
        "ignores-sigterm",
        "trap '' TERM; while :; do sleep 1; done",
        "VERIFIER_TIMEOUT",
        tier={"timeout_s": 0.5, "grace_s": 0.2},
    ),
    Checker("closes-stdout-early", "exec >&- 2>&-; sleep 0.2; exit 0", "VERIFIED"),
    Checker(
        "forks-a-daemon",
        f"setsid sh -c 'exec sleep {DAEMON_MARK}' </dev/null >/dev/null 2>&1 & exit 0",
        "VERIFIED",
    ),
    Checker("child-holds-stdout", "sleep 600 & exit 0", "VERIFIED"),
    Checker("reads-stdin", "cat >/dev/null; exit 0", "VERIFIED"),
    Checker(
        "core-dumps-off",
        '[ "$(ulimit -c)" = 0 ] && exit 0; exit 1',
        "VERIFIED",
        tier={"memory_limit_mb": 512},
    ),
    Checker(
        "writes-big-file",
        'head -c 5000000 /dev/zero > "$1.big"; exit $?',
        "VERIFIER_ERROR",  # status 153 = 128+SIGXFSZ, read as that signal (as under bwrap)
        tier={"max_file_mb": 1},
        check=_file_size_signal,
    ),
    Checker(
        "memory-bomb",
        "",
        "MEMORY_LIMIT_EXCEEDED",
        tier={"memory_limit_mb": 200},
        command=["python3", "-c", "b = bytearray(2 * 2**30)"],
    ),
    Checker(
        "fork-bomb",
        'b() { [ "$1" -gt 0 ] || exec sleep 60; b $(($1-1)) & b $(($1-1)) & wait; }; b 9',
        "VERIFIER_ERROR",
        tier={"max_processes": 40},
        check=_mentions("limit of 40"),
    ),
]


def checker_config(d: Path) -> Path:
    noexec = write(d / "noexec.sh", "#!/bin/sh\nexit 0\n")
    noexec.chmod(0o644)
    verifiers, tiers = {}, {}
    for c in CHECKERS:
        argv = c.command or ["sh", "-c", c.script, c.name, "{file}"]
        argv = [str(noexec) if a == "{noexec}" else a for a in argv]
        verifiers[c.name] = {"command": argv, "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}
        tiers[c.name] = {"timeout_s": 60, "verifier": c.name, "grace_s": 0.2, **c.tier}
    return config(d, {"verifiers": verifiers, "tiers": tiers})


def checkers_args(d: Path) -> list[str]:
    return [
        "--tiers", *[c.name for c in CHECKERS], "--n", "1", "--export", str(d / "cal.yaml"),
        "--output-dir", str(d / "out"), "--corpus", "custom", "--corpus-path", str(corpus(d, 1)),
        "--config", str(checker_config(d)), "--consensus-verifiers", "ok", "--label-sample", "0",
        "--bootstrap", "0", "--no-report", "--no-progress", "--workers", "4",
        "--log-level", "ERROR",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Running the selected subprocesses (helpers/hostile_cli.py)


def _selected(request: pytest.FixtureRequest, module: str) -> set[str]:
    ids = set()
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is not sys.modules[module]:
            continue
        if "case" in params:
            ids.add(params["case"].id)
        if "checker" in params:
            ids.add("checkers")
    return ids


def run_selected(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module: str,
    cases: list[Case],
) -> dict[str, Done]:
    """Run the cases (and the hostile checkers) the tests of ``module`` selected; results by id."""
    selected = _selected(request, module)
    root = tmp_path_factory.mktemp("bad-inputs")
    jobs: list[Job] = []
    base = root / "base"
    base.mkdir()
    lock_fds: list[int] = []
    if any(c.needs_base for c in cases if c.id in selected):
        jobs.append(Job("base", base, run_args(base), run_env()))
    for case in cases:
        if case.id not in selected:
            continue
        d = root / case.id
        d.mkdir()

        def prepare(case: Case = case, d: Path = d) -> None:
            if case.needs_base:
                shutil.copytree(base / "out", d / "out")
            if case.setup is not None:
                case.setup(d)
            if case.setup is hold_lock:
                fd = os.open(log_path(d), os.O_RDWR)
                fcntl.flock(fd, fcntl.LOCK_EX)
                lock_fds.append(fd)

        args = case.args(d)
        env = case.env(d) if case.env else run_env()
        after = "base" if case.needs_base else None
        job = Job(case.id, d, args, env, fsize=case.fsize_bytes, after=after, prepare=prepare)
        jobs.append(job)
    if "checkers" in selected:
        d = root / "checkers"
        d.mkdir()
        jobs.append(Job("checkers", d, checkers_args(d), run_env()))
    try:
        done = run_jobs(jobs)
        if "checkers" in done:
            done["checkers"].daemons_left = len(_daemons())
    finally:
        for fd in lock_fds:
            os.close(fd)
        for p in _daemons():
            p.kill()
    for job_id, d in sorted(done.items(), key=lambda kv: -kv[1].elapsed_s)[:8]:
        print(f"{job_id}: {d.elapsed_s:.1f} s")
    if "base" in done:
        assert done["base"].returncode == 0, done["base"].stderr
    return done


def _daemons() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if DAEMON_MARK in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


def no_traceback(done: Done) -> None:
    assert done.returncode is not None, "the run hung and was killed"
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
