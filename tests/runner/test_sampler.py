"""sampler.py: tree membership by parent links (setsid included), RSS/VmHWM/CPU, watchdogs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

import calib_async.runner.sampler as sampler_mod
from calib_async.runner.sampler import TreeSampler, parse_stat, parse_vmhwm, read_stat
from helpers import HELPERS


class Tree:
    """A started process tree in its own session; killed and reaped on exit."""

    def __init__(self, script: str) -> None:
        self.mark = f"61.{random.randrange(10**8):08d}"
        self.proc = subprocess.Popen(
            ["sh", "-c", script.replace("MARK", self.mark)], start_new_session=True
        )

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def pids(self) -> list[int]:
        """Live processes whose argv holds the marker (found by a full scan, for checking)."""
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as f:
                        if self.mark.encode() in f.read().split(b"\0"):
                            found.append(int(name))
                except OSError:
                    pass
        return found


def scan_until(s: TreeSampler, cond: object, timeout: float = 5.0) -> None:
    """Scan every 10 ms until ``cond()`` holds (process start-up is not awaitable)."""
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
        s.scan()


def test_members_include_setsid_descendants_and_are_dropped_when_they_exit() -> None:
    s = TreeSampler(interval_s=1)
    with Tree("sleep MARK & setsid sleep MARK & wait") as tree:
        stats = s.register(tree.proc.pid)
        scan_until(s, lambda: len(tree.pids()) == 2 and len(stats.members) == 3 and stats.escaped)
        assert set(stats.members) == {tree.proc.pid, *tree.pids()}
        escaped = [p for p in tree.pids() if read_stat(p)[2] != tree.proc.pid]
        assert stats.escaped == set(escaped) and len(escaped) == 1
        assert stats.processes == 3 and stats.samples >= 1
        os.kill(escaped[0], signal.SIGKILL)
        scan_until(s, lambda: escaped[0] not in stats.members)
        s.unregister(stats)


def test_rss_vmhwm_and_cpu_of_the_tree() -> None:
    s = TreeSampler(interval_s=1)
    script = f"{sys.executable} {HELPERS / 'mem.py'} 120 MARK & {sys.executable} -c 'while 1: pass'"
    with Tree(script + " MARK") as tree:
        stats = s.register(tree.proc.pid)
        scan_until(s, lambda: stats.max_hwm_bytes >= 120 * 2**20 and stats.cpu_ms >= 200)
        assert stats.rss_bytes >= 120 * 2**20  # mem.py holds its block
        assert stats.peak_rss_bytes >= stats.rss_bytes
        s.unregister(stats)


def test_watchdogs_fire_once() -> None:
    s = TreeSampler(interval_s=1)
    calls: list[str] = []
    with Tree(f"{sys.executable} {HELPERS / 'mem.py'} 60 MARK & sleep MARK & wait") as tree:
        stats = s.register(
            tree.proc.pid,
            memory_limit_bytes=50 * 2**20,
            on_breach=lambda t: calls.append("memory"),
            max_processes=2,
            on_process_breach=lambda t: calls.append("processes"),
        )
        scan_until(s, lambda: len(calls) == 2)
        s.scan()
        s.scan()
        assert sorted(calls) == ["memory", "processes"] and stats.breached
        s.unregister(stats)


def test_a_recycled_pid_is_not_kept_as_a_member() -> None:
    s = TreeSampler(interval_s=1)
    with Tree("sleep MARK & wait") as tree:
        stats = s.register(tree.proc.pid)
        scan_until(s, lambda: len(stats.members) == 2 and len(tree.pids()) == 1)
        child = tree.pids()[0]
        stats.members[child] -= 1  # as if another process had held this pid before
        s.scan()
        assert child not in stats.members and child not in s._owner
        s.unregister(stats)


def test_proc_is_listed_only_when_a_pid_was_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    s = TreeSampler(interval_s=1)
    listings = 0
    real_listdir = os.listdir

    def counting_listdir(path: str) -> list[str]:
        nonlocal listings
        listings += path == "/proc"
        return real_listdir(path)

    with Tree("sleep MARK") as tree:
        stats = s.register(tree.proc.pid)
        monkeypatch.setattr(sampler_mod, "_last_pid", lambda: 4242)
        monkeypatch.setattr(sampler_mod.os, "listdir", counting_listdir)
        s.scan()
        s.scan()
        s.scan()
        assert listings == 1 and stats.samples == 3
        s.unregister(stats)


def test_unregister_closes_the_kept_fds() -> None:
    before = len(os.listdir("/proc/self/fd"))
    s = TreeSampler(interval_s=1)
    with Tree("sleep MARK & sleep MARK & wait") as tree:
        stats = s.register(tree.proc.pid)
        scan_until(s, lambda: len(stats.members) == 3)
        assert len(os.listdir("/proc/self/fd")) > before
        s.unregister(stats)
    assert len(os.listdir("/proc/self/fd")) == before


def test_parse_stat_survives_a_comm_with_parentheses_and_spaces(tmp_path: Path) -> None:
    link = tmp_path / "a) (b c"
    link.symlink_to("/bin/sleep")
    proc = subprocess.Popen([str(link), "5"])
    try:
        st = read_stat(proc.pid)
        assert st is not None and st[0] == os.getpid()
        with open(f"/proc/{proc.pid}/stat", "rb") as f:
            assert b"(a) (b c)" in f.read()
    finally:
        proc.kill()
        proc.wait()
    assert parse_stat(b"1 (x) R") is None
    assert parse_vmhwm(b"Name:\tx\nVmHWM:\t    2160 kB\n") == 2160 * 1024
    assert parse_vmhwm(b"Name:\tx\n") == 0


@pytest.mark.anyio
async def test_background_task_samples_under_both_backends(anyio_backend: str) -> None:
    with Tree("sleep MARK") as tree:
        async with TreeSampler(interval_s=0.01) as s:
            stats = s.register(tree.proc.pid)
            with anyio.fail_after(5):
                while stats.samples < 2:
                    await anyio.sleep(0.01)
            s.unregister(stats)
        assert stats.rss_bytes > 0


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^interval_s must be > 0$"):
        TreeSampler(interval_s=0)


def test_children_seen_before_their_root_registered_are_adopted() -> None:
    """Regression: the spawn completes off the loop, so a tick can list a checker's first
    children before its root is registered; they were then never adopted, and a fork bomb
    grew unseen (no watchdog) until its timeout."""
    with Tree("sleep MARK & sleep MARK & wait") as early, Tree("sleep MARK") as other:
        s = TreeSampler(interval_s=10)
        s.register(other.proc.pid)  # some other tree keeps the sampler scanning
        deadline = time.monotonic() + 5
        while len(early.pids()) < 2:  # both sleeps started (not awaitable)
            assert time.monotonic() < deadline
            time.sleep(0.01)
        s.scan()  # lists early's children while their parent is nobody's
        stats = s.register(early.proc.pid)
        s.scan()
        assert set(early.pids()) <= set(stats.members), (early.pids(), stats.members)
        assert stats.processes == 3
