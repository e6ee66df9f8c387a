"""spawn.py's out-of-band status: a spawn error is what the wrapper's status pipe (or the
driver's own posix_spawn) says, never the checker's output or exit code; a script without
``#!`` is a spawn error on every variant of the one spawn path; a fork the driver is refused is
the driver's failure (``driver_spawn_failed``), excluded from rates."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from calib_async.runner import spawn
from calib_async.runner.cgroup_setup import FORCE_VAR
from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecResult, ExecSpec, Limits, Termination
from helpers import make_record

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
# Each limit set takes another variant of the one path: setpriv (+ the wrapper where setpriv is
# installed), the wrapper for an rlimit, the wrapper joining cgroups.
VARIANTS = {"no-limit": Limits(), "rlimit": Limits(max_file_mb=5), "memory": Limits(memory_mb=512)}


def _run(s: ExecSpec, cgroups: bool | None = None) -> ExecResult:
    async def main() -> ExecResult:
        async with TreeSampler(interval_s=10, cgroups=cgroups) as sampler:
            return await run_process_measured(s, sampler=sampler)

    return anyio.run(main)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("code", [125, 126, 127])
@pytest.mark.parametrize("text", ["setpriv: failed to execute x", "calib-async-wrapper: cannot x"])
def test_a_checker_printing_helper_errors_is_its_own_verdict(
    variant: str, code: int, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if variant == "rlimit":
        monkeypatch.setenv(FORCE_VAR, "rlimit")
    script = f'echo "{text}" >&2; echo "{text}"; exit {code}'
    r = _run(ExecSpec(("sh", "-c", script), 20, ENV, limits=VARIANTS[variant]))
    assert r.termination is Termination.EXITED and r.exit_code == code, r
    assert r.stderr.startswith(text.encode()) and r.message is None


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("setpriv", [True, False])
def test_a_script_without_shebang_is_a_spawn_error_on_every_variant(
    variant: str, setpriv: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not setpriv:
        monkeypatch.setattr(spawn, "_DEATHSIG", [])
    script = tmp_path / "checker"
    script.write_text("echo ran under a shell\nexit 0\n")
    script.chmod(0o755)
    r = _run(ExecSpec((str(script),), 20, ENV, limits=VARIANTS[variant]))
    assert r.termination is Termination.SPAWN_ERROR, r
    assert "neither a binary nor a script with a '#!' line" in (r.message or ""), r
    assert r.stdout == b""  # never run under a shell


def test_the_wrappers_own_failure_is_read_from_its_status_pipe(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-cgroup" / "cgroup.procs")
    leader, _, r_out, r_err = spawn.start_checker(
        ExecSpec(("true",), 20, ENV), spawn.RlimitPlan(None, None, None), [missing]
    )
    try:
        _, status, _ = os.wait4(leader.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 125
        why = spawn.read_status(leader)
        assert why is not None and why.startswith("calib-async-wrapper: cannot join cgroup"), why
        assert leader.status_fd == -1  # closed
    finally:
        os.close(r_out)
        os.close(r_err)


def test_an_exec_that_fails_after_the_wrapper_is_a_spawn_error(tmp_path: Path) -> None:
    script = tmp_path / "checker"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    r = _run(ExecSpec((str(script),), 20, ENV, limits=Limits(max_file_mb=5)))
    assert r.termination is Termination.SPAWN_ERROR
    assert "calib-async-wrapper: cannot exec" in (r.message or ""), r


def test_a_fork_the_driver_is_refused_is_the_drivers_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(spawn.os, "posix_spawn", refused)
    r = _run(ExecSpec(("true",), 20, ENV))
    assert r.termination is Termination.SPAWN_ERROR
    assert r.warnings == (spawn.DRIVER_FAILED,)
    assert (r.message or "").startswith("the driver could not fork to start checker"), r


def test_runs_the_driver_could_not_start_are_not_counted_in_rates() -> None:
    from calib_async.stats.record_arrays import to_columns

    records = [
        make_record(f"M.{i}", outcome="VERIFIER_ERROR", warnings=[spawn.DRIVER_FAILED])
        for i in range(3)
    ] + [make_record("M.ok")]
    cols = to_columns(records, [], ["FAST"])
    assert len(cols.runs["FAST"].outcome) == 1


NOBODY = 65534
_OUT_OF_PROCESSES = """
import json, resource, sys, anyio
from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecSpec
spec = ExecSpec(("true",), 20, {"PATH": "/usr/bin:/bin"})
async def main():
    async with TreeSampler(interval_s=10, cgroups=False) as sampler:
        first = await run_process_measured(spec, sampler=sampler)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))  # this user has more tasks already
        second = await run_process_measured(spec, sampler=sampler)
    return [(r.termination.value, list(r.warnings), r.message) for r in (first, second)]
print(json.dumps(anyio.run(main)))
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to run the driver as an unprivileged user (setpriv --reuid)",
)
def test_a_non_root_driver_out_of_processes_records_a_driver_failure(tmp_path: Path) -> None:
    src = Path(spawn.__file__).parents[2]
    proc = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         sys.executable, "-c", _OUT_OF_PROCESSES],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**ENV, "PYTHONPATH": str(src), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout)
    assert first[0] == "exited"
    assert second[0] == "spawn_error" and second[1] == [spawn.DRIVER_FAILED], second
    assert "the driver could not fork" in second[2]
