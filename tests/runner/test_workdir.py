"""workdir.py and the ``{workdir}`` placeholder: a fresh private directory per run."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import anyio
import pytest

from calib_async.checkers.command.profile import CommandVerifier
from calib_async.config.schema import Rule, VerifierConfig
from calib_async.records import CorpusItem, Outcome, Task, Tier
from calib_async.runner.measured import run_process_measured
from calib_async.runner.spec import ExecSpec, Termination
from calib_async.runner.workdir import new_workdir
from helpers.scheduling import scheduler_over

pytestmark = pytest.mark.anyio

# Fails (exit 1) unless the working directory is empty and is $TMPDIR; then writes out.txt,
# waits for the other tier's run to have written its own, and checks that it still reads its
# own; prints the directory.
SCRIPT = (
    'set -e; test -z "$(ls -A)"; test "$PWD" = "$TMPDIR"; test "$PWD" = "$2"; '
    'echo "$1" > out.txt; touch "$3/$1.started"; '
    'for i in $(seq 200); do [ -e "$3/A.started" ] && [ -e "$3/B.started" ] && break; '
    "sleep 0.02; done; "
    'test "$(cat out.txt)" = "$1"; mkdir -p sub/deeper; chmod 500 sub; pwd'
)


def cleared(path: str) -> bool:
    """Gone, or empty and kept for a later run of this process (runner.workdir recycling)."""
    return not os.path.exists(path) or not os.listdir(path)


def item(tmp_path: Path) -> CorpusItem:
    path = tmp_path / "p.v"
    path.write_text("Theorem t : True.\n")
    return CorpusItem("p", "p", str(path), hashlib.sha256(path.read_bytes()).hexdigest())


async def test_two_tiers_of_one_checker_never_see_each_others_files(
    anyio_backend: str, tmp_path: Path
) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    profile = CommandVerifier(
        VerifierConfig(
            name="v",
            command=("sh", "-c", SCRIPT, "sh", "{args}", "{workdir}", str(signals)),
            rules=(Rule(Outcome.VERIFIED, exit_codes=(0,)),),
        )
    )
    tiers = [Tier(name, 20.0, "v", args=(name,)) for name in ("A", "B")]
    async with scheduler_over({"v": profile}, workers=2) as scheduler:
        records = []
        async with anyio.create_task_group() as tg:

            async def one(tier: Tier) -> None:
                records.append(await scheduler.run_one(Task(item(tmp_path), tier, "v")))

            for tier in tiers:
                tg.start_soon(one, tier)
    assert [r.outcome for r in records] == [Outcome.VERIFIED] * 2, [r.output_tail for r in records]
    dirs = {r.output_tail.strip() for r in records}
    assert len(dirs) == 2  # one private directory per run ...
    assert all(cleared(d) for d in dirs)  # ... emptied after it (read-only sub too)
    assert not (tmp_path / "out.txt").exists() and not Path("out.txt").exists()


async def test_workdir_is_removed_after_a_timeout_kill(anyio_backend: str) -> None:
    workdir = new_workdir()
    spec = ExecSpec(
        argv=(sys.executable, "-c", "open('big', 'w').write('x'); import time; time.sleep(30)"),
        timeout_s=0.5,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=workdir,
        grace_s=0.1,
        workdir=workdir,
    )
    result = await run_process_measured(spec)
    assert result.termination is Termination.TIMEOUT
    assert cleared(workdir)


async def test_a_workdir_that_cannot_be_created_is_a_spawn_error(
    anyio_backend: str, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep").write_text("mine")
    spec = ExecSpec(argv=("true",), timeout_s=5, env={"PATH": "/usr/bin:/bin"}, workdir=str(taken))
    result = await run_process_measured(spec)
    assert result.termination is Termination.SPAWN_ERROR
    assert result.message is not None and result.message.startswith("cannot create the run's")
    assert (taken / "keep").read_text() == "mine"  # not ours: left alone


async def test_a_retried_spec_gets_its_directory_afresh(anyio_backend: str) -> None:
    workdir = new_workdir()
    os.makedirs(workdir, exist_ok=True)  # a recycled path exists already
    Path(workdir, "left-by-a-killed-attempt").write_text("x")
    spec = ExecSpec(
        argv=("sh", "-c", 'test -z "$(ls -A)"'),
        timeout_s=5,
        env={"PATH": "/usr/bin:/bin"},
        cwd=workdir,
        workdir=workdir,
    )
    result = await run_process_measured(spec)
    assert result.exit_code == 0, result.output_text
    assert cleared(workdir)


def test_relative_command_still_resolves_against_the_driver_cwd(tmp_path: Path) -> None:
    profile = CommandVerifier(VerifierConfig(name="v", command=("./check.sh", "{file}")))
    spec = profile.build_spec(item(tmp_path), Tier("T", 1.0, "v"), timeout_s=1.0, attempt=0)
    assert spec.argv[0] == os.path.abspath("./check.sh")
    assert spec.cwd == spec.workdir == spec.env["TMPDIR"]


async def test_an_emptied_directory_is_reused_and_one_with_files_is_removed(
    anyio_backend: str,
) -> None:
    def spec(script: str) -> ExecSpec:
        w = new_workdir()
        env = {"PATH": "/usr/bin:/bin"}
        return ExecSpec(argv=("sh", "-c", script), timeout_s=10, env=env, cwd=w, workdir=w)

    first = spec('test -z "$(ls -A)"')
    assert (await run_process_measured(first)).exit_code == 0
    assert os.path.isdir(first.workdir or "") and not os.listdir(first.workdir or "")
    again = spec('test -z "$(ls -A)" && echo x > kept')  # the recycled one, empty
    assert again.workdir == first.workdir
    assert (await run_process_measured(again)).exit_code == 0
    assert not os.path.exists(again.workdir or "")  # a file left in it: removed
    opened = spec("chmod 755 .")  # no longer as created: removed, not reused
    assert (await run_process_measured(opened)).exit_code == 0
    assert not os.path.exists(opened.workdir or "")


def test_a_dead_drivers_pooled_directories_are_swept(tmp_path: Path) -> None:
    from calib_async.runner.workdir import sweep_stale, workdir_root

    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)  # a pid that no longer runs
    root = workdir_root()
    root.mkdir(parents=True, exist_ok=True)
    empty, full = root / f"run-{dead}-{'a' * 32}", root / f"run-{dead}-{'b' * 32}"
    mine, foreign = root / f"run-{os.getpid()}-{'c' * 32}", root / "run-keep"
    for d in (empty, full, mine, foreign):
        d.mkdir(exist_ok=True)
    (full / "x").write_text("a dead run's file")
    try:
        assert sweep_stale() >= 1
        assert not empty.exists() and full.exists() and mine.exists() and foreign.exists()
    finally:
        (full / "x").unlink()
        for d in (full, mine, foreign):
            d.rmdir()
