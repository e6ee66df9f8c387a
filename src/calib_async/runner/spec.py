"""What to run and what came back: the contract between verifiers, process.py and backends.

``ExecSpec`` is built by a verifier profile; ``run_process_measured`` (process.py) turns it into an
``ExecResult``. Both are plain frozen data so that a backend (Ray) can ship them between hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from calib_async.records import Termination

__all__ = ["ExecResult", "ExecSpec", "Limits", "Termination"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-run resource limits. ``None`` means unlimited."""

    memory_mb: int | None = None  # RLIMIT_AS, and the RSS watchdog
    max_processes: int | None = None  # RLIMIT_NPROC (per real uid; see README)
    max_file_mb: int | None = None  # RLIMIT_FSIZE
    output_cap_bytes: int = 64 * 1024  # head and tail kept per stream (each)


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
    cpu_time_ms: float  # user + sys of the leader and its waited-for descendants (wait4)
    memory_peak_mb: float
    memory_peak_source: str  # "rusage", "sampled_vmhwm", "cgroup", ...
    memory_peak_is_floor: bool  # True when the figure may be the spawning parent's floor
    memory_final_mb: float  # last sampled RSS of the tree (0 if never sampled)
    stdout: bytes  # head + marker + tail when capped
    stderr: bytes
    stdout_bytes: int  # total bytes written, including what was dropped
    stderr_bytes: int
    message: str | None = None  # human-readable note (spawn error text, kill details)
    cgroup: bool = False  # whether a per-run cgroup was used
    warnings: tuple[str, ...] = ()  # measurement-hygiene flags

    @property
    def output_text(self) -> str:
        """stdout then stderr, decoded leniently (invalid UTF-8 is replaced)."""
        return (self.stdout + b"\n" + self.stderr).decode("utf-8", errors="replace")
