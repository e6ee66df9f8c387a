"""How a checker process is started: argv resolution, limits, the spawn itself.

**Spawning.** ``subprocess.Popen`` from the argv (``argv[0]`` resolved on ``env['PATH']`` and
replaced by its absolute path), in a new session (``start_new_session``), stdin from /dev/null,
stdout/stderr to two new pipes, ``env`` exactly as given, ``cwd`` as given. Without
``preexec_fn`` CPython spawns with ``vfork``, which is what makes ~1000 runs/s possible.

**Limits** (RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE, and joining a cgroup) are applied by a tiny
fixed ``dash`` script that sets them and ``exec``s the checker (same pid; argv passed as ``"$@"``,
never interpolated). ``scripts/bench_spawn.py``, sequential /bin/true on our loaded 2-core
machine, runs/s relative to plain vfork (3 runs of the script): dash wrapper 0.90-0.93 (+4-7% parent
CPU), ``prlimit`` binary 0.50-0.59 (it loads libsmartcols), ``preexec_fn`` 0.23-0.45 with a small
parent and 0.04-0.21 with 300 MiB of parent RSS (it forces fork, which copies page tables: parent
CPU per spawn x5-x6, and x23-x36 with the ballast).
``resource.prlimit(pid)`` right after spawn costs nothing but is racy: Popen returns only after
the exec, so the checker already runs and may have allocated or forked (children keep the old
limits) before the call. Without dash we fall back to ``preexec_fn`` (correct, slower).
RLIMIT_CORE=0 needs no wrapper: the driver lowers its own *soft* core limit to 0 once (children
inherit it); the wrapper, when used, also sets the hard limit to 0. So a run without limits
(and without a cgroup) takes the plain vfork path. RLIMIT_NPROC counts all processes of the real
user and is ignored for root; process.py adds a per-tree watchdog.

The wrapper's own failures (a limit above the hard limit, an exec that fails) print
``calib-async-wrapper: ...`` and exit 125-127; :func:`wrapper_failure` recognises them so that
they become Termination.SPAWN_ERROR like Popen's own exec errors.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess

import structlog

from calib_async.runner.cgroups import WRAPPER_SHELL
from calib_async.runner.leftovers import TOKEN_VAR, current_token
from calib_async.runner.spec import ExecSpec, Limits

log = structlog.get_logger(__name__)

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


def start_checker(
    spec: ExecSpec, cgroup_dir: str | None
) -> tuple[subprocess.Popen[bytes], str, int, int]:
    """Spawn ``spec`` (limits applied, in ``cgroup_dir`` if given): (Popen, resolved argv[0],
    stdout read fd, stderr read fd). Raises SpawnError. The caller owns the fds and must reap
    the process itself (``os.wait4``) and then set ``Popen.returncode``."""
    if not spec.argv:
        raise SpawnError("empty argv: the profile's command is empty")
    devnull = _once_per_driver()
    exe = _resolve(spec.argv[0], spec.env.get("PATH", os.defpath), spec.cwd)
    args, preexec = [exe, *spec.argv[1:]], None
    wrap = _limit_args(spec.limits, cgroup_dir)
    if wrap is not None and DASH is not None:
        args = [DASH, "-c", _WRAPPER, _WRAPPER_NAME, *wrap, *args]
    elif wrap is not None:
        preexec = lambda: _preexec(spec.limits, cgroup_dir)  # noqa: E731
    args = [*_DEATHSIG, *args]  # type: ignore[list-item]
    token = current_token()  # inherited by every descendant: the watcher finds leftovers by it
    env = spec.env if token is None else {**spec.env, TOKEN_VAR: token}
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
    try:
        proc = subprocess.Popen(
            args,
            stdin=devnull,
            stdout=w_out,
            stderr=w_err,
            env=env,
            cwd=spec.cwd,
            start_new_session=True,
            preexec_fn=preexec,
        )
    except (OSError, subprocess.SubprocessError) as e:
        os.close(r_out)
        os.close(r_err)
        raise SpawnError(f"cannot start checker {exe!r}: {e}") from None
    finally:
        os.close(w_out)
        os.close(w_err)
    return proc, exe, r_out, r_err
