"""The bad-input catalogue: every case ends in one error line with a documented exit code, or in
a recorded outcome. None may print a traceback, hang, or lose a record.

Each row of ``CASES`` runs ``python -m calib_async`` as a subprocess in its own directory. All
selected subprocesses are started by one module fixture, a few at a time, and the parametrized
tests then check their results. The hostile checkers are in test_bad_inputs_hostile_checkers.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import run_env
from helpers.bad_inputs import (
    CHECKERS,
    OK_PROFILE,
    Case,
    cfg_case,
    config,
    corpus,
    hold_lock,
    log_path,
    no_traceback,
    records,
    run_args,
    run_selected,
    tier_cfg,
    verifier_cfg,
    write,
)
from helpers.hostile_cli import Done


def _corrupt_middle(d: Path) -> None:
    lines = log_path(d).read_bytes().splitlines(keepends=True)
    lines[2] = b'{"this is": not json\n'
    log_path(d).write_bytes(b"".join(lines))


def _tear_last(d: Path) -> None:
    data = log_path(d).read_bytes()
    log_path(d).write_bytes(data[:-40])  # the last record loses its end (and its newline)


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
    """A PATH with the checker's shell and Python but no bwrap."""
    bin_dir = d / "no-bwrap-bin"
    bin_dir.mkdir(exist_ok=True)
    sh = shutil.which("sh")
    assert sh is not None
    (bin_dir / "sh").symlink_to(sh)
    return run_env(PATH=f"{bin_dir}:{Path(sys.executable).parent}")


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
        cfg_case(verifier_cfg(command=["true"], rules=[{"outcome": "ACCEPTED"}])),
        message="ACCEPTED",
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
        setup=lambda d: log_path(d).write_bytes(b"\x00\xff garbage\nmore garbage\n"),
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
        setup=hold_lock,
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


@pytest.fixture(scope="module")
def results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Done]:
    return run_selected(request, tmp_path_factory, __name__, CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, results: dict[str, Done]) -> None:
    done = results[case.id]
    no_traceback(done)
    assert done.returncode == case.exit_code, done.stderr[-3000:]
    if case.exit_code == 0:
        assert case.check is not None
        case.check(done.dir, records(log_path(done.dir)))
        return
    assert "PASSED" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("calibrate_noise: error: "), lines[0]
    assert case.message in lines[0]


def test_catalogue_is_big_enough() -> None:
    assert len(CASES) + len(CHECKERS) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
