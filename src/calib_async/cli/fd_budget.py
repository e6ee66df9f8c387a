"""File descriptors: enough for every worker, or a one-line refusal before anything runs.

Each running checker holds about 14 descriptors in the driver (its cgroup's five files, two
output pipes, a pidfd, an epoll object, the spawn's eventfd, and short-lived ones while it is
spawned and sampled): measured as the driver's peak ``/proc/<pid>/fd`` count with 1, 10 and 20
workers running ``sleep 3`` checkers (26, 151, 292 descriptors). Running out mid-run turned into
tracebacks and false VERIFIER_ERRORs, so at start the soft limit is raised to the hard one, and
a ``--workers`` (the peak concurrency; load levels never exceed it) the limit cannot serve is
refused, naming the largest one it can.
"""

from __future__ import annotations

import contextlib
import resource

#: Descriptors one running checker needs in the driver (14 measured, with a margin).
FDS_PER_WORKER = 16
#: Descriptors the driver needs besides its checkers (12 measured: log, stdio, imports, ...).
FDS_BASE = 32


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard one (bounded by the kernel's nr_open); return
    (soft, hard) afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if target == resource.RLIM_INFINITY:
        target = 1 << 20
        with contextlib.suppress(OSError, ValueError), open("/proc/sys/fs/nr_open") as fh:
            target = int(fh.read())
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def fd_budget_problem(workers: int) -> str | None:
    """Why ``workers`` checkers at once cannot run under this process's descriptor limit, or
    None. Raises the soft limit first (see :func:`raise_fd_limit`)."""
    soft, hard = raise_fd_limit()
    if soft == resource.RLIM_INFINITY:
        return None
    need = FDS_BASE + FDS_PER_WORKER * workers
    if need <= soft:
        return None
    most = max(0, (soft - FDS_BASE) // FDS_PER_WORKER)
    fix = f"lower --workers to {most}" if most >= 1 else "raise the limit"
    return (
        f"--workers {workers} needs about {need} open files ({FDS_PER_WORKER} per running "
        f"checker), above this process's limit of {soft} (hard limit {hard}; see ulimit -n): "
        f"{fix}, or raise the hard limit (ulimit -Hn, limits.conf)"
    )
