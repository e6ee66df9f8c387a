"""The bad-input catalogue: every case ends in one error line with a documented exit code, or in
a recorded outcome. None may print a traceback, hang, or lose a record.

Each row of ``CASES`` runs ``python -m calib_async`` as a subprocess in its own directory; the
rows of ``CHECKERS`` are hostile checker profiles run together in one calibration (one tier
each). All selected subprocesses are started by one module fixture, a few at a time, and the
parametrized tests then check their results.
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


def _log(d: Path) -> Path:
    return d / "out" / "telemetry.jsonl"


def _corrupt_middle(d: Path) -> None:
    lines = _log(d).read_bytes().splitlines(keepends=True)
    lines[2] = b'{"this is": not json\n'
    _log(d).write_bytes(b"".join(lines))


def _tear_last(d: Path) -> None:
    data = _log(d).read_bytes()
    _log(d).write_bytes(data[:-40])  # the last record loses its end (and its newline)


def _hold_lock(d: Path) -> None:
    pass  # the lock is taken by the fixture (it must outlive this function)


def _no_duplicates_and_complete(d: Path, recs: list[dict[str, Any]]) -> None:
    keys = [r["task_key"] for r in recs]
    assert len(keys) == len(set(keys)), "a task was recorded twice"
    assert len([r for r in recs if r["phase"] == "telemetry"]) == 3


def _fresh_moved_aside(d: Path, recs: list[dict[str, Any]]) -> None:
    assert list((d / "out").glob("telemetry.jsonl.*")), "the old log was not kept"
    _no_duplicates_and_complete(d, recs)


def _traversal_ids(d: Path, recs: list[dict[str, Any]]) -> None:
    assert not (d / "evil.lean").exists() and not (d.parent / "evil.lean").exists()
    written = list((d / "out" / "attempts").glob("*.lean"))
    assert len(written) == 3
    assert all(p.resolve().parent == (d / "out" / "attempts").resolve() for p in written)
    assert {r["outcome"] for r in recs} <= {"VERIFIED", "PROOF_INVALID"}
    assert all("/" not in r["item_id"] and not r["item_id"].startswith(".") for r in recs)


TRAVERSAL = "\n".join(
    json.dumps({"id": i, "code": "theorem x : True := trivial"})
    for i in ("../../evil", "/etc/evil", "..")
)


def _no_bwrap_env(d: Path) -> dict[str, str]:
    return run_env(PATH=str(Path(sys.executable).parent))


def _broken_bwrap_env(d: Path) -> dict[str, str]:
    fake = write(
        d / "bin" / "bwrap",
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
    )
    fake.chmod(0o755)
    return run_env(PATH=f"{fake.parent}:{os.environ.get('PATH', '')}")


def _loop_dir(d: Path) -> None:
    corpus(d)
    (d / "corpus" / "loop").symlink_to(d / "corpus")


def _checker_case(
    argv: Callable[[Path], list[str]], default: str = "PROOF_INVALID"
) -> Callable[[Path], list[str]]:
    """A run whose only profile runs ``argv(case_dir)``."""

    def build(d: Path) -> list[str]:
        rules = [{"exit_code": 0, "outcome": "VERIFIED"}]
        profile = verifier_cfg(command=argv(d), rules=rules, default=default)
        return run_args(d, cfg=config(d, profile))

    return build


def _lean_args(d: Path) -> list[str]:
    """The built-in Lean profile over a custom corpus (run with a PATH without lean)."""
    return [
        "--tiers", "FAST", "--n", "2", "--export", str(d / "cal.yaml"),
        "--output-dir", str(d / "out"), "--corpus", "custom", "--corpus-path", str(corpus(d)),
        "--label-sample", "0", "--bootstrap", "0", "--no-report", "--no-progress",
    ]  # fmt: skip


CASES: list[Case] = [
    # A checker that cannot start: one line before stage 2, never a calibration -------------
    Case(
        "checker-fails-everything",
        _checker_case(
            lambda d: ["sh", "-c", "echo 'boom: no licence' >&2; exit 7", "chk", "{file}"],
            default="VERIFIER_ERROR",
        ),
        exit_code=3,
        message="runs VERIFIER_ERROR: boom: no licence); fix the checker's command",
    ),
    Case(
        "checker-lean-missing",
        _lean_args,
        message="checker not found: profile 'lean' runs 'lean'",
        env=lambda d: run_env(PATH=str(Path(sys.executable).parent)),
    ),
    # CLI flags ------------------------------------------------------------------------------
    Case("flag-missing-tiers", lambda d: ["--n", "3", "--export", "x.yaml"], message="--tiers"),
    Case("flag-n-not-int", lambda d: run_args(d, "--n", "three"), message="--n"),
    Case("flag-n-zero", lambda d: run_args(d, "--n", "0"), message="--n must be >= 1"),
    Case("flag-workers-zero", lambda d: run_args(d, "--workers", "0"), message="--workers"),
    Case("flag-split-2", lambda d: run_args(d, "--validation-split", "2"), message="split"),
    Case("flag-multiplier", lambda d: run_args(d, "--timeout-multiplier", "0.5"), message=">= 1"),
    Case("flag-label-neg", lambda d: run_args(d, "--label-sample", "-1"), message="label-sample"),
    Case("flag-corpus-kind", lambda d: run_args(d, "--corpus", "nope"), message="--corpus"),
    Case("flag-unknown", lambda d: run_args(d, "--frobnicate"), message="--frobnicate"),
    Case("flag-resume-fresh", lambda d: run_args(d, "--resume", "--fresh"), message="--fresh"),
    Case("flag-unknown-tier", lambda d: run_args(d, "--tiers", "T", "TURBO"), message="TURBO"),
    Case(
        "flag-unknown-consensus",
        lambda d: run_args(d, "--consensus-verifiers", "ghost"),
        message="ghost",
    ),
    Case("flag-bad-filter", lambda d: run_args(d, "--corpus-filter", "(["), message="regex"),
    Case("flag-filter-no-match", lambda d: run_args(d, "--corpus-filter", "zzz"), message="zzz"),
    Case("flag-config-missing", lambda d: run_args(d, cfg=d / "nope.yaml"), message="nope.yaml"),
    Case(
        "flag-output-dir-is-file",
        lambda d: run_args(d, "--output-dir", str(write(d / "f", "x"))),
        message="--output-dir",
    ),
    Case(
        "flag-sandbox-bwrap-missing",
        lambda d: run_args(d, "--sandbox", "bwrap"),
        message="apt-get install bubblewrap",
        env=_no_bwrap_env,
    ),
    Case(
        "flag-sandbox-bwrap-unusable",
        lambda d: run_args(d, "--sandbox", "bwrap"),
        message="cannot create a sandbox",
        env=_broken_bwrap_env,
    ),
    # Config YAML ----------------------------------------------------------------------------
    Case("yaml-syntax", cfg_case("verifiers: {chk: [unclosed\n"), message="not valid YAML"),
    Case("yaml-not-utf8", cfg_case(b"verifiers: {\xff\xfe}\n"), message="cfg.yaml"),
    Case("yaml-not-mapping", cfg_case("- just\n- a list\n"), message="must be a mapping"),
    Case("yaml-unknown-top", cfg_case({"verifier": {}}), message="unknown top-level"),
    Case(
        "yaml-unknown-profile-key",
        cfg_case(verifier_cfg(**OK_PROFILE, commnad=["x"])),
        message="commnad",
    ),
    Case("yaml-unknown-tier-key", cfg_case(tier_cfg(timeout_s=1, timout=3)), message="timout"),
    Case("yaml-timeout-string", cfg_case(tier_cfg(timeout_s="fast")), message="timeout_s"),
    Case("yaml-timeout-negative", cfg_case(tier_cfg(timeout_s=-1)), message="timeout_s"),
    Case("yaml-memory-float", cfg_case(tier_cfg(timeout_s=1, memory_limit_mb=1.5)), message="mb"),
    Case("yaml-missing-command", cfg_case(verifier_cfg(rules=[])), message="'command'"),
    Case("yaml-command-string", cfg_case(verifier_cfg(command="lean {file}")), message="argv"),
    Case(
        "yaml-invalid-regex",
        cfg_case(verifier_cfg(command=["true"], rules=[{"output": "(", "outcome": "VERIFIED"}])),
        message="cannot use regex",
    ),
    Case(
        "yaml-unknown-outcome",
        cfg_case(verifier_cfg(command=["true"], rules=[{"outcome": "PASSED"}])),
        message="PASSED",
    ),
    Case(
        "yaml-exit-code-type",
        cfg_case(verifier_cfg(command=["true"], rules=[{"exit_code": "0", "outcome": "VERIFIED"}])),
        message="exit_code",
    ),
    Case(
        "yaml-undefined-verifier",
        cfg_case({"tiers": {"T": {"timeout_s": 1, "verifier": "ghost"}}}),
        message="ghost",
    ),
    # Corpus files ---------------------------------------------------------------------------
    Case(
        "corpus-missing",
        lambda d: run_args(d, cpath=d / "no-such-corpus"),
        message="does not exist",
    ),
    Case(
        "corpus-empty-dir",
        lambda d: run_args(d, cpath=(d / "empty").resolve()),
        message="empty",
        setup=lambda d: (d / "empty").mkdir(),
    ),
    Case("corpus-empty-list", lambda d: run_args(d, cpath=write(d / "l.txt", "")), message="empty"),
    Case(
        "corpus-list-not-utf8",
        lambda d: run_args(d, cpath=write(d / "l.txt", b"p0.lean\n\xff\xfe.lean\n")),
        message="not UTF-8",
    ),
    Case(
        "corpus-proof-not-utf8",
        lambda d: run_args(d, cpath=write(d / "c" / "bad.lean", b"theorem \xff\n").parent),
        message="not UTF-8",
    ),
    Case(
        "corpus-list-missing-entry",
        lambda d: run_args(d, cpath=write(d / "l.txt", "gone/p9.lean\n")),
        message="l.txt:1",
    ),
    Case(
        "corpus-jsonl-malformed",
        lambda d: run_args(d, cpath=write(d / "a.jsonl", '{"id": "a", "code": "x"}\n{"id": \n')),
        message="a.jsonl:2",
    ),
    Case(
        "corpus-jsonl-duplicate-ids",
        lambda d: run_args(
            d, cpath=write(d / "a.jsonl", '{"id": "a", "code": "x"}\n{"id": "a", "code": "y"}\n')
        ),
        message="duplicate id",
    ),
    Case(
        "corpus-jsonl-traversal-ids",
        lambda d: run_args(d, cpath=write(d / "a.jsonl", TRAVERSAL)),
        exit_code=0,
        check=_traversal_ids,
    ),
    Case(
        "corpus-symlink-loop",
        lambda d: run_args(d, cpath=d / "corpus"),
        exit_code=0,
        setup=_loop_dir,
        check=lambda d, recs: _no_duplicates_and_complete(d, recs),
    ),
    # Checkpoint -----------------------------------------------------------------------------
    Case("ckpt-exists-no-flag", lambda d: run_args(d), message="--resume", needs_base=True),
    Case(
        "ckpt-other-fingerprint",
        lambda d: run_args(d, "--resume", "--seed", "99"),
        message="seed",
        needs_base=True,
    ),
    Case(
        "ckpt-corrupt-middle",
        lambda d: run_args(d, "--resume"),
        message="line 3",
        needs_base=True,
        setup=_corrupt_middle,
    ),
    Case(
        "ckpt-garbage",
        lambda d: run_args(d, "--resume"),
        message="line 1",
        needs_base=True,
        setup=lambda d: _log(d).write_bytes(b"\x00\xff garbage\nmore garbage\n"),
    ),
    Case(
        "ckpt-foreign-one-line-file",
        lambda d: run_args(d, "--resume", "--telemetry-log", str(d / "notes.txt")),
        message="line 1",
        setup=lambda d: write(d / "notes.txt", "my notes, not a telemetry log\n"),
    ),
    Case(
        "ckpt-locked-by-another-run",
        lambda d: run_args(d, "--resume"),
        message="another",
        needs_base=True,
        setup=_hold_lock,
    ),
    Case(
        "ckpt-torn-last-line",
        lambda d: run_args(d, "--resume"),
        exit_code=0,
        needs_base=True,
        setup=_tear_last,
        check=_no_duplicates_and_complete,
    ),
    Case(
        "ckpt-fresh",
        lambda d: run_args(d, "--fresh"),
        exit_code=0,
        needs_base=True,
        check=_fresh_moved_aside,
    ),
    Case(
        "ckpt-unwritable-dir",
        lambda d: run_args(d, "--telemetry-log", "/proc/calib-async-test/t.jsonl"),
        message="cannot create telemetry log",
    ),
    Case(
        "ckpt-disk-full",
        lambda d: run_args(d),
        message="file-size limit",
        fsize_bytes=3000,  # the header fits, the second record does not
    ),
]


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


def _selected(request: pytest.FixtureRequest) -> set[str]:
    ids = set()
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is not sys.modules[__name__]:
            continue
        if "case" in params:
            ids.add(params["case"].id)
        if "checker" in params:
            ids.add("checkers")
    return ids


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    selected = _selected(request)
    root = tmp_path_factory.mktemp("bad-inputs")
    jobs: list[Job] = []
    base = root / "base"
    base.mkdir()
    lock_fds: list[int] = []
    if any(c.needs_base for c in CASES if c.id in selected):
        jobs.append(Job("base", base, run_args(base), run_env()))
    for case in CASES:
        if case.id not in selected:
            continue
        d = root / case.id
        d.mkdir()

        def prepare(case: Case = case, d: Path = d) -> None:
            if case.needs_base:
                shutil.copytree(base / "out", d / "out")
            if case.setup is not None:
                case.setup(d)
            if case.setup is _hold_lock:
                fd = os.open(_log(d), os.O_RDWR)
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


# ---------------------------------------------------------------------------------------------
# The tests


def _no_traceback(done: Done) -> None:
    assert done.returncode is not None, "the run hung and was killed"
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, results: dict[str, Done]) -> None:
    done = results[case.id]
    _no_traceback(done)
    assert done.returncode == case.exit_code, done.stderr[-3000:]
    if case.exit_code == 0:
        assert case.check is not None
        case.check(done.dir, records(_log(done.dir)))
        return
    assert "PASSED" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("calibrate_noise: error: "), lines[0]
    assert case.message in lines[0]


def test_catalogue_is_big_enough() -> None:
    assert len(CASES) + len(CHECKERS) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.name for c in CHECKERS])
def test_hostile_checker_outcome_is_recorded(checker: Checker, results: dict[str, Done]) -> None:
    done = results["checkers"]
    _no_traceback(done)
    assert done.returncode == 0, done.stderr[-3000:]
    recs = [r for r in records(_log(done.dir)) if r["tier"] == checker.name]
    assert len(recs) == 1, "lost or duplicated record"
    record = recs[0]
    assert record["outcome"] == checker.outcome, record
    if checker.check is not None:
        assert checker.check(record) is not False, record
    if checker.name == "forks-a-daemon" and record["cgroup"]:
        assert done.daemons_left == 0, "the detached daemon survived (a cgroup run kills it)"
