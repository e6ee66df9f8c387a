"""Issue 31's catalogue for the main command: checkers that can never start (exit 2 before
stage 2, no log written), forged duplicate log records, a refusing ``--resume`` that must leave
the log as it was, a BOM in a list file, a symlink planted under ``<output-dir>/canaries``, a
canary rewrite that would amplify a file beyond memory, flags out of range, placeholders put in
once, ``cwd: "{workdir}"``. Each case runs ``python -m calib_async`` in its own directory (a few
at a time, helpers/hostile_cli.py) and must use at most ``WITHIN_CPU_S`` of CPU and end within
``WITHIN_WALL_S`` (generous: the machine may be at load 10), with its expected exit code and,
for a refusal, one stderr line holding ``message``; files it names stay as they were."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import hostile_cli, run_env
from helpers.hostile_cli import Done, Job, run_jobs

WITHIN_CPU_S = 10.0
WITHIN_WALL_S = 120.0
PROFILE = {
    "command": ["sh", "-c", 'grep -q t1 "$1" && exit 1; exit 0', "checker", "{file}"],
    "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
}


def write(path: Path, data: str | bytes, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    if mode is not None:
        path.chmod(mode)
    return path


def corpus(d: Path) -> Path:
    for i in range(3):
        write(d / "corpus" / f"p{i}.lean", f"theorem t{i} : True := trivial\n")
    return d / "corpus"


def config(d: Path, profile: dict[str, Any] | None = None) -> Path:
    data = {
        "verifiers": {"chk": {**PROFILE, **(profile or {})}},
        "tiers": {"T": {"timeout_s": 20, "verifier": "chk", "grace_s": 0.2}},
    }
    return write(d / "cfg.yaml", yaml.safe_dump(data, sort_keys=False))


def run_args(d: Path, *extra: str, cfg: Path | None = None, cpath: Path | None = None) -> list[str]:
    return [
        "--tiers", "T", "--n", "3", "--export", str(d / "cal.yaml"), "--output-dir", str(d / "out"),
        "--corpus", "custom", "--corpus-path", str(cpath or corpus(d)),
        "--config", str(cfg or config(d)), "--consensus-verifiers", "chk",
        "--label-sample", "0", "--bootstrap", "0", "--no-report", "--no-progress",
        "--workers", "2", "--log-level", "ERROR", *extra,
    ]  # fmt: skip


def _log(d: Path) -> Path:
    return d / "out" / "telemetry.jsonl"


def _records(d: Path) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in _log(d).read_text().splitlines() if x.strip()]
    return [r for r in rows if r.get("kind") != "header"]


def _outcomes(d: Path) -> dict[str, str]:
    return {r["item_id"]: r["outcome"] for r in _records(d)}


def checker_case(command: list[str]) -> Callable[[Path], list[str]]:
    return lambda d: run_args(d, cfg=config(d, {"command": command}))


def _script(d: Path, text: str, mode: int) -> str:
    return str(write(d / "chk.sh", text, mode))


def _forge_duplicate(d: Path) -> None:
    """Put a copy of line 2 with the opposite outcome first, and a torn tail at the end."""
    lines = _log(d).read_text().splitlines(keepends=True)
    forged = json.loads(lines[1])
    forged["outcome"] = "VERIFIED" if forged["outcome"] != "VERIFIED" else "PROOF_INVALID"
    _log(d).write_text(lines[0] + json.dumps(forged) + "\n" + "".join(lines[1:]) + '{"torn')


def _symlink_canaries_to_corpus(d: Path) -> None:
    (d / "out").mkdir(parents=True, exist_ok=True)
    os.symlink(d / "corpus", d / "out" / "canaries")


def _bom_list(d: Path) -> Path:
    corpus(d)
    names = "".join(f"corpus/p{i}.lean\n" for i in range(3))
    return write(d / "list.txt", "\ufeff" + names)


CANARY = {"name": "cheat", "find": "trivial", "replace": "sorry", "count": "all"}
AMPLIFY = {"name": "amp", "find": "(?s).", "replace": "x" * 20000, "count": "all"}
PWD_IS_WORKDIR = 'case "$PWD" in "$TMPDIR") exit 0;; esac; echo "pwd $PWD"; exit 1'


def _all(outcome: str, count: int = 3) -> Callable[[Path], None]:
    def check(d: Path) -> None:
        assert sorted(_outcomes(d).values()) == [outcome] * count, _outcomes(d)

    return check


def _three_items_read(d: Path) -> None:  # the BOM is not part of the first name
    assert sorted(_outcomes(d).values()) == ["PROOF_INVALID", "VERIFIED", "VERIFIED"]


def _placeholder_name_kept(d: Path) -> None:
    got = _outcomes(d)  # checked as itself (PROOF_INVALID), not as "20.lean" (missing: VERIFIED)
    # (the item id is the file name made safe: "_timeout_s_-<hash>")
    assert list(got.values()) == ["PROOF_INVALID"] and "timeout_s" in next(iter(got)), got


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path], list[str]]
    message: str = ""
    exit_code: int = 2
    base: bool = False  # start from a copy of a finished run's output directory
    setup: Callable[[Path], None] | None = None
    unchanged: tuple[str, ...] = ()  # files (relative to the case dir) that must not change
    check: Callable[[Path], None] | None = None
    no_log: bool = False  # refused before stage 2: no telemetry log was created
    nofile: int | None = None  # the CLI's open-file limit (soft = hard)
    no_ray: bool = False  # run with a ``ray`` that cannot be imported


# fmt: off
CASES: list[Case] = [
    # checkers that can never start: exit 2 before stage 2
    Case("checker-not-on-path", checker_case(["no-such-checker-31", "{file}"]), "not on PATH",
         no_log=True),
    Case("checker-not-executable",
         lambda d: run_args(d, cfg=config(d, {"command": [_script(d, "#!/bin/sh\nexit 0\n", 0o644),
                                                          "{file}"]})),
         "not executable", no_log=True),
    Case("checker-is-a-directory", lambda d: run_args(d, cfg=config(d, {"command": [str(d)]})),
         "is a directory", no_log=True),
    Case("checker-without-shebang",
         lambda d: run_args(d, cfg=config(d, {"command": [_script(d, "exit 0\n", 0o755),
                                                          "{file}"]})),
         "'#!' line", no_log=True),
    Case("checker-argv-too-long", checker_case(["sh", "-c", "exit 0", "x" * 200_000, "{file}"]),
         "kernel's limit", no_log=True),
    # a checker's own words and exit code are its verdict, never a spawn error
    Case("checker-prints-setpriv-exits-126",
         checker_case(["sh", "-c", 'echo "setpriv: failed to execute x" >&2; exit 126', "c",
                       "{file}"]), exit_code=0, check=_all("PROOF_INVALID")),
    Case("checker-prints-wrapper-exits-125",
         checker_case(["sh", "-c", 'echo "calib-async-wrapper: cannot exec x" >&2; exit 125',
                       "c", "{file}"]), exit_code=0, check=_all("PROOF_INVALID")),
    # flags out of range
    Case("flag-split-one", lambda d: run_args(d, "--validation-split", "1.0"),
         "--validation-split", no_log=True),
    Case("flag-label-budget-huge", lambda d: run_args(d, "--label-budget", str(10**30)),
         "--label-budget", no_log=True),
    Case("flag-replicates-huge", lambda d: run_args(d, "--replicates", str(10**12)),
         "--replicates", no_log=True),
    Case("flag-load-levels-huge", lambda d: run_args(d, "--load-levels", f"1,{10**9}"),
         "--load-levels", no_log=True),
    # file descriptors: refused up front when the limit cannot serve --workers
    Case("fd-limit-64-workers-128", lambda d: run_args(d, "--workers", "128"), "open files",
         nofile=64, no_log=True),
    Case("fd-limit-1024-workers-128", lambda d: run_args(d, "--workers", "128"),
         "lower --workers to 62", nofile=1024, no_log=True),
    Case("fd-limit-64-workers-1", lambda d: run_args(d, "--workers", "1"), exit_code=0,
         nofile=64, check=lambda d: _three_items_read(d)),
    # --backend ray without Ray: refused before the log exists
    Case("backend-ray-without-ray", lambda d: run_args(d, "--backend", "ray"), "needs Ray",
         no_ray=True, no_log=True),
    # manual labels: a tier the run lacks is a typo, refused before stage 2
    Case("manual-label-unknown-tier",
         lambda d: run_args(d, "--manual-labels",
                            str(write(d / "m.csv", "item_id,label,tier\np0,VERIFIED,NOPE\n"))),
         "names tier 'NOPE'", no_log=True),
    # the checkpoint: forged duplicates refused with the line, the log left as it was
    Case("resume-forged-duplicate", lambda d: run_args(d, "--resume"), "again with outcome",
         base=True, setup=_forge_duplicate, unchanged=("out/telemetry.jsonl",)),
    # the corpus is only read: a symlink under <output-dir>/canaries is not followed
    Case("canaries-dir-is-a-symlink",
         lambda d: run_args(d, "--canaries", "all", "--canary-sample", "3",
                            cfg=config(d, {"canaries": [CANARY]})),
         "not a plain directory", setup=_symlink_canaries_to_corpus,
         unchanged=("corpus/p0.lean", "corpus/p1.lean", "corpus/p2.lean")),
    Case("canary-amplifies-beyond-memory",
         lambda d: run_args(d, "--canaries", "all", "--canary-sample", "3",
                            cfg=config(d, {"canaries": [AMPLIFY]}),
                            cpath=write(d / "big" / "p.lean", "t" * 5000).parent),
         "would make a file"),
    # inputs read as meant
    Case("list-file-with-bom", lambda d: run_args(d, cpath=_bom_list(d)), exit_code=0,
         check=_three_items_read),
    Case("file-named-like-a-placeholder",
         lambda d: run_args(d, cpath=write(d / "c" / "{timeout_s}.lean", "t1\n").parent),
         exit_code=0, check=_placeholder_name_kept),
    Case("cwd-is-the-workdir",
         lambda d: run_args(d, cfg=config(d, {"command": ["sh", "-c", PWD_IS_WORKDIR],
                                              "cwd": "{workdir}"})),
         exit_code=0, check=_all("VERIFIED")),
]
# fmt: on


def _hide_ray(d: Path) -> Path:
    """A directory whose ``ray`` shadows the installed one: a namespace-less stub that
    importlib cannot find a spec for (``ray.py`` raising ImportError is found, so a finder
    hides it instead)."""
    write(d / "noray" / "sitecustomize.py",
          "import sys\n"
          "class _NoRay:\n"
          "    def find_spec(self, name, path=None, target=None):\n"
          "        if name == 'ray' or name.startswith('ray.'):\n"
          "            raise ModuleNotFoundError(name)\n"
          "        return None\n"
          "sys.meta_path.insert(0, _NoRay())\n")  # fmt: skip
    return d / "noray"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    root = tmp_path_factory.mktemp("reliability")
    base = root / "base"
    base.mkdir()
    jobs = [Job("base", base, run_args(base), run_env())]
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
            before[case.id] = {name: _digest(d / name) for name in case.unchanged}

        env = run_env(PYTHONPATH=str(_hide_ray(d))) if case.no_ray else run_env()
        jobs.append(Job(case.id, d, args, env, after="base" if case.base else None,
                        prepare=prepare, nofile=case.nofile))  # fmt: skip
    parallel, hostile_cli.PARALLEL = hostile_cli.PARALLEL, 2
    try:
        done = run_jobs(jobs)
    finally:
        hostile_cli.PARALLEL = parallel
    assert done["base"].returncode == 0, done["base"].stderr
    for case in CASES:
        done[case.id].before = before.get(case.id, {})  # type: ignore[attr-defined]
    return done


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_exits_as_expected(case: Case, results: dict[str, Done]) -> None:
    done = results[case.id]
    assert done.returncode is not None, "hang"
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    assert done.cpu_s <= WITHIN_CPU_S and done.elapsed_s <= WITHIN_WALL_S, (
        done.cpu_s,
        done.elapsed_s,
    )
    before: dict[str, str] = getattr(done, "before", {})
    assert {name: _digest(done.dir / name) for name in before} == before
    assert done.returncode == case.exit_code, done.stderr[-3000:]
    if case.exit_code == 0:
        assert case.check is not None
        case.check(done.dir)
        return
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("calibrate_noise: error: "), lines[0]
    assert case.message in lines[0]
    if case.no_log:
        assert not _log(done.dir).exists(), "refused after the log was created"


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("mount") is None,
    reason="needs root and util-linux to mount the output dir read-only in a mount namespace",
)
def test_read_only_output_dir_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir()
    cli = " ".join([sys.executable, "-m", "calib_async", *run_args(tmp_path)])
    script = f"mount --bind {out} {out} && mount -o remount,bind,ro {out} && exec {cli}"
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True, text=True, env=run_env(), timeout=WITHIN_WALL_S,
    )  # fmt: skip
    if "mount:" in proc.stderr:
        pytest.skip(f"cannot mount here: {proc.stderr.strip()}")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "is not writable" in proc.stderr, proc.stderr


@pytest.mark.parametrize("how", ["closed", "reader-quits"])
def test_stdout_that_fails_does_not_fail_the_calibration(tmp_path: Path, how: str) -> None:
    import subprocess
    import sys

    argv = [sys.executable, "-m", "calib_async", *run_args(tmp_path)]
    if how == "closed":
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=run_env(),
            preexec_fn=lambda: os.close(1),
        )  # fmt: skip
    else:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env())
        assert proc.stdout is not None
        proc.stdout.close()  # the reader quits before the summary is printed
    _, err = proc.communicate(timeout=WITHIN_WALL_S * 2)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err, err
    assert (tmp_path / "cal.yaml").is_file() and len(_records(tmp_path)) == 3
