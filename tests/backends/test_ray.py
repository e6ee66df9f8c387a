"""The Ray backend on a local Ray (num_cpus=2): one session for the whole module (ray.init
takes seconds), shut down at the end. Skipped when the ray extra is not installed."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import anyio
import psutil
import pytest

ray = pytest.importorskip("ray")

from calib_async.backends.ray import TRIO_MESSAGE, RayBackend  # noqa: E402
from calib_async.checkers.command.profile import CommandVerifier  # noqa: E402
from calib_async.checkers.oneshot import allowlisted_env, classify_run, limits_for  # noqa: E402
from calib_async.config.schema import parse_verifier  # noqa: E402
from calib_async.errors import CalibError  # noqa: E402
from calib_async.pipeline import RunConfig, run_calibration  # noqa: E402
from calib_async.records import (  # noqa: E402
    CorpusItem,
    Outcome,
    Task,
    Tier,
)
from calib_async.runner.spec import ExecSpec, Termination  # noqa: E402
from helpers.limit_cases import LIMIT_CASES  # noqa: E402
from helpers.scheduling import scheduler_over  # noqa: E402
from helpers.slow_tiers import X4_TIERS, x4_config  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    """Ray's client runs on asyncio only (trio gets a clear error: see the trio test)."""
    return "asyncio"


@pytest.fixture(scope="module")
def ray_session() -> object:
    """A local Ray with 2 CPUs for the module. Started in the main thread: Ray ties its
    processes' lives to the starting thread (PR_SET_PDEATHSIG)."""
    sigterm = signal.getsignal(signal.SIGTERM)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    signal.signal(signal.SIGTERM, sigterm)  # ray.init sets its own
    yield ray
    ray.shutdown()


@pytest.fixture
async def backend(ray_session: object) -> object:
    b = RayBackend(sample_interval_s=0.05)
    await b.start()
    yield b
    await b.aclose()


def survivors(token: str) -> list[psutil.Process]:
    """Processes whose command line contains ``token`` (unique per test)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any(token in part for part in cmd) and p.pid != os.getpid():
            found.append(p)
    return found


async def gone(token: str, within_s: float = 5.0) -> bool:
    """Whether every process with ``token`` disappears within ``within_s`` (a dead worker's
    tree is killed by its guardian, asynchronously)."""
    deadline = time.monotonic() + within_s
    while survivors(token):
        if time.monotonic() > deadline:
            return False
        await anyio.sleep(0.05)
    return True


def unique_sleep() -> str:
    """A ``sleep`` duration nobody else on this machine uses: our survivor marker."""
    return f"60.{uuid.uuid4().int % 10**6:06d}"


# -- the runner inside a Ray task -------------------------------------------------------------


async def test_timeout_inside_ray_task_leaves_no_process(backend: RayBackend) -> None:
    s = unique_sleep()
    spec = ExecSpec(
        argv=("sh", "-c", f"sleep {s} & sleep {s} & wait"),
        timeout_s=0.5,
        env=allowlisted_env(),
        grace_s=0.2,
    )
    result = await backend.run(spec)
    assert result.termination is Termination.TIMEOUT
    assert 400 < result.duration_ms < 5000
    assert not survivors(s)


async def test_results_come_back_with_telemetry(backend: RayBackend, tmp_path: Path) -> None:
    env = allowlisted_env()
    ok = await backend.run(ExecSpec(("sh", "-c", "echo out; echo err >&2"), 5.0, env))
    assert ok.termination is Termination.EXITED and ok.exit_code == 0
    assert ok.stdout == b"out\n" and ok.stderr == b"err\n" and "ray_retried" not in ok.warnings
    missing = await backend.run(ExecSpec(("no-such-checker-xyz",), 5.0, env))
    assert missing.termination is Termination.SPAWN_ERROR and "not found" in (missing.message or "")
    # a spec without cwd runs in the driver's working directory (Ray workers start elsewhere)
    here = await backend.run(ExecSpec(("pwd",), 5.0, env))
    assert here.stdout.decode().strip() == os.getcwd()


async def test_cancelling_the_caller_kills_the_tree_on_the_worker(backend: RayBackend) -> None:
    s = unique_sleep()
    spec = ExecSpec(
        argv=("sh", "-c", f"trap '' TERM; sleep {s} & sleep {s} & wait"),
        timeout_s=60.0,
        env=allowlisted_env(),
        grace_s=0.3,
    )
    t0 = time.monotonic()
    with anyio.move_on_after(1.0) as scope:
        await backend.run(spec)
    assert scope.cancelled_caught
    # returned once the task had killed and reaped the tree: about 1 s + grace, not 60 s
    assert time.monotonic() - t0 < 1.0 + 0.3 + backend.cancel_margin_s
    assert not survivors(s)


# -- worker death ----------------------------------------------------------------------------


def _checker(tmp_path: Path, s: str) -> CommandVerifier:
    """First attempt: writes its parent's pid (the Ray worker) and sleeps in a tree; a retry
    (the pid file exists) exits 0 at once."""
    script = (
        'if [ -e "$1.pid" ]; then exit 0; fi; '
        f'echo $PPID > "$1.tmp"; mv "$1.tmp" "$1.pid"; sleep {s} & sleep {s} & wait'
    )
    command = ["sh", "-c", script, "checker", "{file}"]
    rules = [{"exit_code": 0, "outcome": "VERIFIED"}]
    return CommandVerifier(parse_verifier("chk", {"command": command, "rules": rules}))


async def _kill_worker_when_started(marker: Path) -> int:
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the Ray task never started"
        await anyio.sleep(0.02)
    pid = int(marker.read_text())
    assert "ray" in psutil.Process(pid).name().lower() or "ray" in " ".join(
        psutil.Process(pid).cmdline()
    )
    os.kill(pid, signal.SIGKILL)
    return pid


async def test_killed_worker_is_retried_and_recorded(ray_session: object, tmp_path: Path) -> None:
    s = unique_sleep()
    proof = tmp_path / "p.lean"
    proof.write_text("theorem t : True := trivial\n")
    item = CorpusItem("p", "M.p", str(proof), "0" * 64)
    tier = Tier("FAST", 30.0, "chk", grace_s=0.2)
    backend = RayBackend(sample_interval_s=0.05)
    async with (
        scheduler_over({"chk": _checker(tmp_path, s)}, workers=1, backend=backend) as sched,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(_kill_worker_when_started, Path(f"{proof}.pid"))
        record = await sched.run_one(Task(item, tier, "chk"))
    assert record.outcome == Outcome.VERIFIED
    assert "ray_retried" in record.warnings
    assert await gone(s), "the dead worker's checker tree survived"


async def test_worker_death_without_retries_is_a_verifier_error(
    ray_session: object, tmp_path: Path
) -> None:
    s = unique_sleep()
    proof = tmp_path / "q.lean"
    proof.write_text("theorem t : True := trivial\n")
    backend = RayBackend(sample_interval_s=0.05, max_retries=0)
    await backend.start()
    spec = _checker(tmp_path, s).build_spec(
        CorpusItem("q", "M.q", str(proof), "0" * 64), Tier("FAST", 30.0, "chk"), timeout_s=30.0,
        attempt=0,
    )  # fmt: skip
    async with anyio.create_task_group() as tg:
        tg.start_soon(_kill_worker_when_started, Path(f"{proof}.pid"))
        result = await backend.run(spec)
    await backend.aclose()
    assert result.termination is Termination.SPAWN_ERROR
    assert (result.message or "").startswith("ray worker died")
    assert "ray_worker_died" in result.warnings
    assert await gone(s)


def test_ray_failures_map_to_results(ray_session: object) -> None:
    backend = RayBackend()
    backend._ray = ray
    spec = ExecSpec(argv=("x",), timeout_s=1.0)
    exc = ray.exceptions
    cancelled = backend._failure(spec, exc.TaskCancelledError())
    assert cancelled.termination is Termination.CANCELLED  # a timeout, not a crash
    crashed = backend._failure(spec, exc.WorkerCrashedError())
    assert crashed.termination is Termination.SPAWN_ERROR and "ray_worker_died" in crashed.warnings
    oom = backend._failure(spec, exc.OutOfMemoryError("node pressure"))
    assert oom.termination is Termination.MEMORY


# -- the whole pipeline ----------------------------------------------------------------------


def _calibrate(tmp_path: Path, backend: str) -> dict[str, str]:
    out = tmp_path / backend
    config = RunConfig(
        tiers=X4_TIERS,  # outcomes off the clock, whatever the load
        config_path=x4_config(tmp_path),
        n=8,
        export=out / "calibration.yaml",
        corpus="synthetic",
        output_dir=out,
        workers=2,
        seed=7,
        label_sample=0,
        bootstrap=0,
        report=False,
        backend=backend,
    )
    result = anyio.run(run_calibration, config)
    return {r.task_key: r.outcome for r in result.telemetry}


def test_synthetic_run_on_ray_matches_local(ray_session: object, tmp_path: Path) -> None:
    local = _calibrate(tmp_path, "local")
    on_ray = _calibrate(tmp_path, "ray")
    assert set(on_ray) == set(local) and len(local) == 16
    # the simulated checker keeps drawn durations away from the timeouts (its guard band), and
    # the 4x budgets keep a slow start under load inside it: every outcome is deterministic
    assert on_ray == local


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_gives_a_clear_error() -> None:
    with pytest.raises(CalibError, match=r"^--backend ray needs the asyncio backend; ") as e:
        await RayBackend().start()
    assert str(e.value) == TRIO_MESSAGE


async def test_missing_ray_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(CalibError, match=r"^--backend ray needs Ray: pip install"):
        await RayBackend().start()


def test_replicates_and_load_levels_run_on_ray(ray_session: object, tmp_path: Path) -> None:
    """Both experiments on Ray: the level is the number of Ray tasks in flight."""
    out = tmp_path / "stab"
    config = RunConfig(
        tiers=("FAST",),
        n=4,
        export=out / "calibration.yaml",
        corpus="synthetic",
        output_dir=out,
        workers=2,
        seed=7,
        label_sample=0,
        bootstrap=0,
        report=False,
        backend="ray",
        replicates=1,
        replicate_sample=3,
        load_levels=(1, 2),
        load_sample=3,
        load_rounds=2,
    )
    result = anyio.run(run_calibration, config)
    phases = sorted((r.phase, r.load_level) for r in result.stability_runs)
    assert phases == [("load", 1)] * 6 + [("load", 2)] * 6 + [("replicate", None)] * 3
    model = result.export["noise_models"]["fast"]
    assert model["flips"]["items"] == 3 and model["load"]["levels"][1]["level"] == 2
    assert model["load"]["rounds"] == 2 and model["load"]["between_blocks"]["blocks"] == 4


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
async def test_limit_breaches_are_classified_on_ray_as_locally(
    backend: RayBackend, case: str
) -> None:
    from calib_async.backends.local import LocalBackend

    argv, tier, reason, outcome = LIMIT_CASES[case]
    rules = [{"exit_code": 0, "outcome": "VERIFIED"}]
    checker = CommandVerifier(parse_verifier("v", {"command": list(argv), "rules": rules}))
    spec = ExecSpec(argv, tier.timeout_s, allowlisted_env(), limits=limits_for(tier), grace_s=0.2)
    local = LocalBackend()
    await local.start()
    try:
        here = await local.run(spec)
    finally:
        await local.aclose()
    there = await backend.run(spec)
    for result in (here, there):
        assert result.termination.value == reason, result
        assert classify_run(checker, result, tier).outcome == outcome
    assert there.mechanism == here.mechanism
