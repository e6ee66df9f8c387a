"""--sandbox bwrap: a proof attempt that opens a network connection or writes outside its temp dir
fails in the sandbox and succeeds without it; the sandbox keeps limits, timeouts and cleanup."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import psutil
import pytest
import yaml

from calib_async.checkers.command.profile import CommandVerifier
from calib_async.checkers.oneshot import allowlisted_env, classify_run
from calib_async.checkers.sandboxed import SandboxedVerifier, sandboxed_verifiers
from calib_async.config.schema import Rule, VerifierConfig
from calib_async.errors import CalibError
from calib_async.records import CorpusItem, Outcome, Task, TelemetryRecord, Tier
from calib_async.runner.sandbox import Bwrap, find_bwrap, sandbox_spec
from calib_async.runner.spec import ExecResult, ExecSpec, Termination
from helpers import file_item, run_env
from helpers.limit_cases import LIMIT_CASES
from helpers.scheduling import scheduler_over


def _usable() -> Bwrap | None:
    try:
        return find_bwrap()
    except CalibError:
        return None


BWRAP = _usable()
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason="bwrap missing or cannot create namespaces")
TIER = Tier("T", timeout_s=20, verifier="v", grace_s=0.2)


def make_item(path: Path, text: str = "theorem t : True := trivial\n") -> CorpusItem:
    return file_item(path, text)


def command(*argv: str, env: dict[str, str] | None = None, cwd: str | None = None):
    return CommandVerifier(
        VerifierConfig(
            name="v",
            command=tuple(argv),
            env=env or {},
            cwd=cwd,
            rules=(Rule(Outcome.VERIFIED, exit_codes=(0,)),),
        )
    )


async def run(v: object, item: CorpusItem, tier: Tier = TIER) -> TelemetryRecord:
    async with scheduler_over({"v": v}, workers=1) as scheduler:  # type: ignore[dict-item]
        return await scheduler.run_one(Task(item, tier, "v"))


# -- set-up errors (no bwrap needed) ----------------------------------------------------------


def test_missing_bwrap_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CalibError, match=r"apt-get install bubblewrap"):
        sandboxed_verifiers({}, "bwrap", work_dir=tmp_path)


def test_bwrap_that_cannot_create_namespaces_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(CalibError, match=r"^--sandbox bwrap: bubblewrap cannot create a sandbox"):
        find_bwrap()


def test_sandbox_none_leaves_profiles_alone(tmp_path: Path) -> None:
    v = command("true")
    assert sandboxed_verifiers({"v": v}, "none", work_dir=tmp_path) == {"v": v}


def test_unknown_sandbox_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalibError, match=r"^unknown sandbox 'docker'"):
        sandboxed_verifiers({}, "docker", work_dir=tmp_path)


# -- the bwrap command line (pure) ------------------------------------------------------------

FAKE = Bwrap("/usr/bin/bwrap", size_option=True, drop_caps=True)


def test_spec_wraps_the_argv_and_keeps_everything_else(tmp_path: Path) -> None:
    item = make_item(tmp_path / "work" / "p.lean")
    spec = ExecSpec(argv=("sh", "-c", "exit 0", "x", item.path), timeout_s=3, env=allowlisted_env())
    wrapped = sandbox_spec(spec, FAKE, item=item, hide=[str(tmp_path / "work")])
    argv = list(wrapped.argv)
    sep = argv.index("--")
    assert argv[0] == FAKE.path
    assert argv[sep + 1].endswith("/sh") and argv[sep + 2 :] == list(spec.argv[1:])
    flags = argv[:sep]
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session"):
        assert flag in flags
    assert flags[flags.index("--cap-drop") + 1] == "ALL"
    assert flags[1:3] == ["--ro-bind", "/"]
    # the output dir is covered by an empty tmpfs, then the item is bound back read-only
    hide = flags.index(str(tmp_path / "work"))
    assert flags[hide - 1] == "--tmpfs"
    bind = [i for i, f in enumerate(flags) if f == item.path]
    assert bind and bind[0] > hide and flags[bind[0] - 1] == "--ro-bind"
    assert wrapped.env["TMPDIR"] == "/tmp"
    assert (wrapped.timeout_s, wrapped.limits, wrapped.grace_s) == (3, spec.limits, spec.grace_s)


def test_missing_checker_is_left_to_the_runner(tmp_path: Path) -> None:
    spec = ExecSpec(argv=("no-such-checker-xyz",), timeout_s=1, env=allowlisted_env())
    assert sandbox_spec(spec, FAKE) == spec


def test_a_dir_holding_the_checker_is_not_hidden(tmp_path: Path) -> None:
    exe = tmp_path / "checker.sh"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    spec = ExecSpec(argv=(str(exe),), timeout_s=1, env=allowlisted_env())
    argv = sandbox_spec(spec, FAKE, hide=[str(tmp_path)]).argv
    assert str(tmp_path) not in [argv[i + 1] for i in range(len(argv)) if argv[i] == "--tmpfs"]


# -- the sandbox at work ----------------------------------------------------------------------

ATTEMPT = """\
import os, socket, sys
what = sys.argv[1].split(".")[0]  # the module name: net.attempt, write.attempt, tmp.attempt
try:
    if what == "net":
        socket.create_connection(("127.0.0.1", int(os.environ["PORT"])), timeout=2).close()
    elif what == "write":
        open(os.environ["TARGET"], "w").write("escaped")
    elif what == "tmp":
        path = os.path.join(os.environ["TMPDIR"], "scratch")
        open(path, "w").write("ok")
        assert open(path).read() == "ok"
        print(path)
except OSError as exc:
    print("error:", exc)
    sys.exit(1)
"""


@pytest.fixture
def listener() -> Iterator[int]:
    """A local TCP port that accepts connections (the kernel completes them: no accept())."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.fixture
def outside() -> Iterator[Path]:
    """A writable directory outside /tmp (the sandbox's private temp dir covers /tmp)."""
    base = "/var/tmp" if os.access("/var/tmp", os.W_OK) else str(Path.home())
    d = Path(tempfile.mkdtemp(prefix="calib-async-sandbox-test-", dir=base))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _attempt_cli(tmp_path: Path, port: int, target: Path, sandbox: str) -> dict[str, dict]:
    """One calibration over proof attempts that execute code, as Lean's #eval would."""
    d = tmp_path / sandbox
    corpus = d / "corpus"
    for what in ("net", "write", "tmp"):
        (corpus / what).mkdir(parents=True)
        (corpus / what / "attempt.lean").write_text(ATTEMPT)
    argv = [sys.executable, "-I", "-S", "{file}", "{module}"]
    profile = {
        "command": argv,
        "env": {"PORT": str(port), "TARGET": str(target)},
        "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
    }
    cfg = d / "cfg.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {"verifiers": {"run": profile}, "tiers": {"T": {"timeout_s": 20, "verifier": "run"}}}
        )
    )
    out = d / "out"
    args = [
        sys.executable, "-m", "calib_async", "--tiers", "T", "--n", "3",
        "--export", str(d / "cal.yaml"), "--output-dir", str(out), "--corpus", "custom",
        "--corpus-path", str(corpus), "--config", str(cfg), "--consensus-verifiers", "run",
        "--label-sample", "0", "--bootstrap", "0", "--no-report", "--no-progress",
        "--log-level", "ERROR", "--sandbox", sandbox,
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, env=run_env(), timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (out / "telemetry.jsonl").read_text().splitlines()[1:]
    recs = [json.loads(line) for line in lines]
    return {r["module_name"].split(".")[0]: r for r in recs}


@needs_bwrap
def test_network_and_writes_outside_tmp_fail_in_the_sandbox_only(
    tmp_path: Path, listener: int, outside: Path
) -> None:
    free = _attempt_cli(tmp_path, listener, outside / "escaped-none", "none")
    assert free["net"]["outcome"] == "VERIFIED", free["net"]["output_tail"]
    assert free["write"]["outcome"] == "VERIFIED", free["write"]["output_tail"]
    assert (outside / "escaped-none").read_text() == "escaped"

    inside = _attempt_cli(tmp_path, listener, outside / "escaped-bwrap", "bwrap")
    assert inside["net"]["outcome"] == "PROOF_INVALID", inside["net"]["output_tail"]
    assert "error:" in inside["net"]["output_tail"]
    assert inside["write"]["outcome"] == "PROOF_INVALID", inside["write"]["output_tail"]
    assert "Read-only file system" in inside["write"]["output_tail"]
    assert not (outside / "escaped-bwrap").exists()
    # the private temp dir works, and is private: nothing of it reaches the host's /tmp
    assert inside["tmp"]["outcome"] == "VERIFIED", inside["tmp"]["output_tail"]
    # TMPDIR is the run's private workdir (bound writable), gone after the run
    scratch = inside["tmp"]["output_tail"].strip()
    assert "/calib-async-" in scratch and scratch.endswith("/scratch"), scratch
    assert "/run-" in scratch and not Path(scratch).parent.exists()


@pytest.mark.anyio
@needs_bwrap
async def test_private_tmp_hidden_output_dir_and_no_host_processes(
    tmp_path: Path, outside: Path
) -> None:
    work = tmp_path / "out"
    secret = work / "manifest.json"
    item = make_item(work / "synthetic" / "p.lean")
    secret.write_text("latent truth")
    script = (
        'set -e; case "$TMPDIR" in */run-*) ;; *) exit 3;; esac; test "$PWD" = "$TMPDIR"; '
        'echo w > "$TMPDIR/w"; echo hi > /tmp/x; test "$(cat /tmp/x)" = hi; '
        f'cat "$1" >/dev/null; ! cat {secret} 2>/dev/null; '
        f"! kill -0 {os.getpid()} 2>/dev/null; ! touch {outside}/x 2>/dev/null; "
        f"! touch {work}/y 2>/dev/null; ! mount -o remount,rw / 2>/dev/null; exit 0"
    )
    v = SandboxedVerifier(command("sh", "-c", script, "x", "{file}"), BWRAP, hide=(str(work),))
    record = await run(v, item)
    assert record.outcome == Outcome.VERIFIED, record.output_tail
    assert not (outside / "x").exists() and not (work / "y").exists()


@pytest.mark.anyio
@needs_bwrap
async def test_limits_and_timeouts_still_apply_in_the_sandbox(tmp_path: Path) -> None:
    item = make_item(tmp_path / "p.lean")
    bomb = SandboxedVerifier(command(sys.executable, "-c", "b = bytearray(2**31)"), BWRAP)
    tier = Tier("T", timeout_s=20, verifier="v", memory_limit_mb=256, grace_s=0.2)
    assert (await run(bomb, item, tier)).outcome == Outcome.MEMORY_LIMIT_EXCEEDED

    mark = f"{uuid.uuid4().int % 10**6 + 10**6}.25"
    hang = f"setsid sleep {mark} & sleep {mark} & wait"
    v = SandboxedVerifier(command("sh", "-c", hang), BWRAP)
    record = await run(v, item, Tier("T", timeout_s=0.5, verifier="v", grace_s=0.2))
    assert record.outcome == Outcome.VERIFIER_TIMEOUT
    with anyio.fail_after(5):
        while _alive(mark):  # the pid namespace dies with bwrap; reaping takes a moment
            await anyio.sleep(0.05)


# A status means one thing with and without the sandbox (issue 15): each script ends the
# checker one way; under bwrap a signal death also arrives as 128+N, so a plain `exit 137` and a
# SIGKILL must give one outcome both ways (and likewise 143 and SIGTERM).
SAME_BOTH_WAYS = [
    "exit 0", "exit 1", "exit 2", "exit 125", "exit 128", "exit 137", "exit 143", "exit 139",
    "exit 255", "kill -TERM $$", "kill -KILL $$", "kill -SEGV $$", "kill -HUP $$",
]  # fmt: skip


@pytest.mark.anyio
@needs_bwrap
@pytest.mark.parametrize("script", SAME_BOTH_WAYS)
async def test_an_exit_status_gives_the_same_outcome_with_and_without_bwrap(
    tmp_path: Path, script: str
) -> None:
    item = make_item(tmp_path / "p.lean")
    checker = command("sh", "-c", script)
    inside = await run(SandboxedVerifier(checker, BWRAP), item)
    outside = await run(checker, item)
    assert inside.outcome == outside.outcome, (script, inside, outside)
    if script in ("exit 137", "kill -KILL $$"):
        assert inside.outcome == Outcome.MEMORY_LIMIT_EXCEEDED
    if script in ("exit 143", "kill -TERM $$"):
        assert inside.outcome == Outcome.VERIFIER_ERROR


def _alive(mark: str) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if mark in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


@pytest.mark.anyio
@needs_bwrap
async def test_a_crash_is_classified_as_outside_the_sandbox(tmp_path: Path) -> None:
    item = make_item(tmp_path / "p.lean")
    crash = command("sh", "-c", "kill -SEGV $$")
    inside = await run(SandboxedVerifier(crash, BWRAP), item)
    outside = await run(crash, item)
    assert inside.exit_code == 128 + 11  # bwrap reports a signal death as 128+N
    assert outside.signal == 11
    assert inside.outcome == outside.outcome == Outcome.VERIFIER_ERROR

    missing_cwd = SandboxedVerifier(command("true", cwd=str(tmp_path / "no-such-dir")), BWRAP)
    assert (await run(missing_cwd, item)).outcome == Outcome.VERIFIER_ERROR


def _exited(code: int, stderr: bytes = b"") -> ExecResult:
    return ExecResult(
        ("bwrap",), Termination.EXITED, code, None, 1.0, 0.0, 0.0, "rusage", False, 0.0,
        b"", stderr, 0, len(stderr),
    )  # fmt: skip


def test_bwrap_setup_failure_and_oom_kill_inside_are_classified() -> None:
    v = SandboxedVerifier(command("true"), FAKE)
    failed = v.classify(_exited(1, b"bwrap: Can't mount tmpfs on /x: No such device\n"), TIER)
    assert failed.outcome is Outcome.VERIFIER_ERROR
    assert failed.first_error == "bwrap: Can't mount tmpfs on /x: No such device"
    assert classify_run(v, _exited(137), TIER).outcome is Outcome.MEMORY_LIMIT_EXCEEDED
    assert v.classify(_exited(0), TIER).outcome is Outcome.VERIFIED
    assert v.classify(_exited(1), TIER).outcome is Outcome.PROOF_INVALID


@pytest.mark.anyio
@needs_bwrap
@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
async def test_limit_breaches_are_classified_the_same_inside_bwrap(
    tmp_path: Path, case: str
) -> None:
    argv, tier, reason, outcome = LIMIT_CASES[case]
    item = make_item(tmp_path / "p.lean")
    inside = await run(SandboxedVerifier(command(*argv), BWRAP), item, tier)
    outside = await run(command(*argv), item, tier)
    for record in (inside, outside):
        assert (record.termination_reason, record.outcome) == (reason, outcome), record
    assert inside.limits_mechanism == outside.limits_mechanism
