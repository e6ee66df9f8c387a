"""What to run and what came back: the contract between verifiers, process.py and backends.

``ExecSpec`` is built by a verifier profile; ``run_process_measured`` (process.py) turns it into an
``ExecResult``. Both are plain frozen data so that a backend (Ray) can ship them between hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from calib_async.records import Termination

__all__ = ["ExecResult", "ExecSpec", "Limits", "Termination"]


class Mechanism(StrEnum):
    """How a run's memory and process limits were enforced and measured (see cgroups.py)."""

    CGROUP2 = "cgroup2"  # delegated cgroup v2: memory.max, pids.max, memory.peak, cpu.stat
    CGROUP1 = "cgroup1"  # cgroup v1 memory, pids and cpuacct hierarchies
    RLIMIT = "rlimit"  # no controller: RLIMIT_AS/NPROC plus the sampler's watchdogs


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-run resource limits. ``None`` means unlimited.

    ``memory_mb`` is the run's memory: the cgroup's memory limit (resident memory and page
    cache, swap 0) where a memory controller is usable, else RLIMIT_AS plus the RSS watchdog.
    ``address_space_mb`` sets RLIMIT_AS under every mechanism (opt-in);
    ``fallback_address_space_mb`` is RLIMIT_AS only without a memory cgroup (default:
    ``memory_mb``). ``max_processes`` is ``pids.max``, or RLIMIT_NPROC plus a watchdog.
    """

    memory_mb: int | None = None
    max_processes: int | None = None
    max_file_mb: int | None = None  # RLIMIT_FSIZE
    output_cap_bytes: int = 64 * 1024  # head and tail kept per stream (each)
    address_space_mb: int | None = None
    fallback_address_space_mb: int | None = None


@dataclass(frozen=True, slots=True)
class ExecSpec:
    """One process to run. ``argv[0]`` is resolved on PATH from ``env['PATH']``."""

    argv: tuple[str, ...]
    timeout_s: float
    env: Mapping[str, str] = field(default_factory=dict)  # the full, already allowlisted env
    cwd: str | None = None
    limits: Limits = field(default_factory=Limits)
    grace_s: float = 1.0  # SIGTERM -> SIGKILL grace period
    sample_interval_s: float = 0.2
    workdir: str | None = None  # created empty before the run, removed after (runner/workdir.py)


@dataclass(frozen=True, slots=True)
class ExecResult:
    """A finished (always reaped) process with its measurements."""

    argv: tuple[str, ...]
    termination: Termination
    exit_code: int | None  # None when killed by a signal or never started
    signal: int | None  # the signal that ended the leader, if any
    duration_ms: float  # monotonic wall time from spawn to reap
    cpu_time_ms: float  # see cpu_time_source
    memory_peak_mb: float
    memory_peak_source: str  # "rusage", "vmhwm", "cgroup:memory.peak", ... (process.py)
    memory_peak_is_floor: bool  # True when the figure may be the spawning parent's floor
    memory_final_mb: float  # last sampled RSS of the tree (0 if never sampled)
    stdout: bytes  # head + marker + tail when capped
    stderr: bytes
    stdout_bytes: int  # total bytes written, including what was dropped
    stderr_bytes: int
    message: str | None = None  # human-readable note (spawn error text, kill details)
    cgroup: bool = False  # whether a per-run cgroup was used
    warnings: tuple[str, ...] = ()  # measurement-hygiene flags
    mechanism: Mechanism = Mechanism.RLIMIT  # how the limits were enforced and measured
    cpu_time_source: str = "rusage"  # "rusage" (wait4), "cgroup:cpu.stat", "cgroup:cpuacct.usage"
    processes_peak: int | None = None  # the cgroup's pids.peak (None: not measured)

    @property
    def output_text(self) -> str:
        """stdout then stderr, decoded leniently (invalid UTF-8 is replaced)."""
        return (self.stdout + b"\n" + self.stderr).decode("utf-8", errors="replace")
