"""How a checker process is started: argv resolution, limits, the spawn itself. One path, Python.

``os.posix_spawn`` (glibc spawns with ``clone(CLONE_VM | CLONE_VFORK)``: no page-table copy,
whatever the driver's size) from a long-lived spawn thread
(:mod:`calib_async.runner.spawn_thread`): a new session (``setsid``), stdin from /dev/null,
stdout/stderr to two new pipes, SIGPIPE and SIGXFSZ back to their defaults, an empty signal
mask, and the environment exactly as given (the profile's allowlist plus the run token).
``argv[0]`` is resolved on ``env['PATH']`` and replaced by its absolute path. No other fd
reaches the checker: every fd the driver opens is close-on-exec (Python's default), and the
fds the driver inherited from its own parent are made so once, at the first spawn
(:func:`_once_per_driver`). Before the checker's own code runs:

* ``setpriv --pdeathsig KILL`` (util-linux), where it is installed: PR_SET_PDEATHSIG, so the
  kernel SIGKILLs the leader when its spawning thread dies (spawn threads live as long as the
  driver: the driver's death, even by kill -9). Where setpriv is missing, and in the window
  before it runs, the run-token watcher and the cgroup kill of :mod:`calib_async.runner.leftovers`
  still stop the tree when the driver dies.
* a fixed POSIX ``sh`` script (:data:`SHELL`: dash when installed, it starts fastest; else
  ``/bin/sh``): RLIMIT_CORE 0, the opt-in RLIMIT_AS, RLIMIT_NPROC (only without a pids cgroup),
  RLIMIT_FSIZE; it writes its pid into each of the run's ``cgroup.procs`` files (so no descendant
  can be forked outside them), enters the working directory (``posix_spawn`` has no ``cwd``) and
  ``exec``s the checker: the same pid, argv passed as ``"$@"``, never interpolated. A run with no
  limit, no cgroup and no working directory skips it.

Why helper execs rather than code between fork and exec: Python in a forked child of a driver
that has threads can hang on a lock another thread held at the fork, and ``fork()`` costs
page-table copies that grow with the driver's RSS (``scripts/bench_spawn.py`` measures it).
``resource.prlimit(pid)`` right after the spawn would be racy (the checker already runs and may
have allocated or forked). The helper execs cost the checker about a millisecond of its own CPU
(measured by ``scripts/bench_spawn.py``) and the driver nothing. Why ``posix_spawn`` rather than
``subprocess.Popen``: the same ``vfork``, without Popen's Python-level bookkeeping, which cost
about 0.1 ms of driver CPU per run (``scripts/bench_scheduler.py``). RLIMIT_NPROC counts every
process of the real user (and is ignored for root), so the fallback also has a per-tree watchdog
(process.py); the pids cgroup counts the run's only.

A step that fails before the checker runs is reported as :class:`SpawnError`: an exec that fails
raises in ``posix_spawn`` itself; the wrapper prints ``calib-async-wrapper: ...`` and exits
125-127, which :func:`wrapper_failure` recognises; so it becomes Termination.SPAWN_ERROR.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import structlog

from calib_async.runner.leftovers import TOKEN_VAR, current_token
from calib_async.runner.spec import ExecSpec, Limits

log = structlog.get_logger(__name__)

MIB = 2**20
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
#: The wrapper's shell: any POSIX sh (dash starts fastest).
SHELL = shutil.which("dash", path=_SYSTEM_PATH) or shutil.which("sh", path=_SYSTEM_PATH)
_WRAPPER_NAME = "calib-async-wrapper"
_WRAPPER = (  # $1..$5: AS KiB, NPROC, FSIZE 512-byte blocks ("-" = unset), ulimit's NPROC flag,
    # the working directory ("-": the driver's); then the cgroup.procs files to join, "--", argv
    'f() { echo "calib-async-wrapper: cannot $1" >&2; exit 125; }'
    '; ulimit -c 0 || f "set RLIMIT_CORE"'
    '; [ "$1" = - ] || ulimit -v "$1" || f "set RLIMIT_AS"'
    '; [ "$2" = - ] || ulimit "$4" "$2" || f "set RLIMIT_NPROC"'
    '; [ "$3" = - ] || ulimit -f "$3" || f "set RLIMIT_FSIZE"'
    '; [ "$5" = - ] || cd -- "$5" || f "enter the working directory $5"'
    "; shift 5"
    '; while [ "$1" != -- ]; do echo $$ > "$1" || f "join cgroup ${1%/*}"; shift; done'
    '; shift; exec "$@"'
)
#: PR_SET_PDEATHSIG for the leader (util-linux ``setpriv``), where installed.
SETPRIV = shutil.which("setpriv", path=_SYSTEM_PATH)
_DEATHSIG = [SETPRIV, "--pdeathsig", "KILL", "--"] if SETPRIV else []
#: Dispositions the driver may ignore, back to the default in the checker (as Popen's
#: ``restore_signals``): an ignored signal stays ignored across exec.
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_exe_cache: dict[tuple[str, str], str] = {}
_devnull: int | None = None


class SpawnError(Exception):
    """The checker could not be started; the message says why and what to do."""


@dataclass(slots=True, eq=False)
class Leader:
    """The started checker's leader: its pid, and its exit code once the runner reaped it."""

    pid: int
    returncode: int | None = None


@dataclass(frozen=True, slots=True)
class RlimitPlan:
    """The rlimits a run gets, in bytes (None: not set). Decided by the limit mechanism:
    RLIMIT_NPROC only where no pids cgroup counts the run's processes."""

    address_space: int | None
    processes: int | None
    file_size: int | None


def rlimit_plan(limits: Limits, *, memory_cgroup: bool, pids_cgroup: bool) -> RlimitPlan:
    """RLIMIT_AS is ``address_space_mb`` when set; without a memory cgroup it falls back to
    ``fallback_address_space_mb``, then to ``memory_mb`` (the RSS watchdog enforces the latter)."""
    as_mb = limits.address_space_mb
    if as_mb is None and not memory_cgroup:
        as_mb = limits.fallback_address_space_mb or limits.memory_mb
    nproc = None if pids_cgroup else limits.max_processes
    fsize = limits.max_file_mb * MIB if limits.max_file_mb else None
    return RlimitPlan(as_mb * MIB if as_mb else None, nproc, fsize)


def _resolve(argv0: str, env_path: str, cwd: str | None) -> str:
    """Absolute path of an executable regular file, or SpawnError with what to do."""
    if "/" not in argv0:
        cached = _exe_cache.get((argv0, env_path))
        if cached is not None and os.access(cached, os.X_OK):
            return cached
        found = shutil.which(argv0, path=env_path)
        if found is None:
            raise SpawnError(
                f"checker {argv0!r} not found on PATH={env_path!r}: install it, or put its"
                " absolute path in the profile's command"
            )
        _exe_cache[(argv0, env_path)] = found = os.path.abspath(found)
        return found
    path = argv0 if argv0.startswith("/") else os.path.join(cwd or os.getcwd(), argv0)
    if os.access(path, os.X_OK) and not os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise SpawnError(f"checker {path!r} does not exist: fix the profile's command")
    raise SpawnError(f"checker {path!r} is not executable: chmod +x it or fix the command")


@cache
def _nproc_flag(shell: str) -> str:
    """The shell's ``ulimit`` option for RLIMIT_NPROC: ``-p`` in dash and busybox, ``-u`` in
    bash and most others. Probed once by comparing what each prints with our own limit."""
    soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    want = "unlimited" if soft == resource.RLIM_INFINITY else str(soft)
    for flag in ("-u", "-p"):
        try:
            out = subprocess.run(
                [shell, "-c", f"ulimit {flag}"], capture_output=True, timeout=10, env={}
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if out.strip() == want.encode():
            return flag
    log.warning("cannot tell the shell's ulimit option for RLIMIT_NPROC", shell=shell)
    return "-u"


def wrapper_args(
    plan: RlimitPlan, cgroup_procs: Sequence[str], cwd: str | None = None
) -> list[str] | None:
    """The wrapper's arguments before argv, or None when no wrapper is needed."""
    if plan == RlimitPlan(None, None, None) and not cgroup_procs and cwd is None:
        return None
    if SHELL is None:
        raise SpawnError("no POSIX shell in /usr/bin or /bin: install dash or sh")
    nproc = "-" if plan.processes is None else str(plan.processes)
    return [
        SHELL, "-c", _WRAPPER, _WRAPPER_NAME,
        "-" if plan.address_space is None else str(plan.address_space // 1024),
        nproc,
        "-" if plan.file_size is None else str(plan.file_size // 512),
        "-u" if plan.processes is None else _nproc_flag(SHELL),
        "-" if cwd is None else cwd,
        *cgroup_procs, "--",
    ]  # fmt: skip


def _once_per_driver() -> int:
    global _devnull
    if _devnull is None:
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        if soft != 0:  # inherited by every child, the wrapper sets it again
            resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
            log.info("driver soft RLIMIT_CORE set to 0 so that checkers dump no core")
        _devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        _no_inherited_fds()
    return _devnull


def _no_inherited_fds() -> None:
    """Make the fds above 2 that the driver inherited from its parent (a job server's, a
    shell's ``3>file``) close-on-exec: ``posix_spawn`` closes nothing by itself, and Python
    opens every fd of its own close-on-exec."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    os.set_inheritable(fd, False)
            except OSError:
                continue  # the listing's own fd, closed by now


def wrapper_failure(exit_code: int, stderr: bytes) -> str | None:
    """The wrapper's own error (a limit it could not set, an exec that failed), or None."""
    if exit_code in (125, 126, 127) and stderr.startswith(
        (_WRAPPER_NAME.encode() + b":", b"setpriv:")
    ):
        return stderr.decode(errors="replace").strip()
    return None


def _check_env(env: dict[str, str]) -> None:
    for k in env:
        if not k or "=" in k:
            raise SpawnError(f"illegal environment variable name {k!r}: fix the profile's env")


def start_checker(
    spec: ExecSpec, plan: RlimitPlan, cgroup_procs: Sequence[str] = ()
) -> tuple[Leader, str, int, int]:
    """Spawn ``spec`` with the rlimits of ``plan``, joining each of ``cgroup_procs`` (paths of
    ``cgroup.procs`` files) before the exec: (leader, resolved argv[0], stdout read fd, stderr
    read fd). Raises SpawnError. The caller owns the fds and must reap the leader itself
    (``os.wait4``) and then set ``Leader.returncode``."""
    if not spec.argv:
        raise SpawnError("empty argv: the profile's command is empty")
    devnull = _once_per_driver()
    exe = _resolve(spec.argv[0], spec.env.get("PATH", os.defpath), spec.cwd)
    token = current_token()  # inherited by every descendant: the watcher finds leftovers by it
    env = dict(spec.env) if token is None else {**spec.env, TOKEN_VAR: token}
    _check_env(env)
    wrap = wrapper_args(plan, cgroup_procs, spec.cwd) or []
    try:
        r_out, w_out = os.pipe2(os.O_CLOEXEC)
    except OSError as e:
        raise SpawnError(f"cannot start checker {exe!r}: {e}") from None
    try:
        r_err, w_err = os.pipe2(os.O_CLOEXEC)
    except OSError as e:
        os.close(r_out)
        os.close(w_out)
        raise SpawnError(f"cannot start checker {exe!r}: {e}") from None
    argv = [*_DEATHSIG, *wrap, exe, *spec.argv[1:]]
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, w_out, 1),
                (os.POSIX_SPAWN_DUP2, w_err, 2),
            ],
            setsid=True,
            setsigdef=_DEFAULT_SIGNALS,
        )
    except (OSError, ValueError) as e:
        os.close(r_out)
        os.close(r_err)
        raise SpawnError(f"cannot start checker {exe!r}: {e}") from None
    finally:
        os.close(w_out)
        os.close(w_err)
    return Leader(pid), exe, r_out, r_err
