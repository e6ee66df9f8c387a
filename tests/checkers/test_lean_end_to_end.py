"""The Lean profile end to end through a real process: the stand-in ``tests/fixtures/lean``, and a
real ``lean`` when one is on PATH."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from calib_async.checkers.lean.profile import (
    LeanVerifier,
    parse_lean_version,
)
from calib_async.checkers.oneshot import classify_run
from calib_async.records import Outcome, Tier, TimeoutKind
from calib_async.runner.spec import ExecResult, ExecSpec, Termination
from helpers import FIXTURES
from helpers.lean_profile import (
    item_for,
    tier,
    verifier,
)

REAL_LEAN = shutil.which("lean")


# ---------------------------------------------------------------------------------------------
# End to end through a real process: the stand-in, and a real `lean` when installed


@dataclass
class Case:
    marker: str
    body: str
    outcome: Outcome
    options: dict[str, object] = field(default_factory=dict)
    kind: TimeoutKind | None = None
    real: bool = False  # the body also produces this outcome with a real Lean


VALID = "theorem t : 1 + 1 = 2 := rfl\n"
SORRY = "theorem t : 1 + 1 = 2 := by sorry\n"
E2E_CASES = [
    Case("valid", VALID, Outcome.VERIFIED, real=True),
    Case("error", "theorem t (x : Nat) : x + 0 = x + 1 := by rfl\n", Outcome.PROOF_INVALID,
         real=True),
    Case("error-named", "theorem t : foo = 1 := rfl\n", Outcome.PROOF_INVALID, real=True),
    Case("sorry", SORRY, Outcome.VERIFIED, real=True),
    Case("sorry", SORRY, Outcome.PROOF_INVALID, {"reject_sorry": True}, real=True),
    Case("sorry-new", SORRY, Outcome.PROOF_INVALID, {"reject_sorry": True}, real=True),
    Case("heartbeat", "set_option maxHeartbeats 1 in\ntheorem t (a b c d : Nat) : "
         "a + b + c + d = d + c + b + a := by\n  simp [Nat.add_comm, Nat.add_left_comm]\n",
         Outcome.VERIFIER_TIMEOUT, kind=TimeoutKind.HEARTBEAT, real=True),
    Case("heartbeat-old", VALID, Outcome.VERIFIER_TIMEOUT, kind=TimeoutKind.HEARTBEAT),
    Case("kernel-timeout", VALID, Outcome.VERIFIER_TIMEOUT, kind=TimeoutKind.HEARTBEAT),
    Case("kernel-memory", VALID, Outcome.MEMORY_LIMIT_EXCEEDED),
    Case("kernel-deep-recursion", VALID, Outcome.VERIFIER_ERROR),
    Case("max-recursion", VALID, Outcome.VERIFIER_ERROR),
    Case("oom", VALID, Outcome.MEMORY_LIMIT_EXCEEDED),
    Case("bad-alloc", VALID, Outcome.MEMORY_LIMIT_EXCEEDED),
    Case("thread", VALID, Outcome.MEMORY_LIMIT_EXCEEDED),
    Case("sigkill", VALID, Outcome.MEMORY_LIMIT_EXCEEDED),
    Case("stack-overflow", VALID, Outcome.VERIFIER_ERROR),
    Case("segfault", VALID, Outcome.VERIFIER_ERROR),
    Case("crash", VALID, Outcome.VERIFIER_ERROR),
    Case("valid", VALID, Outcome.VERIFIED, {"audit_axioms": True}, real=True),
    Case("sorry", SORRY, Outcome.PROOF_INVALID, {"audit_axioms": True}, real=True),
    Case("native_decide", "theorem t : 2 + 2 = 4 := by native_decide\n", Outcome.PROOF_INVALID,
         {"audit_axioms": True}, real=True),
    Case("native_decide-new", VALID, Outcome.PROOF_INVALID, {"audit_axioms": True}),
    Case("native_decide", VALID, Outcome.VERIFIED, {"reject_sorry": True}),
    Case("slow 30", VALID, Outcome.VERIFIER_TIMEOUT, kind=TimeoutKind.WALL),
]  # fmt: skip


async def run_spec(spec: ExecSpec) -> ExecResult:
    try:
        from calib_async.runner.measured import run_process_measured
    except ImportError:
        return await anyio.to_thread.run_sync(_run_with_subprocess, spec)
    return await run_process_measured(spec)


def _run_with_subprocess(spec: ExecSpec) -> ExecResult:
    """Fallback for when calib_async.runner.process is not there yet: a plain subprocess.run."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            spec.argv, env=dict(spec.env), cwd=spec.cwd, capture_output=True,
            timeout=spec.timeout_s, check=False,
        )  # fmt: skip
        termination, out, err, code = Termination.EXITED, done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        termination, out, err, code = Termination.TIMEOUT, exc.stdout or b"", exc.stderr or b"", -9
    return ExecResult(
        argv=spec.argv, termination=termination,
        exit_code=code if code >= 0 else None, signal=-code if code < 0 else None,
        duration_ms=(time.monotonic() - start) * 1000, cpu_time_ms=0.0, memory_peak_mb=0.0,
        memory_peak_source="none", memory_peak_is_floor=True, memory_final_mb=0.0,
        stdout=out, stderr=err, stdout_bytes=len(out), stderr_bytes=len(err),
    )  # fmt: skip


def _with_path(env: dict[str, str], first: Path) -> dict[str, str]:
    return {**env, "PATH": f"{first}{os.pathsep}{env.get('PATH', '')}"}


def _e2e_params() -> list[object]:
    """Every case on the stand-in; the portable ones also on a real ``lean`` if installed."""
    no_lean = pytest.mark.skipif(REAL_LEAN is None, reason="no lean on PATH")
    params: list[object] = []
    for case in E2E_CASES:
        for fmt in ("text", "json"):
            if case.kind is TimeoutKind.WALL and fmt == "json":
                continue  # one wall-clock timeout run is enough
            name = f"{case.marker}-{case.outcome.value}-{'-'.join(case.options)}-{fmt}"
            params.append(pytest.param("standin", fmt, case, id=f"standin-{name}"))
            if case.real:
                params.append(pytest.param("real", fmt, case, id=f"real-{name}", marks=no_lean))
    return params


def _make_spec(
    impl: str, case: Case, tmp_path: Path, fmt: str
) -> tuple[LeanVerifier, Tier, ExecSpec]:
    marker = "" if impl == "real" else f"-- @{case.marker}\n"
    f = tmp_path / "Attempt.lean"
    f.write_text(marker + case.body)
    v = verifier(work_dir=str(tmp_path / "work"), json=(fmt == "json"))
    timeout = 1.0 if case.kind is TimeoutKind.WALL else 60.0
    t = tier(**case.options)
    t = Tier(name="T", timeout_s=timeout, verifier="lean", options=t.options, grace_s=0.2)
    spec = v.build_spec(item_for(f), t, timeout_s=timeout, attempt=0)
    if impl == "standin":
        spec = dataclasses.replace(spec, env=_with_path(dict(spec.env), FIXTURES))
    return v, t, spec


@pytest.mark.anyio
@pytest.mark.parametrize(("impl", "fmt", "case"), _e2e_params())
async def test_end_to_end(impl: str, fmt: str, case: Case, tmp_path: Path) -> None:
    v, t, spec = _make_spec(impl, case, tmp_path, fmt)
    res = await run_spec(spec)
    verdict = classify_run(v, res, t)
    assert verdict.outcome is case.outcome, res.output_text
    assert verdict.timeout_kind is case.kind
    if case.marker.startswith("sorry") and not case.options.get("audit_axioms"):
        assert verdict.uses_sorry
    if case.options.get("audit_axioms"):
        assert verdict.axioms is not None


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_end_to_end_through_lake_standin(tmp_path: Path, anyio_backend: str) -> None:
    ws = tmp_path / "ws"
    (ws / "Proofs").mkdir(parents=True)
    (ws / "lakefile.toml").write_text('name = "ws"\n')
    f = ws / "Proofs" / "A.lean"
    f.write_text("-- @heartbeat\n" + VALID)
    v = verifier(json=True)
    t = tier(max_heartbeats=1234)
    spec = v.build_spec(item_for(f), t, timeout_s=30, attempt=0)
    assert spec.argv[:3] == ("lake", "env", "lean") and spec.cwd == str(ws.resolve())
    spec = dataclasses.replace(spec, env=_with_path(dict(spec.env), FIXTURES))
    res = await run_spec(spec)
    verdict = classify_run(v, res, t)
    assert (verdict.outcome, verdict.timeout_kind) == (
        Outcome.VERIFIER_TIMEOUT, TimeoutKind.HEARTBEAT,
    ), res.output_text  # fmt: skip
    assert "(1234)" in (verdict.first_error or "")


def test_standin_version_and_exit_status(tmp_path: Path) -> None:
    lean = str(FIXTURES / "lean")
    out = subprocess.run([lean, "--version"], capture_output=True, text=True, check=True)
    assert parse_lean_version(out.stdout) is not None
    f = tmp_path / "a.lean"
    f.write_text("-- @sorry\ntheorem a : True := sorry\n")
    done = subprocess.run([lean, "-T", "5", str(f)], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout == f"{f}:2:8: warning: declaration uses 'sorry'\n"
    f.write_text("-- @error\ntheorem a : True := sorry\n")
    done = subprocess.run([lean, "--json", str(f)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    obj = json.loads(done.stdout.splitlines()[0])
    assert {"fileName", "pos", "endPos", "severity", "data"} <= set(obj)
    assert obj["severity"] == "error"
