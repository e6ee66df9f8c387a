"""``--sandbox bwrap``: run every checker inside a bubblewrap sandbox.

Proof attempts written by a model are untrusted code: Lean runs ``#eval``, ``run_cmd`` and IO
while it elaborates. With ``--sandbox bwrap`` each checker run becomes
``bwrap <flags> -- <the profile's argv>``;
:func:`calib_async.checkers.sandboxed.sandboxed_verifiers` wraps every profile so
that its :class:`~calib_async.runner.spec.ExecSpec` is rewritten, and classification is the wrapped
profile's (a failure of bwrap itself is VERIFIER_ERROR). Everything else (limits, cgroup,
timeouts, measurement) is unchanged: process.py runs ``bwrap`` as the leader of the tree.

What a sandboxed checker sees:

* the whole file system **read-only** (``--ro-bind / /``), with a fresh ``/dev`` and ``/proc``;
* the run's **private working directory** (``ExecSpec.workdir``, ``{workdir}`` in profiles)
  bound **writable** at its own path, with ``TMPDIR`` pointing there; the runner creates it
  empty before the run and removes it after;
* a **private, writable, empty ``/tmp``** (a tmpfs of at most ``max_file_mb`` of the tier, or
  1024 MiB; ``TMPDIR=/tmp`` for a spec without a workdir); it vanishes when the run ends;
* an empty ``/run`` (hides the host's Unix sockets there: D-Bus, Docker, ...);
* the **output directory hidden** (an empty read-only tmpfs over ``--output-dir``: the telemetry
  log, other proof attempts, the synthetic manifest), except the files the run needs;
* the files the run needs, read-only at their own paths even where they would be hidden: the
  item's file, every absolute path on the command line that exists, the executable, the ``cwd``;
* **no network**: a new network namespace with only loopback (``--unshare-net``), plus new PID,
  IPC and UTS namespaces; ``--new-session`` (no controlling terminal), ``--die-with-parent``
  (the sandbox dies with the driver);
* as root, **no capabilities** (``--cap-drop ALL``; otherwise root could remount ``/`` writable);
* the environment of the profile (the allowlist), unchanged except ``TMPDIR``.

What it protects against: writes outside ``/tmp`` (corrupting the workspace, the toolchain, the
telemetry log, other attempts), reading the output directory (the synthetic corpus's latent
truth, other attempts), network access (exfiltration, downloads), signalling or ptrace-ing host
processes (PID namespace), checkers that outlive the driver. Resource exhaustion is handled by
the per-tier limits (memory, processes, file size, output cap), not by the sandbox.

What it does **not** protect against: reading any other file the driver's user can read
(secrets in ``$HOME`` included; only the network is gone to send them anywhere, but the tail of
the checker's output is recorded in the log); kernel exploits (bwrap is namespaces, not a VM; no
seccomp filter is installed); Unix sockets outside ``/run``; filling the private ``/tmp`` or
``/dev/shm`` up to their size (they are memory); a proof that *fools the checker* (that is what
the calibration measures).

Differences in what is recorded: bwrap reports a checker killed by signal N as exit status 128+N,
so the record has ``exit_code`` 128+N and no ``signal``. Classification reads a status 128+N
as a death by signal N with *and* without the sandbox
(:func:`calib_async.checkers.oneshot.as_signal_death`), so one status means one outcome both ways:
a checker that really exits with 129..192 is taken for a signal death, and 137 for the OOM
killer's SIGKILL, as a shell wrapper's status would be. The
SIGTERM of the timeout ladder ends bwrap, which SIGKILLs the sandbox at once: there is no grace
period inside. Each run costs a few milliseconds more (namespaces and mounts).

Requirements: the ``bwrap`` executable (Debian/Ubuntu: ``apt-get install bubblewrap``) and
permission to create namespaces (root, or unprivileged user namespaces enabled). Both are
checked once, when the sandbox is set up, by running ``bwrap <flags> -- true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace

import structlog

from calib_async.errors import CalibError
from calib_async.records import CorpusItem
from calib_async.runner.sandbox_inputs import private_input_dir
from calib_async.runner.spec import ExecResult, ExecSpec

log = structlog.get_logger(__name__)

SANDBOXES = ("none", "bwrap")
INSTALL_HINT = "apt-get install bubblewrap"
DEFAULT_TMP_MB = 1024
_HIDDEN = ("/tmp", "/run")  # replaced by empty tmpfs mounts
_FAILURE_PREFIX = b"bwrap: "


@dataclass(frozen=True, slots=True)
class Bwrap:
    """A bwrap executable that was probed and works here."""

    path: str
    size_option: bool  # whether ``--size`` (tmpfs size) is supported (bwrap >= 0.5)
    drop_caps: bool  # running as root: drop every capability inside


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _base_flags(bwrap: Bwrap) -> list[str]:
    flags = [
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/run",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--new-session", "--die-with-parent",
    ]  # fmt: skip
    if bwrap.drop_caps:
        flags += ["--cap-drop", "ALL"]
    return flags


def find_bwrap() -> Bwrap:
    """Locate bwrap and check that it can create a sandbox here; CalibError otherwise."""
    path = shutil.which("bwrap")
    if path is None:
        raise CalibError(
            f"--sandbox bwrap needs bubblewrap, which is not installed: {INSTALL_HINT} "
            "(or run with --sandbox none)"
        )
    true = shutil.which("true") or "/bin/true"
    drop = os.geteuid() == 0
    for size in (True, False):
        bwrap = Bwrap(os.path.abspath(path), size, drop)
        tmp = ["--size", str(2**20), "--tmpfs", "/tmp"] if size else ["--tmpfs", "/tmp"]
        argv = [bwrap.path, *_base_flags(bwrap), *tmp, "--", true]
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            raise CalibError(f"--sandbox bwrap: cannot run {path}: {exc}") from None
        if proc.returncode == 0:
            log.info("sandbox.bwrap_usable", bwrap=bwrap.path, tmpfs_size=size, cap_drop=drop)
            return bwrap
        err = proc.stderr.decode(errors="replace").strip()
        if size and "--size" in err:
            continue  # old bwrap: retry without a size for /tmp
        why = err.splitlines()[0] if err else f"exit status {proc.returncode}"
        raise CalibError(
            f"--sandbox bwrap: bubblewrap cannot create a sandbox here ({why}); enable "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            "user.max_user_namespaces > 0) or run with --sandbox none"
        )
    raise AssertionError("unreachable")


def _needed_paths(spec: ExecSpec, item: CorpusItem | None, exe: str, cwd: str) -> list[str]:
    """Absolute paths the run must see: the item, existing absolute argv paths, exe, cwd."""
    out: list[str] = []
    candidates = [a for a in spec.argv if a.startswith("/")]
    if item is not None:
        candidates.append(item.path)
    candidates += [exe, cwd]
    for c in candidates:
        for p in {os.path.normpath(c), os.path.realpath(c)}:
            if p not in out and os.path.exists(p):
                out.append(p)
    return out


def sandbox_spec(
    spec: ExecSpec,
    bwrap: Bwrap,
    *,
    item: CorpusItem | None = None,
    hide: Iterable[str] = (),
) -> ExecSpec:
    """``spec`` run inside bwrap. ``hide``: directories to cover with an empty tmpfs.

    A checker whose executable cannot be found is returned unchanged, so that the runner reports
    its usual spawn error instead of a bwrap message.
    """
    if not spec.argv:
        return spec
    argv0 = spec.argv[0]
    if "/" in argv0:
        exe: str | None = os.path.join(spec.cwd or os.getcwd(), argv0)
    else:
        exe = shutil.which(argv0, path=spec.env.get("PATH", os.defpath))
    if exe is None or not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        return spec
    exe = os.path.abspath(exe)
    cwd = os.path.abspath(spec.cwd) if spec.cwd else os.getcwd()
    needed = _needed_paths(spec, item, exe, cwd)
    keep_out = [exe, os.path.realpath(exe), os.path.realpath(sys.prefix), os.path.realpath(cwd)]
    extra = []
    for raw in hide:
        d = os.path.realpath(raw)
        if d == "/" or any(_inside(k, d) for k in keep_out):
            log.debug("sandbox.not_hiding", dir=d, reason="it holds the checker or its cwd")
        else:
            extra.append(d)
    roots = [*_HIDDEN, *extra]
    needed = [p for p in needed if p not in roots and p != "/"]
    flags = [*_base_flags(bwrap), *_tmp_size(bwrap, spec), "--tmpfs", "/tmp"]
    # Mount order matters: re-expose what /tmp and /run cover, then hide the extra directories
    # (even inside a re-exposed cwd), then re-expose what the run needs from those.
    for p in needed:
        if any(_inside(p, d) for d in _HIDDEN) and not any(_inside(p, d) for d in extra):
            flags += ["--ro-bind", p, p]
    for d in extra:
        flags += ["--tmpfs", d]
    for p in needed:
        if any(_inside(p, d) for d in extra):
            flags += ["--ro-bind", p, p]
    for d in extra:
        flags += ["--remount-ro", d]
    if item is not None:
        keep = [os.path.realpath(sys.prefix), *_HIDDEN]
        size = _tmp_size(bwrap, spec)
        flags += private_input_dir(
            item.path, needed, hidden=extra, keep=keep, size=size, workdir=spec.workdir
        )
    tmpdir = "/tmp"
    if spec.workdir is not None:  # the run's private directory is its writable place
        flags += ["--bind", spec.workdir, spec.workdir]
        tmpdir = spec.workdir
    flags += ["--chdir", cwd]
    env = {**spec.env, "TMPDIR": tmpdir}
    return replace(spec, argv=(bwrap.path, *flags, "--", exe, *spec.argv[1:]), env=env)


def _tmp_size(bwrap: Bwrap, spec: ExecSpec) -> list[str]:
    """The ``--size`` of a tmpfs the checker writes (the tier's file size limit), if supported."""
    if not bwrap.size_option:
        return []
    return ["--size", str((spec.limits.max_file_mb or DEFAULT_TMP_MB) * 2**20)]


def sandbox_failure(result: ExecResult) -> str | None:
    """bwrap's own error line when the sandbox could not be set up or exec the checker."""
    if result.exit_code == 1 and result.stderr.startswith(_FAILURE_PREFIX):
        return result.stderr.split(b"\n", 1)[0].decode(errors="replace")
    return None


__all__ = [
    "SANDBOXES",
    "Bwrap",
    "find_bwrap",
    "sandbox_failure",
    "sandbox_spec",
]
