"""How a checker process is started: argv resolution, limits, the spawn itself.

**Native spawn** (the C extension :mod:`calib_async.runner._spawn`, built at install when a C
compiler is there): ``vfork`` from a spawn thread; the child, before it execs the checker, starts a
new session, sets ``PR_SET_PDEATHSIG`` (SIGKILL when the spawning thread's process dies, even by
kill -9), RLIMIT_CORE=0 and the limits (RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE), is in the run's
cgroup from its first instruction (``clone3`` with ``CLONE_INTO_CGROUP`` on x86-64; else it writes
itself into ``cgroup.procs``, which costs an RCU grace period), redirects stdin from /dev/null and
stdout/stderr to two new pipes, changes to ``cwd``, and execs ``argv`` with ``env`` exactly as
given (``argv[0]`` resolved on ``env['PATH']`` and replaced by its absolute path). No helper
process: ``scripts/bench_spawn.py`` measures it against the fallback below.

**Fallback** (no extension): ``subprocess.Popen`` (``start_new_session``; without
``preexec_fn`` CPython spawns with ``vfork``) of a tiny fixed ``dash`` script that sets the
limits, joins the cgroup and ``exec``s the checker (same pid; argv passed as ``"$@"``, never
interpolated), itself started through util-linux ``setpriv --pdeathsig KILL``: two extra execs
per run. Without dash it uses ``preexec_fn`` (correct, forces ``fork``: much slower). setpriv
sets the death signal only once it runs: a driver killed in that window leaves the checker to
the run-token watcher (leftovers.py). The native child closes the window (it checks its parent
after setting the signal).
``resource.prlimit(pid)`` right after the spawn would be racy (the checker already runs and may
have allocated or forked), so neither path uses it. RLIMIT_NPROC counts all processes of the real
user and is ignored for root; process.py adds a per-tree watchdog.

Both paths report a step that fails before the checker runs as :class:`SpawnError` (the
fallback's wrapper prints ``calib-async-wrapper: ...`` and exits 125-127, which
:func:`wrapper_failure` recognises), so it becomes Termination.SPAWN_ERROR.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

import structlog

from calib_async.runner.cgroups import WRAPPER_SHELL, RunCgroup
from calib_async.runner.leftovers import TOKEN_VAR, current_token
from calib_async.runner.spec import ExecSpec, Limits

log = structlog.get_logger(__name__)

try:
    from calib_async.runner import _spawn as _native
except ImportError:  # installed without a C compiler: the fallback path
    _native = None

MIB = 2**20
DASH = WRAPPER_SHELL
_WRAPPER_NAME = "calib-async-wrapper"
_WRAPPER = (  # $1..$4: AS KiB, NPROC, FSIZE 512-byte blocks, cgroup dir ("-" = unset); then argv
    'f() { echo "calib-async-wrapper: cannot $1" >&2; exit 125; }'
    '; ulimit -c 0 || f "set RLIMIT_CORE"'
    '; [ "$1" = - ] || ulimit -v "$1" || f "set RLIMIT_AS"'
    '; [ "$2" = - ] || ulimit -p "$2" || f "set RLIMIT_NPROC"'
    '; [ "$3" = - ] || ulimit -f "$3" || f "set RLIMIT_FSIZE"'
    '; [ "$4" = - ] || echo $$ > "$4/cgroup.procs" || f "join cgroup $4"'
    '; shift 4; exec "$@"'
)
#: PR_SET_PDEATHSIG for the leader (util-linux ``setpriv``): the kernel SIGKILLs the checker when
#: the driver dies, even by kill -9. One extra exec: measured in scripts/bench_spawn.py.
SETPRIV = shutil.which("setpriv")
_DEATHSIG = [SETPRIV, "--pdeathsig", "KILL", "--"] if SETPRIV else []
_exe_cache: dict[tuple[str, str], str] = {}
_devnull: int | None = None


class SpawnError(Exception):
    """The checker could not be started; the message says why and what to do."""


def _resolve(argv0: str, env_path: str, cwd: str | None) -> str:
    """Absolute path of an executable regular file, or SpawnError with what to do."""
    if "/" not in argv0:
        cached = _exe_cache.get((argv0, env_path))
        if cached is not None and (_native is not None or os.access(cached, os.X_OK)):
            return cached  # gone since: the native exec fails with a clear SpawnError
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


def _limit_args(limits: Limits, cgroup_dir: str | None) -> list[str] | None:
    """The wrapper's four positional parameters, or None when no wrapper is needed."""
    a = [
        str(limits.memory_mb * 1024) if limits.memory_mb else "-",
        str(limits.max_processes) if limits.max_processes else "-",
        str(limits.max_file_mb * 2048) if limits.max_file_mb else "-",
        cgroup_dir or "-",
    ]
    return None if a == ["-"] * 4 else a


def _preexec(limits: Limits, cgroup_dir: str | None) -> None:  # fallback when dash is missing
    r = resource
    r.setrlimit(r.RLIMIT_CORE, (0, 0))
    for lim, n in ((r.RLIMIT_AS, limits.memory_mb), (r.RLIMIT_FSIZE, limits.max_file_mb)):
        if n:
            r.setrlimit(lim, (n * MIB, n * MIB))
    if limits.max_processes:
        r.setrlimit(r.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    if cgroup_dir:
        with open(f"{cgroup_dir}/cgroup.procs", "w") as f:
            f.write("0")


def _once_per_driver() -> int:
    global _devnull
    if _devnull is None:
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        if soft != 0:  # inherited by every child spawned without the wrapper
            resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
            log.info("driver soft RLIMIT_CORE set to 0 so that checkers dump no core")
        _devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull


def wrapper_failure(exit_code: int, stderr: bytes) -> str | None:
    """The wrapper's own error (a limit it could not set, an exec that failed), or None."""
    if exit_code in (125, 126, 127) and stderr.startswith(
        (_WRAPPER_NAME.encode() + b":", b"setpriv:")
    ):
        return stderr.decode(errors="replace").strip()
    return None


@dataclass(slots=True, eq=False)
class Leader:
    """The started checker's leader: its pid, and its exit code once the runner reaped it;
    ``pidfd`` when the spawn already opened one (the caller owns it)."""

    pid: int
    returncode: int | None = None
    pidfd: int | None = None


def native_spawn_available() -> bool:
    """Whether checkers start through the C extension (no helper exec per run)."""
    return _native is not None


def _env_bytes(env: dict[str, str]) -> list[bytes]:
    out = []
    for k, v in env.items():
        if not k or "=" in k:
            raise SpawnError(f"illegal environment variable name {k!r}: fix the profile's env")
        out.append(os.fsencode(k) + b"=" + os.fsencode(v))
    return out


def _rlimits(limits: Limits) -> list[tuple[int, int, int]]:
    r = resource
    out = [(r.RLIMIT_CORE, 0, 0)]
    for lim, n in ((r.RLIMIT_AS, limits.memory_mb), (r.RLIMIT_FSIZE, limits.max_file_mb)):
        if n:
            out.append((lim, n * MIB, n * MIB))
    if limits.max_processes:
        out.append((r.RLIMIT_NPROC, limits.max_processes, limits.max_processes))
    return out


def _native_error(exe: str, e: OSError | ValueError) -> SpawnError:
    if isinstance(e, ValueError):  # a null byte in argv, env or cwd
        return SpawnError(f"cannot start checker {exe!r}: {e}")
    why = os.strerror(e.errno) if e.errno else "unknown error"
    return SpawnError(f"cannot start checker {exe!r}: {e.strerror}: {why}")


def _native_args(
    spec: ExecSpec, exe: str, env: dict[str, str], cgroup: RunCgroup | None
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The native calls' arguments before and after the ones that differ between them:
    (argv, envp, cwd) and (rlimits, cgroup.procs fd, cgroup dir fd, death signal)."""
    argv = [os.fsencode(exe), *map(os.fsencode, spec.argv[1:])]
    procs, cg_dir = (cgroup.files.procs, cgroup.files.dir) if cgroup is not None else (-1, -1)
    return (argv, _env_bytes(env), spec.cwd), (_rlimits(spec.limits), procs, cg_dir, signal.SIGKILL)


def _spawn_native(
    spec: ExecSpec, exe: str, env: dict[str, str], cgroup: RunCgroup | None, fds: tuple[int, ...]
) -> Leader:
    assert _native is not None
    try:
        head, tail = _native_args(spec, exe, env, cgroup)
        pid = _native.spawn(exe, *head, *fds, *tail)
    except (OSError, ValueError) as e:
        raise _native_error(exe, e) from None
    return Leader(pid)


def _spawn_popen(
    spec: ExecSpec, exe: str, env: dict[str, str], cgroup: RunCgroup | None, fds: tuple[int, ...]
) -> Leader:
    cgroup_dir = cgroup.path if cgroup is not None else None
    args, preexec = [exe, *spec.argv[1:]], None
    wrap = _limit_args(spec.limits, cgroup_dir)
    if wrap is not None and DASH is not None:
        args = [DASH, "-c", _WRAPPER, _WRAPPER_NAME, *wrap, *args]
    elif wrap is not None:
        preexec = lambda: _preexec(spec.limits, cgroup_dir)  # noqa: E731
    try:
        proc = subprocess.Popen(
            [*_DEATHSIG, *args],
            stdin=fds[0],
            stdout=fds[1],
            stderr=fds[2],
            env=env,
            cwd=spec.cwd,
            start_new_session=True,
            preexec_fn=preexec,
        )
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        raise SpawnError(f"cannot start checker {exe!r}: {e}") from None
    proc.returncode = 0  # inert: the runner reaps the pid itself (os.wait4), never Popen
    return Leader(proc.pid)


def _prepare(spec: ExecSpec) -> tuple[int, str, dict[str, str]]:
    """(/dev/null fd, resolved argv[0], env with the run token) or SpawnError."""
    if not spec.argv:
        raise SpawnError("empty argv: the profile's command is empty")
    devnull = _once_per_driver()
    exe = _resolve(spec.argv[0], spec.env.get("PATH", os.defpath), spec.cwd)
    token = current_token()  # inherited by every descendant: the watcher finds leftovers by it
    env = spec.env if token is None else {**spec.env, TOKEN_VAR: token}
    return devnull, exe, env


def submit_native(
    spec: ExecSpec, cgroup: RunCgroup | None, workdir: str | None, efd: int
) -> tuple[str, Any]:
    """Hand the whole spawn (``workdir`` if not None, pipes, checker, pidfd) to a native spawn
    thread, which writes ``efd`` when done: (resolved argv[0], the ``_spawn.Spawn`` handle).
    Raises SpawnError for what fails before the hand-over."""
    assert _native is not None
    devnull, exe, env = _prepare(spec)
    try:
        head, tail = _native_args(spec, exe, env, cgroup)
        return exe, _native.submit(exe, *head, workdir, devnull, *tail, efd)
    except (OSError, ValueError) as e:
        raise _native_error(exe, e) from None


def native_result(exe: str, job: Any) -> tuple[Leader, int, int]:
    """(leader with its pidfd, stdout fd, stderr fd) of a finished :func:`submit_native`;
    SpawnError if it failed (then nothing is left to reap)."""
    try:
        pid, pidfd, r_out, r_err = job.result()
    except OSError as e:
        raise _native_error(exe, e) from None
    return Leader(pid, pidfd=pidfd), r_out, r_err


MKDIR_STEP = "cannot create the run's working directory"  # the native spawn's step name


def start_checker(spec: ExecSpec, cgroup: RunCgroup | None) -> tuple[Leader, str, int, int]:
    """Spawn ``spec`` (limits applied, in ``cgroup`` if given): (leader, resolved argv[0],
    stdout read fd, stderr read fd). Raises SpawnError. The caller owns the fds and must reap
    the leader itself (``os.wait4``) and then set ``Leader.returncode``."""
    devnull, exe, env = _prepare(spec)
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
    spawn = _spawn_native if _native is not None else _spawn_popen
    try:
        leader = spawn(spec, exe, env, cgroup, (devnull, w_out, w_err))
    except SpawnError:
        os.close(r_out)
        os.close(r_err)
        raise
    finally:
        os.close(w_out)
        os.close(w_err)
    return leader, exe, r_out, r_err
