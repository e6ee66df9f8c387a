"""cgroups.py and cgroup_setup.py: per-run memory and pids limits, exact peaks, classification.

On this machine the mechanism is cgroup v1 (memory, pids, cpuacct) with a controller-less
cgroup v2 for kills; where a machine offers delegated cgroup v2 controllers the same tests run
on those. Each test is skipped where no controller is usable; the fallback is tested by forcing
it (``CALIB_ASYNC_LIMITS=rlimit``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from calib_async.runner.cgroup_setup import FORCE_VAR, detect_layout
from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecResult, ExecSpec, Limits, Mechanism, Termination

PY = sys.executable
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
MIB = 2**20
GNU_TIME = "/usr/bin/time"

needs_controllers = pytest.mark.skipif(
    detect_layout().mechanism is Mechanism.RLIMIT, reason="no memory/pids cgroup controller here"
)


def run(spec: ExecSpec, interval: float = 0.05) -> ExecResult:
    async def main() -> ExecResult:
        async with TreeSampler(interval_s=interval) as sampler:
            return await run_process_measured(spec, sampler=sampler)

    return anyio.run(main)


def spec(*argv: str, timeout_s: float = 60.0, **limits: int) -> ExecSpec:
    return ExecSpec(tuple(argv), timeout_s=timeout_s, env=ENV, limits=Limits(**limits))


# A checker that maps a sparse file read-only, touches a few pages, and reports its RSS.
MAP_SPARSE = """
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
total = sum(m[i] for i in range(0, 64 * 2**20, 4096))
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(len(m), rss)
"""


@needs_controllers
def test_a_mapped_but_not_resident_4gb_file_passes_a_1gb_tier(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as f:
        f.truncate(4 * 2**30)
    r = run(spec(PY, "-c", MAP_SPARSE, str(sparse), memory_mb=1024))
    assert r.termination is Termination.EXITED and r.exit_code == 0, r
    size, rss_kb = map(int, r.stdout.split())
    assert size == 4 * 2**30 and rss_kb < 512 * 1024
    assert r.mechanism is not Mechanism.RLIMIT and r.memory_peak_mb < 1024


def test_the_fallback_limits_address_space_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced fallback: RLIMIT_AS is the memory limit again (the mapping fails), and the
    record names the mechanism and the rusage/VmHWM source of its peak."""
    monkeypatch.setenv(FORCE_VAR, "rlimit")
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as f:
        f.truncate(4 * 2**30)
    r = run(spec(PY, "-c", MAP_SPARSE, str(sparse), memory_mb=1024))
    assert r.mechanism is Mechanism.RLIMIT and r.exit_code != 0
    assert r.termination is Termination.MEMORY, r  # "Cannot allocate memory" under a limit
    assert r.memory_peak_source in ("rusage", "vmhwm")
    assert r.cpu_time_source in ("rusage", "cgroup:cpu.stat")  # a controller-less v2 has it
    assert r.processes_peak is None


@needs_controllers
@pytest.mark.skipif(not os.path.exists(GNU_TIME), reason="needs GNU time")
def test_an_allocation_beyond_the_limit_is_a_memory_kill_every_time_with_an_exact_peak() -> None:
    """GNU time is the leader and reports the killed allocator's own maximum RSS (a single
    process); the cgroup's peak of the whole run is within 2 % of it. (No sampler tick during
    the run: a tick would end the run at the OOM kill, GNU time with it, before it reports.)"""
    for _ in range(3):
        argv = (GNU_TIME, "-f", "%M", PY, "-S", "-c", "b = b'x' * (1536 * 2**20)")
        r = run(spec(*argv, memory_mb=1024), interval=60)
        assert r.termination is Termination.MEMORY and "cgroup OOM kill" in (r.message or ""), r
        gnu_mib = int(r.stderr.split()[-1]) / 1024
        assert r.memory_peak_source.startswith("cgroup:memory.")
        assert r.memory_peak_mb == pytest.approx(gnu_mib, rel=0.02), (r.memory_peak_mb, gnu_mib)
        assert 1000 < r.memory_peak_mb <= 1024


@needs_controllers
@pytest.mark.skipif(not os.path.exists(GNU_TIME), reason="needs GNU time")
def test_a_single_process_peak_is_within_2_percent_of_gnu_time() -> None:
    argv = [PY, "-S", "-c", "b = b'x' * (400 * 2**20)"]
    gnu = subprocess.run([GNU_TIME, "-f", "%M", *argv], capture_output=True, check=True)
    gnu_mib = int(gnu.stderr.split()[-1]) / 1024
    r = run(spec(*argv, memory_mb=2048))
    assert r.termination is Termination.EXITED and not r.memory_peak_is_floor, r
    assert r.memory_peak_mb == pytest.approx(gnu_mib, rel=0.02), (r.memory_peak_mb, gnu_mib)


# Four members allocate 40, 80, 120 and 160 MiB, wait until all four hold their memory (a file
# per member as a barrier), report their own resident anonymous memory then, and exit.
MEMBER = """
import os, sys, time
b = b"x" * (int(sys.argv[1]) * 2**20)
open(os.path.join(sys.argv[2], sys.argv[1]), "w").close()
while len(os.listdir(sys.argv[2])) < 4:
    time.sleep(0.01)
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon:")))
time.sleep(0.3)
"""


@needs_controllers
def test_the_peak_of_a_tree_of_four_is_the_sum_of_its_members(tmp_path: Path) -> None:
    script = (
        'for mb in 40 80 120 160; do "$0" -S -c "$1" $mb "$2" & done; wait'
    )
    r = run(spec("sh", "-c", script, PY, MEMBER, str(tmp_path), memory_mb=2048), interval=10)
    assert r.termination is Termination.EXITED and r.exit_code == 0, r
    own = [int(x) / 1024 for x in r.stdout.split()]
    assert len(own) == 4 and sum(own) > 400
    assert r.memory_peak_source.startswith("cgroup:memory.") and not r.memory_peak_is_floor
    # Exact up to what no member reports as its own: page tables, the shell, kernel objects.
    assert sum(own) <= r.memory_peak_mb <= sum(own) * 1.02 + 4, (own, r.memory_peak_mb)
    assert r.processes_peak == 5  # sh and its four children


@needs_controllers
def test_a_fork_bomb_never_exceeds_pids_max() -> None:
    bomb = "b() { b & b & wait; }; b"
    for _ in range(2):
        r = run(spec("sh", "-c", bomb, timeout_s=60, max_processes=32))
        assert r.termination is Termination.PROCESS_LIMIT, r
        assert "(pids.max)" in (r.message or "") and r.processes_peak is not None
        assert r.processes_peak <= 32
        assert r.duration_ms < 30_000, "stopped at the first refused fork, not by the timeout"


@needs_controllers
def test_cpu_of_descendants_nobody_waited_for_is_counted(tmp_path: Path) -> None:
    """An orphaned grandchild burns 0.5 s of CPU; wait4 never sees it, the cgroup does."""
    done = tmp_path / "done"
    loop = "import time\ne = time.process_time() + 0.5\nwhile time.process_time() < e: pass"
    script = '(("$0" -S -c "$1"; touch "$2") &); while [ ! -e "$2" ]; do sleep 0.05; done'
    r = run(spec("sh", "-c", script, PY, loop, str(done)))
    assert r.termination is Termination.EXITED and r.exit_code == 0, r
    assert r.cpu_time_source in ("cgroup:cpuacct.usage", "cgroup:cpu.stat")
    assert r.cpu_time_ms >= 500, r
    assert "cpu_rusage_below_cgroup" in r.warnings


@needs_controllers
def test_pooled_cgroups_are_reused_and_removed() -> None:
    async def main() -> tuple[list[ExecResult], int, list[str]]:
        async with TreeSampler(interval_s=10) as sampler:
            pool = sampler.cgroup_pool
            assert pool is not None
            results = [await run_process_measured(spec("true"), sampler=sampler) for _ in range(20)]
            dirs = [p for cg in pool._free for p in cg.dirs]
            return results, pool._count, dirs

    results, created, dirs = anyio.run(main)
    assert all(r.exit_code == 0 and r.cgroup for r in results)
    assert created <= 3  # reused: nothing of /bin/true stays charged
    assert dirs and not any(os.path.exists(d) for d in dirs)


def test_detection_names_the_command_that_grants_delegation() -> None:
    from calib_async.runner import cgroup_setup

    assert re.search(r"systemd-run --user --scope -p Delegate=yes", cgroup_setup.DELEGATE_HINT)
    assert shutil.which("sh") is not None  # the wrapper needs only a POSIX sh
