"""Spawn micro-benchmark: the ways to start a checker with resource limits, side by side.

Each alternative spawns ``/bin/true`` (own session, stdin from /dev/null, stdout/stderr to
pipes, allowlisted env) and reaps it with ``os.wait4``; rounds are interleaved and the median of
the rounds is printed, as runs/s, parent CPU µs per spawn and total CPU (parent + child) µs per
spawn, with ratios to the plain vfork path. The same is repeated with the parent holding extra
RSS, because ``fork()`` (forced by ``preexec_fn``) copies page tables and gets slower as the
parent grows, while ``vfork()`` does not.

Alternatives:
  plain          Popen, no limits (vfork path): the floor.
  preexec_fn     Popen(preexec_fn=setrlimit...): forces fork().
  prlimit-bin    Popen(["prlimit", "--as=..", "--core=0", "--", argv...]): one extra exec.
  sh-ulimit      Popen(["/bin/sh", "-c", 'ulimit -v ..; exec "$@"', ...]): one extra exec.
  prlimit(pid)   Popen then resource.prlimit(pid, ...): fast but racy (see process.py).
  dash-wrapper   a dash wrapper (ulimit, then exec), without setpriv.
  setpriv        Popen(["setpriv", "--pdeathsig", "KILL", "--", argv...]): PR_SET_PDEATHSIG.
  setpriv+dash   setpriv in front of the dash wrapper: a run with limits that dies with us.
  runner         calib_async.runner.spawn.start_checker: setpriv + the sh wrapper (RLIMIT_AS,
                 RLIMIT_CORE), what a run with a memory limit and no cgroup costs.

Then the full ``run_process_measured`` path (pidfd + epoll + wait4, shared TreeSampler at 0.2 s)
at concurrency 8, 2000 runs of /bin/true, under asyncio and trio, without limits, with a memory
limit (the sh wrapper), and with per-run cgroups when usable; against ``xargs -P 8``.

Usage: python scripts/bench_spawn.py [--runs 400] [--rounds 3] [--ballast-mb 300] [--e2e 2000]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable

import anyio
import structlog

from calib_async.runner import spawn
from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecSpec, Limits

AS_BYTES = 4 * 1024**3
TRUE = shutil.which("true") or "/bin/true"
PRLIMIT = shutil.which("prlimit")
SETPRIV = shutil.which("setpriv")
DASH = shutil.which("dash")
WRAP = 'ulimit -v "$1" -c 0 || exit 125; shift; exec "$@"'
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _setlimits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_BYTES, AS_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _spawn(argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
    r1, w1 = os.pipe2(os.O_CLOEXEC)
    r2, w2 = os.pipe2(os.O_CLOEXEC)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=w1,
            stderr=w2,
            env=ENV,
            start_new_session=True,
            **kw,  # type: ignore[arg-type]
        )
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


def plain() -> subprocess.Popen[bytes]:
    return _spawn([TRUE])


def preexec() -> subprocess.Popen[bytes]:
    return _spawn([TRUE], preexec_fn=_setlimits)


def prlimit_bin() -> subprocess.Popen[bytes]:
    assert PRLIMIT is not None
    return _spawn([PRLIMIT, f"--as={AS_BYTES}", "--core=0", "--", TRUE])


def sh_ulimit() -> subprocess.Popen[bytes]:
    script = 'ulimit -v "$1" -c 0 || exit 127; shift; exec "$@"'
    return _spawn(["/bin/sh", "-c", script, "sh", str(AS_BYTES // 1024), TRUE])


def dash_wrapper() -> subprocess.Popen[bytes]:
    assert DASH is not None
    return _spawn([DASH, "-c", WRAP, "w", str(AS_BYTES // 1024), TRUE])


def setpriv() -> subprocess.Popen[bytes]:
    assert SETPRIV is not None
    return _spawn([SETPRIV, "--pdeathsig", "KILL", "--", TRUE])


def setpriv_dash() -> subprocess.Popen[bytes]:
    assert SETPRIV is not None and DASH is not None
    return _spawn(
        [SETPRIV, "--pdeathsig", "KILL", "--", DASH, "-c", WRAP, "w", str(AS_BYTES // 1024), TRUE]
    )


class _Started:
    """Popen's shape (pid, returncode) for the runner's own spawn."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None


def runner() -> _Started:
    """The runner's spawn path as a run with a memory limit and no cgroup uses it: setpriv, the
    sh wrapper (RLIMIT_AS), exec."""
    plan = spawn.RlimitPlan(AS_BYTES, None, None)
    leader, _, r_out, r_err = spawn.start_checker(ExecSpec((TRUE,), 10.0, ENV), plan)
    os.close(r_out)
    os.close(r_err)
    return _Started(leader.pid)


def prlimit_pid() -> subprocess.Popen[bytes]:
    p = _spawn([TRUE])
    resource.prlimit(p.pid, resource.RLIMIT_AS, (AS_BYTES, AS_BYTES))  # racy: child already runs
    resource.prlimit(p.pid, resource.RLIMIT_CORE, (0, 0))
    return p


def _measure(fn: Callable[[], subprocess.Popen[bytes]], runs: int) -> tuple[float, float, float]:
    """(runs/s, parent CPU µs per spawn, parent+children CPU µs per spawn), sequential."""
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for _ in range(runs):
        p = fn()
        _, status, _ = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    parent = (s1.ru_utime + s1.ru_stime) - (s0.ru_utime + s0.ru_stime)
    child = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    return runs / wall, parent / runs * 1e6, (parent + child) / runs * 1e6


def _table(alts: dict[str, Callable[[], subprocess.Popen[bytes]]], runs: int, rounds: int) -> None:
    results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in alts}
    for _ in range(rounds):
        for name, fn in alts.items():  # interleaved: each round runs every alternative once
            results[name].append(_measure(fn, runs))
    base = [statistics.median(x[i] for x in results["plain"]) for i in range(3)]
    print(
        f"  {'alternative':<13} {'runs/s':>8} {'ratio':>6} {'parent µs':>10} {'ratio':>6}"
        f" {'total µs':>9} {'ratio':>6}"
    )
    for name, rows in results.items():
        med = [statistics.median(x[i] for x in rows) for i in range(3)]
        print(
            f"  {name:<13} {med[0]:8.0f} {med[0] / base[0]:6.2f} {med[1]:10.0f}"
            f" {med[1] / base[1]:6.2f} {med[2]:9.0f} {med[2] / base[2]:6.2f}"
        )


async def _e2e_once(n: int, limits: Limits, cgroups: bool) -> tuple[float, float]:
    """(runs/s, driver CPU µs per run) for n runs at concurrency 8 through run_process_measured."""
    spec = ExecSpec((TRUE,), timeout_s=10, env=ENV, limits=limits)
    limiter = anyio.CapacityLimiter(8)
    c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()

    async with TreeSampler(interval_s=0.2, cgroups=cgroups) as sampler:
        if cgroups and sampler.cgroup_pool is None:
            return float("nan"), float("nan")

        async def one() -> None:
            async with limiter:
                r = await run_process_measured(spec, sampler=sampler)
                assert r.exit_code == 0, r

        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
    wall, c1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    return n / wall, cpu / n * 1e6


def _xargs(n: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(["xargs", "-P", "8", "-n", "1", TRUE], input=b"x\n" * n, check=True, env=ENV)
    return n / (time.perf_counter() - t0)


def _e2e(n: int, rounds: int) -> None:
    cases = {
        "no limits": (Limits(), False),
        "memory_mb=4096": (Limits(memory_mb=4096), False),
        "cgroup": (Limits(), True),
        "cgroup+memory": (Limits(memory_mb=4096), True),
    }
    res: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):  # interleaved
        res.setdefault("xargs -P 8", []).append((_xargs(n), float("nan")))
        for backend in ("asyncio", "trio"):
            for name, (limits, cg) in cases.items():
                key = f"{backend:<7} {name}"
                res.setdefault(key, []).append(anyio.run(_e2e_once, n, limits, cg, backend=backend))
    base = statistics.median(x[0] for x in res["xargs -P 8"])
    print(f"\nfull path, {n} runs of {TRUE} at concurrency 8, median of {rounds}")
    print(f"  {'runner':<30} {'runs/s':>8} {'vs xargs':>9} {'driver CPU µs/run':>18}")
    for key, rows in res.items():
        rate = statistics.median(x[0] for x in rows)
        cpu = statistics.median(x[1] for x in rows)
        print(f"  {key:<30} {rate:8.0f} {rate / base:9.2f} {cpu:18.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ballast-mb", type=int, default=300)
    ap.add_argument("--e2e", type=int, default=2000, help="runs for the full-path part (0: skip)")
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    alts: dict[str, Callable[[], subprocess.Popen[bytes]]] = {
        "plain": plain,
        "preexec_fn": preexec,
        "sh-ulimit": sh_ulimit,
        "prlimit(pid)": prlimit_pid,
    }
    if PRLIMIT:
        alts["prlimit-bin"] = prlimit_bin
    if DASH:
        alts["dash-wrapper"] = dash_wrapper
    if SETPRIV:
        alts["setpriv"] = setpriv
    if SETPRIV and DASH:
        alts["setpriv+dash"] = setpriv_dash
    alts["runner"] = runner  # type: ignore[assignment]
    print(f"sequential spawn+wait4 of {TRUE}, {args.runs} runs x {args.rounds} rounds, median")
    print("parent RSS: small (as the driver, numpy not imported)")
    _table(alts, args.runs, args.rounds)
    ballast = bytearray(os.urandom(1024)) * (args.ballast_mb * 1024)  # touched pages
    print(f"parent RSS: +{args.ballast_mb} MiB ballast (fork copies its page tables)")
    _table(alts, args.runs, args.rounds)
    del ballast
    if args.e2e:
        _e2e(args.e2e, args.rounds)


if __name__ == "__main__":
    main()
