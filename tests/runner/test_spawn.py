"""spawn.py: the one spawn path (posix_spawn + setpriv + the sh wrapper) gives the checker its
process: session, limits, cgroups, death signal, fds, signals, environment; under each limit
mechanism (cgroups where usable here, and the forced rlimit fallback)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from calib_async.runner import spawn
from calib_async.runner.cgroup_setup import FORCE_VAR
from calib_async.runner.cgroups import open_pool
from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecResult, ExecSpec, Limits, Termination

SLEEP = shutil.which("sleep") or "/bin/sleep"
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


@pytest.fixture(params=["cgroups", "rlimit"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The limit mechanism: what this machine offers, and the forced fallback."""
    if request.param == "rlimit":
        monkeypatch.setenv(FORCE_VAR, "rlimit")
    yield request.param


def test_no_c_under_src() -> None:
    src = Path(spawn.__file__).parents[2]
    assert not [p for p in src.rglob("*") if p.suffix in (".c", ".h", ".so")]


def _run(s: ExecSpec, cgroups: bool | None = None) -> ExecResult:
    import anyio

    async def main() -> ExecResult:
        async with TreeSampler(interval_s=10, cgroups=cgroups) as sampler:
            return await run_process_measured(s, sampler=sampler)

    return anyio.run(main)


def test_checker_process_is_set_up_the_same_on_both_paths(path: str, tmp_path: Path) -> None:
    lim = Limits(memory_mb=512, max_processes=4000, max_file_mb=3, address_space_mb=600)
    script = (
        "cat /proc/self/limits; grep -E '^Sig(Ign|Blk)' /proc/$$/status; ls /proc/$$/fd;"
        " cut -d' ' -f1,5,6 /proc/$$/stat; pwd; env"
    )
    r = _run(ExecSpec(("sh", "-c", script), timeout_s=20, env=ENV, cwd=str(tmp_path), limits=lim))
    assert r.termination is Termination.EXITED and r.exit_code == 0, r
    out = r.stdout.decode()
    assert re.search(r"Max address space\s+629145600\s+629145600", out), out
    if r.mechanism == "rlimit":  # a pids cgroup counts the run's processes instead
        assert re.search(r"Max processes\s+4000\s+4000", out)
    assert re.search(r"Max file size\s+3145728\s+3145728", out)
    assert re.search(r"Max core file size\s+0\s+0", out)
    ignored = int(re.search(r"SigIgn:\t([0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores both; the spawn resets them
        assert not ignored & (1 << (sig - 1)), out
    # The mask of the checker itself (a shell's own mask changes while it waits for children)
    code = "import signal; print(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))"
    r = _run(ExecSpec((sys.executable, "-c", code), timeout_s=20, env=ENV))
    assert r.stdout == b"[]\n", r
    pid, pgid, sid = re.search(r"^(\d+) (\d+) (\d+)$", out, re.M).groups()  # type: ignore[union-attr]
    assert pid == pgid == sid, out  # leader of a new session
    fds = re.search(r"SigBlk.*?\n((?:\d+\n)+)", out, re.S).group(1).split()  # type: ignore[union-attr]
    assert sorted(fds, key=int)[:3] == ["0", "1", "2"] and len(fds) <= 4, out  # 3 = ls's own dir fd
    assert str(tmp_path) in out.splitlines(), out
    env = dict(line.split("=", 1) for line in out.splitlines() if re.match(r"^[A-Z_]+=", line))
    assert env.get("PATH") == ENV["PATH"] and "HOME" not in env


def test_the_checker_starts_inside_its_cgroups(path: str) -> None:
    pool = open_pool()
    if pool is None:
        pytest.skip("no usable cgroup here")
    pool.close()
    r = _run(ExecSpec(("cat", "/proc/self/cgroup"), timeout_s=20, env=ENV), cgroups=True)
    run = rb"/calib-async-\d+(-\d+)?/run-\d+$"
    if pool.layout.v2 is not None:
        assert re.search(rb"^0::(/.*)?" + run, r.stdout, re.M), r
    for name, parent in (("memory", pool.layout.memory), ("pids", pool.layout.pids)):
        if parent is not None and path == "cgroups":
            assert re.search(rb"^\d+:" + name.encode() + rb":(/.*)?" + run, r.stdout, re.M), r
    assert r.cgroup


def test_checker_dies_with_the_thread_that_spawned_it(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: the kernel kills the leader when its spawning thread ends (in the
    driver that is the process's death: spawn threads never end)."""
    started: list[tuple[spawn.Leader, str, int, int]] = []
    spec = ExecSpec(("sleep", "60"), timeout_s=60, env=ENV)

    def spawn_and_exit() -> None:
        started.append(spawn.start_checker(spec, spawn.RlimitPlan(None, None, None)))
        # setpriv sets the signal only once it runs (until then the watcher covers a driver's
        # death): end the thread after setpriv exec'd sleep.
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{started[0][0].pid}/exe") != os.path.realpath(SLEEP):
            assert time.monotonic() < deadline
            time.sleep(0.005)

    if spawn.SETPRIV is None:
        pytest.skip("no setpriv here: the watcher alone stops checkers of a dead driver")
    t = threading.Thread(target=spawn_and_exit)
    t.start()
    t.join()
    leader, _, r_out, r_err = started[0]
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(leader.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the checker outlived its spawning thread"
            time.sleep(0.01)  # the kill is the kernel's; nothing to await
        _, status, _ = os.wait4(leader.pid, 0)
        assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL
    finally:
        os.close(r_out)
        os.close(r_err)
        if psutil.pid_exists(leader.pid):
            os.kill(leader.pid, signal.SIGKILL)
            os.waitpid(leader.pid, 0)


@pytest.mark.parametrize(
    ("argv", "kw", "message"),
    [
        (("true",), {"cwd": "/nonexistent/dir"}, "cannot start checker"),
        (("true",), {"env": {**ENV, "A=B": "1"}}, "illegal environment variable name"),
        (("true", "a\0b"), {}, "cannot start checker"),
    ],
)
def test_failures_before_the_exec_are_spawn_errors(
    path: str, argv: tuple[str, ...], kw: dict[str, object], message: str
) -> None:
    s = ExecSpec(argv, timeout_s=20, **{"env": ENV, **kw})  # type: ignore[arg-type]
    r = _run(s)
    assert r.termination is Termination.SPAWN_ERROR and message in (r.message or ""), r


def test_a_limit_above_the_hard_limit_is_a_spawn_error(path: str) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may raise any hard limit")
    r = _run(ExecSpec(("true",), timeout_s=20, env=ENV, limits=Limits(max_processes=10**9)))
    assert r.termination is Termination.SPAWN_ERROR, r


def test_a_bad_interpreter_line_names_the_checker(path: str, tmp_path: Path) -> None:
    script = tmp_path / "checker"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    r = _run(ExecSpec((str(script),), timeout_s=20, env=ENV, limits=Limits(memory_mb=512)))
    assert r.termination is Termination.SPAWN_ERROR
    assert (r.message or "").startswith(f"cannot start checker {str(script)!r}: ")


def _mixed_runs(n: int) -> list[ExecResult]:
    """n runs at concurrency 4 on one cgroup pool; every other one leaves a background child
    behind, which the sweep kills through its cgroup's cgroup.kill."""
    import anyio

    async def main() -> list[ExecResult]:
        results: list[ExecResult] = []
        async with TreeSampler(interval_s=10, cgroups=True) as sampler:
            if sampler.cgroup_pool is None:
                pytest.skip("no usable cgroup here")
            limiter = anyio.CapacityLimiter(4)

            async def one(i: int) -> None:
                argv = ("sh", "-c", "sleep 5 & exit 0") if i % 2 else ("true",)
                async with limiter:
                    spec = ExecSpec(argv, timeout_s=20, env=ENV, grace_s=0.1)
                    results.append(await run_process_measured(spec, sampler=sampler))

            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(one, i)
        return results

    return anyio.run(main)


def test_runs_after_a_cgroup_kill_start_normally(path: str) -> None:
    """Regression: on Linux 6.18 a child cloned into a cgroup that once had a cgroup.kill was
    SIGKILLed on entry. Killed cgroups are retired, and the exit codes are the checkers' own."""
    results = _mixed_runs(40)
    assert all(r.termination is Termination.EXITED and r.exit_code == 0 for r in results), [
        (r.termination, r.signal) for r in results if r.exit_code != 0
    ]


def test_fds_the_driver_inherited_do_not_reach_the_checker(tmp_path: Path) -> None:
    """posix_spawn closes nothing itself: an fd the driver got from its parent (a job server's,
    a shell's ``3>file``) must not reach the checker."""
    code = (
        "import anyio, os, sys\n"
        "from calib_async.runner.measured import run_process_measured\n"
        "from calib_async.runner.spec import ExecSpec\n"
        "assert os.get_inheritable(int(sys.argv[1]))\n"
        "spec = ExecSpec(('sh', '-c', 'ls /proc/$$/fd'), timeout_s=20,"
        " env={'PATH': '/usr/bin:/bin'})\n"
        "print(anyio.run(run_process_measured, spec).stdout.decode().split())\n"
    )
    with open(tmp_path / "held", "w") as f:
        fd = os.dup(f.fileno())  # inheritable, as a parent shell's would be
        try:
            out = subprocess.run(
                [sys.executable, "-c", code, str(fd)],
                pass_fds=(fd,),
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            os.close(fd)
    assert out.returncode == 0, out.stderr
    listed = sorted(int(x) for x in out.stdout.strip().strip("[]").replace("'", "").split(", "))
    assert fd not in listed and listed[:3] == [0, 1, 2] and len(listed) <= 4, out.stdout
