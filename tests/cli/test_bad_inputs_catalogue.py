"""Issue 15's catalogue: bad inputs that once crashed, hung or destroyed data, none of them in
test_bad_inputs.py. Each case runs ``python -m calib_async`` in its own directory (through
helpers/hostile_cli.py, a few at a time) and must end within the bounds below in one stderr
line and exit 2, or in a recorded outcome; inputs a refused run names are unchanged afterwards.

Bounds: each case uses at most ``WITHIN_CPU_S`` of CPU (the CLI and the checkers it reaped) and
ends within ``WITHIN_WALL_S`` of wall time, a bound generous enough for a machine at load 10
(an earlier 10 s wall-clock limit failed 7 cases at load 7-13).

Classes: integers that do not fit, NaN/inf, NUL bytes, non-JSON YAML types, duplicate keys and
alias bombs, unknown placeholders, bad simulated options, catastrophic regexes (RE2), special
files (FIFO, directory, symlink loop), non-UTF-8 names, lone surrogates and deep nesting in
JSONL, corrupt records met by --resume, outputs that collide with inputs or each other, and a
second driver on a running output directory. The test at the end prints the totals.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from helpers import hostile_cli, run_env
from helpers.bad_input_catalogue import (
    ALIAS_BOMB,
    SLOW_NAME,
    Case,
    all_proof_invalid,
    cfg_data,
    corpus_case,
    edit_record,
    fifo,
    flags,
    live_driver_record,
    run_args,
    yaml_case,
)
from helpers.bad_inputs import corpus, log_path, write
from helpers.hostile_cli import Done, Job, run_jobs

WITHIN_CPU_S = 10.0
WITHIN_WALL_S = 120.0

# fmt: off
CASES: list[Case] = [
    # flags: integers that do not fit, NaN and inf, regexes
    Case("flag-seed-70-bits", flags("--seed", str(2**70)), "--seed"),
    Case("flag-seed-negative", flags("--seed", "-1"), "--seed"),
    Case("flag-n-100-digits", flags("--n", "9" * 100), "--n"),
    Case("flag-workers-huge", flags("--workers", str(2**40)), "--workers"),
    Case("flag-bootstrap-huge", flags("--bootstrap", str(2**40)), "--bootstrap"),
    Case("flag-label-sample-huge", flags("--label-sample", str(2**64)), "--label-sample"),
    Case("flag-multiplier-inf", flags("--timeout-multiplier", "inf"), "finite"),
    Case("flag-multiplier-nan", flags("--timeout-multiplier", "nan"), "--timeout-multiplier"),
    Case("flag-split-nan", flags("--validation-split", "nan"), "--validation-split"),
    Case("flag-filter-lookahead", flags("--corpus-filter", "(?=p)"), "lookahead"),
    Case("flag-filter-backreference", flags("--corpus-filter", r"(p)\1"), "backreferences"),
    Case(
        "flag-filter-catastrophic",
        lambda d: run_args(
            d, "--corpus-filter", "^(a+)+$",
            cpath=write(d / "c" / f"{SLOW_NAME}.lean", "theorem t : True := trivial\n").parent,
        ),
        "matches --corpus-filter",
    ),
    # YAML config
    Case("yaml-duplicate-key", yaml_case("tiers:\n  T: {timeout_s: 1, verifier: chk}\n"
                                         "  T: {timeout_s: 2, verifier: chk}\n"), "duplicate key"),
    Case("yaml-alias-bomb", yaml_case(ALIAS_BOMB), "alias"),
    Case("yaml-two-documents", yaml_case("verifiers: {}\n---\ntiers: {}\n"), "single document"),
    Case("yaml-timeout-nan", yaml_case(cfg_data(timeout_s=float("nan"))), "finite"),
    Case("yaml-timeout-inf", yaml_case(cfg_data(timeout_s=float("inf"))), "finite"),
    Case("yaml-grace-nan", yaml_case(cfg_data(grace_s=float("nan"))), "finite"),
    Case("yaml-timeout-huge", yaml_case(cfg_data(timeout_s=1e300)), "timeout_s"),
    Case("yaml-memory-beyond-64-bits", yaml_case(cfg_data(memory_limit_mb=2**70)), "64 bits"),
    Case("yaml-memory-overflows-bytes", yaml_case(cfg_data(memory_limit_mb=2**62)), "memory_lim"),
    Case("yaml-output-cap-huge", yaml_case(cfg_data(output_cap_kb=2**62)), "output_cap_kb"),
    Case("yaml-max-file-huge", yaml_case(cfg_data(max_file_mb=2**62)), "max_file_mb"),
    Case("yaml-max-processes-huge", yaml_case(cfg_data(max_processes=2**40)), "max_processes"),
    Case(
        "yaml-exit-code-huge",
        yaml_case(cfg_data({"rules": [{"exit_code": 2**40, "outcome": "VERIFIED"}]})),
        "exit_code",
    ),
    Case(
        "yaml-exit-code-negative",
        yaml_case(cfg_data({"rules": [{"exit_code": [0, -1], "outcome": "VERIFIED"}]})),
        "exit_code",
    ),
    Case("yaml-nul-in-env", yaml_case(cfg_data({"env": {"A": "x\0y"}})), "NUL"),
    Case("yaml-nul-in-command", yaml_case(cfg_data({"command": ["sh\0", "{file}"]})), "NUL"),
    Case("yaml-env-list-value", yaml_case(cfg_data({"env": {"A": [1, 2]}})), "env"),
    Case("yaml-date-in-options", yaml_case(
        "verifiers:\n  chk: {command: [true], options: {when: 2024-01-01}}\n"), "date"),
    Case("yaml-set-in-options", yaml_case(
        "verifiers:\n  chk: {command: [true], options: !!set {a}}\n"), "a set"),
    Case("yaml-deep-nesting", yaml_case("tiers: " + "[" * 100 + "]" * 100 + "\n"), "deeper"),
    Case(
        "yaml-unknown-placeholder",
        yaml_case(cfg_data({"command": ["cat", "{fiel}"]})),
        "unknown placeholder {fiel}; valid: {args}, {file}, {memory_mb}, {module}, {stem}, "
        "{timeout_s}, {workdir}",
    ),
    Case("yaml-sim-bad-precision", yaml_case(
        {"verifiers": {"chk": {"kind": "simulated", "options": {"precision": "sloppy"}}}}),
        "precision"),
    Case("yaml-sim-bad-seed", yaml_case(
        {"verifiers": {"chk": {"kind": "simulated", "options": {"seed": "abc"}}}}), "seed"),
    Case("yaml-sim-unknown-option", yaml_case(
        {"verifiers": {"chk": {"kind": "simulated", "options": {"colour": "red"}}}}), "colour"),
    Case("yaml-lookbehind-rule", yaml_case(
        cfg_data({"rules": [{"output": "(?<=a)b", "outcome": "VERIFIED"}]})), "lookbehind"),
    Case(
        "yaml-catastrophic-rule-regex",
        yaml_case(cfg_data({
            "command": ["sh", "-c", f"echo {SLOW_NAME}; exit 0", "chk", "{file}"],
            "rules": [{"output": "^(a+)+$", "outcome": "VERIFIED"}],
        })),
        exit_code=0,
        check=all_proof_invalid,
    ),
    Case("yaml-config-is-fifo", lambda d: run_args(d, cfg=fifo(d / "cfg.yaml")), "--config"),
    # corpus files
    Case("corpus-path-fifo", corpus_case(lambda d: fifo(d / "list.txt")), "FIFO"),
    Case("corpus-path-fifo-jsonl", corpus_case(lambda d: fifo(d / "a.jsonl")), "FIFO"),
    Case("corpus-path-fifo-lean", corpus_case(lambda d: fifo(d / "a.lean")), "FIFO"),
    Case(
        "corpus-non-utf8-name",
        corpus_case(lambda d: write(Path(os.fsdecode(bytes(d / "c") + b"/\xff.lean")), "x").parent),
        "not valid UTF-8",
    ),
    Case(
        "corpus-list-symlink-loop",
        corpus_case(lambda d: (
            (d / "loop.lean").symlink_to(d / "loop.lean"),
            write(d / "l.txt", "loop.lean\n"))[1]),
        "symlink loop",
    ),
    Case("corpus-list-nul-entry", corpus_case(lambda d: write(d / "l.txt", "p\0.lean\n")), "NUL"),
    Case(
        "corpus-list-fifo-entry",
        corpus_case(lambda d: (fifo(d / "x.lean"), write(d / "l.txt", "x.lean\n"))[1]),
        "FIFO",
    ),
    Case(
        "corpus-list-directory-entry",
        corpus_case(lambda d: ((d / "sub.lean").mkdir(), write(d / "l.txt", "sub.lean\n"))[1]),
        "directory",
    ),
    Case(
        "corpus-jsonl-lone-surrogate",
        corpus_case(lambda d: write(d / "a.jsonl", '{"id": "a", "code": "\\ud800"}\n')),
        "a.jsonl:1",
    ),
    Case(
        "corpus-jsonl-surrogate-id",
        corpus_case(lambda d: write(d / "a.jsonl", '{"id": "\\udc80", "code": "x"}\n')),
        "a.jsonl:1",
    ),
    Case(
        "corpus-jsonl-nested-100000",
        corpus_case(lambda d: write(d / "a.jsonl", "[" * 100_000 + "]" * 100_000 + "\n")),
        "nested deeper",
    ),
    Case(
        "corpus-jsonl-huge-int-id",
        corpus_case(lambda d: write(d / "a.jsonl", '{"id": 1' + "0" * 30 + ', "code": "x"}\n')),
        "'id'",
    ),
    Case(
        "corpus-attempt-path-is-directory",
        corpus_case(lambda d: write(d / "a.jsonl", '{"id": "a", "code": "x"}\n')),
        "directory",
        setup=lambda d: (d / "out" / "attempts" / "a.lean").mkdir(parents=True),
    ),
    # manual labels
    Case("labels-fifo", lambda d: run_args(d, "--manual-labels", str(fifo(d / "m.csv"))), "m.csv"),
    Case(
        "labels-csv-nul",
        lambda d: run_args(d, "--manual-labels", str(write(d / "m.csv", "item_id,label\na\0,X\n"))),
        "m.csv",
    ),
    Case(
        "labels-jsonl-deep",
        lambda d: run_args(d, "--manual-labels", str(write(d / "m.jsonl", "[" * 5000 + "\n"))),
        "m.jsonl:1",
    ),
    Case(
        "labels-jsonl-surrogate",
        lambda d: run_args(
            d, "--manual-labels",
            str(write(d / "m.jsonl", '{"item_id": "\\ud800", "label": "VERIFIED"}\n')),
        ),
        "m.jsonl:1",
    ),
    # log records met by --resume
    Case("ckpt-record-missing-fields", flags("--resume"), "line 2 is not a valid record",
         base=True, setup=edit_record(lambda r: {"task_key": r["task_key"]})),
    Case("ckpt-record-unknown-outcome", flags("--resume"), "unknown outcome", base=True,
         setup=edit_record(lambda r: {**r, "outcome": "MAYBE"})),
    Case("ckpt-record-wrong-type", flags("--resume"), "field duration_ms", base=True,
         setup=edit_record(lambda r: {**r, "duration_ms": "fast"})),
    # outputs never collide with inputs or each other (and nothing is overwritten)
    Case("collide-export-is-log", flags("--export", "out/telemetry.jsonl", "--resume"),
         "same file", base=True, unchanged=("out/telemetry.jsonl",)),
    Case("collide-log-is-config", lambda d: run_args(d, "--telemetry-log", "cfg.yaml", "--fresh"),
         "same file", unchanged=("cfg.yaml",)),
    Case("collide-export-is-corpus-list", lambda d: run_args(
        d, "--export", "l.txt", cpath=write(d / "l.txt", "corpus/p0.lean\n")),
        "same file", setup=corpus, unchanged=("l.txt",)),
    Case("collide-export-is-labels-json", flags("--export", "out/labels.json"), "same file"),
    Case("collide-log-is-manual-labels", lambda d: run_args(
        d, "--manual-labels", str(write(d / "m.csv", "item_id,label\n")),
        "--telemetry-log", "m.csv"), "same file", unchanged=("m.csv",)),
    Case("collide-export-symlink-to-config", flags("--export", "link.yaml"), "same file",
         setup=lambda d: (d / "link.yaml").symlink_to("cfg.yaml"), unchanged=("cfg.yaml",)),
    Case("collide-export-hardlink-of-config", flags("--export", "hard.yaml"), "same file",
         setup=lambda d: os.link(d / "cfg.yaml", d / "hard.yaml"), unchanged=("cfg.yaml",)),
    # a second driver on a running output directory
    Case("fresh-while-another-run-holds-the-log", flags("--fresh"), "another", base=True,
         lock_log=True, unchanged=("out/telemetry.jsonl",)),
    Case("fresh-while-another-driver-runs", flags("--fresh"), "another calibration", base=True,
         setup=live_driver_record, unchanged=("out/telemetry.jsonl",)),
]
# fmt: on


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    root = tmp_path_factory.mktemp("catalogue")
    base = root / "base"
    base.mkdir()
    jobs = [Job("base", base, run_args(base), run_env())]
    locks: list[int] = []
    before: dict[str, dict[str, str]] = {}
    for case in CASES:
        d = root / case.id
        d.mkdir()
        args = case.args(d)

        def prepare(case: Case = case, d: Path = d) -> None:
            if case.base:
                shutil.copytree(base / "out", d / "out")
            if case.setup is not None:
                case.setup(d)
            if case.lock_log:
                fd = os.open(log_path(d), os.O_RDWR)
                fcntl.flock(fd, fcntl.LOCK_EX)
                locks.append(fd)
            before[case.id] = {name: _digest(d / name) for name in case.unchanged}

        jobs.append(Job(case.id, d, args, run_env(), after="base" if case.base else None,
                        prepare=prepare))  # fmt: skip
    parallel, hostile_cli.PARALLEL = hostile_cli.PARALLEL, 2  # one job per core
    try:
        done = run_jobs(jobs)
    finally:
        hostile_cli.PARALLEL = parallel
        for fd in locks:
            os.close(fd)
    assert done["base"].returncode == 0, done["base"].stderr
    for case in CASES:
        d = done[case.id]
        d.before = before.get(case.id, {})  # type: ignore[attr-defined]
    return done


def _seconds(case: Case, done: Done) -> float:
    """CPU seconds the case took (the CLI and every checker it reaped): unlike wall time, this
    does not stretch when other work shares the cores."""
    return done.cpu_s


def _verdict(case: Case, done: Done) -> str:
    """"ok", or which of: traceback, hang, slow, data loss."""
    if done.returncode is None:
        return "hang"
    if "Traceback" in done.stderr + done.stdout:
        return "traceback"
    if _seconds(case, done) > WITHIN_CPU_S or done.elapsed_s > WITHIN_WALL_S:
        return "slow"
    before: dict[str, str] = getattr(done, "before", {})
    if any(_digest(done.dir / name) != digest for name, digest in before.items()):
        return "data loss"
    return "ok"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_or_recorded(case: Case, results: dict[str, Done]) -> None:
    done = results[case.id]
    assert _verdict(case, done) == "ok", (done.elapsed_s, done.stderr[-3000:])
    assert done.returncode == case.exit_code, done.stderr[-3000:]
    if case.exit_code == 0:
        assert case.check is not None
        case.check(done.dir)
        return
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("calibrate_noise: error: "), lines[0]
    assert case.message in lines[0]


def test_catalogue_totals(results: dict[str, Done]) -> None:
    verdicts = [_verdict(c, results[c.id]) for c in CASES]
    totals = {v: verdicts.count(v) for v in ("ok", "traceback", "hang", "slow", "data loss")}
    slowest = max(_seconds(c, results[c.id]) for c in CASES)
    print(f"catalogue: {len(CASES)} cases, {totals}, most CPU {slowest:.1f} s")
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    assert totals["traceback"] == totals["hang"] == totals["data loss"] == 0
