"""Running many ``python -m calib_async`` subprocesses for tests/test_bad_inputs.py: a few at a
time, a job may wait for another, each with its own directory, stdout/stderr files, environment
and optional RLIMIT_FSIZE / RLIMIT_NOFILE; waits on pidfds (no polling), each job up to its own
deadline, after which it counts as a hang and is killed; records each job's wall and CPU time."""

from __future__ import annotations

import os
import resource
import select
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.cli import CLI

PARALLEL = 4
DEADLINE_S = 240.0


@dataclass
class Done:
    returncode: int | None  # None: still running at the deadline (a hang), killed
    stdout: str
    stderr: str
    dir: Path
    daemons_left: int = 0  # detached daemons found alive after the run (then killed)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # user + system CPU of the CLI and the children it reaped


@dataclass
class Job:
    id: str
    dir: Path
    args: list[str]
    env: dict[str, str]
    fsize: int | None = None
    nofile: int | None = None  # RLIMIT_NOFILE (soft and hard) of the CLI
    after: str | None = None
    prepare: Callable[[], None] | None = None
    proc: subprocess.Popen[bytes] | None = None
    pidfd: int = -1
    t0: float = 0.0


def _start(job: Job) -> None:
    if job.prepare is not None:
        job.prepare()
    fsize, nofile = job.fsize, job.nofile

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with open(job.dir / "stdout", "wb") as out, open(job.dir / "stderr", "wb") as err:
        job.proc = subprocess.Popen(
            [*CLI, *job.args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=job.env,
            cwd=job.dir,
            preexec_fn=limit if fsize is not None or nofile is not None else None,
        )
    job.pidfd = os.pidfd_open(job.proc.pid)
    job.t0 = time.monotonic()


def run_jobs(jobs: list[Job]) -> dict[str, Done]:
    """Run jobs PARALLEL at a time (a job with ``after`` waits for that job); no polling sleeps.

    Each job has its own deadline, DEADLINE_S after it started (a job still running then is a
    hang and is killed): a long queue on a loaded machine never turns the last jobs into hangs.
    """
    pending, running, done = list(jobs), [], {}
    while pending or running:
        for job in list(pending):
            if len(running) >= PARALLEL:
                break
            if job.after is None or job.after in done:
                pending.remove(job)
                _start(job)
                running.append(job)
        ready: list[int] = []
        if running:
            left = min(j.t0 + DEADLINE_S for j in running) - time.monotonic()
            ready, _, _ = select.select([j.pidfd for j in running], [], [], max(0.0, left))
        now = time.monotonic()
        hung = [j for j in running if j.pidfd not in ready and now >= j.t0 + DEADLINE_S]
        for job in hung:
            assert job.proc is not None
            job.proc.kill()
        for job in [j for j in running if j.pidfd in ready or j in hung]:
            assert job.proc is not None
            _, status, usage = os.wait4(job.proc.pid, 0)  # CPU time: a bound load cannot break
            code = os.waitstatus_to_exitcode(status)
            job.proc.returncode = code
            os.close(job.pidfd)
            running.remove(job)
            done[job.id] = Done(
                returncode=None if job in hung else code,
                stdout=(job.dir / "stdout").read_text(errors="replace"),
                stderr=(job.dir / "stderr").read_text(errors="replace"),
                dir=job.dir,
                elapsed_s=time.monotonic() - job.t0,
                cpu_s=usage.ru_utime + usage.ru_stime,
            )
        if not running and pending and all(j.after not in done for j in pending):
            for job in pending:  # their prerequisite never ran
                done[job.id] = Done(None, "", f"prerequisite {job.after} missing", job.dir)
            pending = []
    return done
