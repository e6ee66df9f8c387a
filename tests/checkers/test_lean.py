"""The Lean profile: message parsing, classification (pure), axiom audit, argv, and end to end
through the stand-in ``tests/fixtures/lean`` (and a real ``lean`` when one is on PATH)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calib_async.checkers.lean.axioms import declared_names, plan_audit, strip_comments
from calib_async.checkers.lean.messages import Severity, parse_messages
from calib_async.checkers.lean.profile import (
    LeanVerifier,
    audit_source,
    classify_lean_result,
    find_workspace_root,
    forbidden_axioms,
    parse_axioms,
    parse_lean_version,
)
from calib_async.checkers.oneshot import classify_run
from calib_async.config.schema import VerifierConfig
from calib_async.records import CorpusItem, Outcome, Tier, TimeoutKind
from calib_async.runner.spec import ExecResult, ExecSpec, Termination
from helpers import FIXTURES, file_item

REAL_LEAN = shutil.which("lean")

HEARTBEAT_NEW = (
    "(deterministic) timeout at `whnf`, maximum number of heartbeats (200000) has been reached"
    "\n\nNote: Use `set_option maxHeartbeats <num>` to set the limit.\n\nHint: Additional "
    "diagnostic information may be available using the `set_option diagnostics true` command."
)
HEARTBEAT_OLD = (
    "(deterministic) timeout at 'isDefEq', maximum number of heartbeats (200000) has been "
    "reached (use 'set_option maxHeartbeats <num>' to set the limit)"
)


def result(
    stdout: str = "",
    stderr: str = "",
    *,
    exit_code: int | None = None,
    sig: int | None = None,
    argv: tuple[str, ...] = ("lean", "/w/a.lean"),
) -> ExecResult:
    if exit_code is None and sig is None:
        exit_code = 1 if ": error" in stdout or '"severity":"error"' in stdout else 0
    return ExecResult(
        argv=argv,
        termination=Termination.EXITED,
        exit_code=exit_code,
        signal=sig,
        duration_ms=1.0,
        cpu_time_ms=1.0,
        memory_peak_mb=1.0,
        memory_peak_source="rusage",
        memory_peak_is_floor=False,
        memory_final_mb=0.0,
        stdout=stdout.encode(),
        stderr=stderr.encode(),
        stdout_bytes=len(stdout),
        stderr_bytes=len(stderr),
    )


def text_msg(severity: str, data: str, line: int = 3, col: int = 2, name: str = "") -> str:
    label = f"{severity}({name})" if name else severity
    return f"/w/a.lean:{line}:{col}: {label}: {data}\n"


def json_msg(severity: str, data: str, line: int = 3, col: int = 2) -> str:
    obj = {
        "fileName": "/w/a.lean",
        "pos": {"line": line, "column": col},
        "endPos": None,
        "keepFullRange": False,
        "severity": severity,
        "isSilent": False,
        "caption": "",
        "data": data,
        "kind": "[anonymous]",
    }
    return json.dumps(obj, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------------------------------------
# Pure classification: every message case, in both formats

# (case id, severity, message, expected outcome, timeout kind)
MESSAGE_CASES = [
    ("error", "error", "unsolved goals\nx : Nat\n⊢ x = x + 0", Outcome.PROOF_INVALID, None),
    ("heartbeat", "error", HEARTBEAT_NEW, Outcome.VERIFIER_TIMEOUT, TimeoutKind.HEARTBEAT),
    ("heartbeat-old", "error", HEARTBEAT_OLD, Outcome.VERIFIER_TIMEOUT, TimeoutKind.HEARTBEAT),
    (
        "heartbeat-nested",
        "error",
        "Tactic `simp` failed with a nested error:\n" + HEARTBEAT_NEW,
        Outcome.VERIFIER_TIMEOUT,
        TimeoutKind.HEARTBEAT,
    ),
    (
        "kernel-timeout",
        "error",
        "(kernel) deterministic timeout",
        Outcome.VERIFIER_TIMEOUT,
        TimeoutKind.HEARTBEAT,
    ),
    (
        "kernel-memory",
        "error",
        "(kernel) excessive memory consumption detected",
        Outcome.MEMORY_LIMIT_EXCEEDED,
        None,
    ),
    (
        "kernel-deep-recursion",
        "error",
        "(kernel) deep recursion detected",
        Outcome.VERIFIER_ERROR,
        None,
    ),
    (
        "max-recursion",
        "error",
        "maximum recursion depth has been reached\nuse `set_option maxRecDepth <num>` to "
        "increase limit",
        Outcome.VERIFIER_ERROR,
        None,
    ),
    ("sorry-old", "warning", "declaration uses 'sorry'", Outcome.VERIFIED, None),
    ("sorry-new", "warning", "declaration uses `sorry`", Outcome.VERIFIED, None),
    ("other-warning", "warning", "unused variable `h`", Outcome.VERIFIED, None),
    ("warning-says-oom", "warning", "lemma out of memory is deprecated", Outcome.VERIFIED, None),
]


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize(("case", "severity", "data", "outcome", "kind"), MESSAGE_CASES)
def test_message_case_is_classified(
    fmt: str, case: str, severity: str, data: str, outcome: Outcome, kind: TimeoutKind | None
) -> None:
    out = (text_msg if fmt == "text" else json_msg)(severity, data)
    verdict = classify_lean_result(result(out))
    assert verdict.outcome is outcome, case
    assert verdict.timeout_kind is kind
    assert verdict.uses_sorry is case.startswith("sorry")
    assert verdict.error_count == (1 if severity == "error" else 0)
    if severity == "error":
        assert verdict.first_error is not None
        assert verdict.first_error.startswith("/w/a.lean:3:2: error: ")


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("spelling", ["'sorry'", "`sorry`"])
def test_sorry_rejected_only_when_tier_says_so(fmt: str, spelling: str) -> None:
    out = (text_msg if fmt == "text" else json_msg)("warning", f"declaration uses {spelling}")
    assert classify_lean_result(result(out)).outcome is Outcome.VERIFIED
    strict = classify_lean_result(result(out), reject_sorry=True)
    assert strict.outcome is Outcome.PROOF_INVALID
    assert strict.uses_sorry
    assert strict.first_error == f"/w/a.lean:3:2: warning: declaration uses {spelling}"


def test_named_error_and_lake_build_format() -> None:
    named = text_msg("error", "Unknown identifier `foo`", name="lean.unknownIdentifier")
    verdict = classify_lean_result(result(named))
    assert verdict.outcome is Outcome.PROOF_INVALID
    assert verdict.first_error == (
        "/w/a.lean:3:2: error(lean.unknownIdentifier): Unknown identifier `foo`"
    )
    lake = "error: Foo/Bar.lean:12:4: unsolved goals\n⊢ False\n"
    verdict = classify_lean_result(result(lake, exit_code=1))
    assert (verdict.outcome, verdict.error_count) == (Outcome.PROOF_INVALID, 1)


RUNTIME_CASES = [
    # (stderr, exit code, signal, outcome)
    ("INTERNAL PANIC: out of memory\n", 1, None, Outcome.MEMORY_LIMIT_EXCEEDED),
    (
        "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  "
        "std::bad_alloc\n",
        None,
        signal.SIGABRT,
        Outcome.MEMORY_LIMIT_EXCEEDED,
    ),
    ("uncaught exception: failed to create thread\n", 1, None, Outcome.MEMORY_LIMIT_EXCEEDED),
    ("mmap: Cannot allocate memory\n", 1, None, Outcome.MEMORY_LIMIT_EXCEEDED),
    ("", None, signal.SIGKILL, Outcome.MEMORY_LIMIT_EXCEEDED),
    ("", 137, None, Outcome.MEMORY_LIMIT_EXCEEDED),
    ("\nStack overflow detected. Aborting.\n", None, signal.SIGABRT, Outcome.VERIFIER_ERROR),
    ("", None, signal.SIGSEGV, Outcome.VERIFIER_ERROR),
    ("INTERNAL PANIC: unreachable code has been reached\n", 1, None, Outcome.VERIFIER_ERROR),
    ("error: unknown executable lean\n", 1, None, Outcome.VERIFIER_ERROR),
    ("", 3, None, Outcome.VERIFIER_ERROR),
]


@pytest.mark.parametrize(("stderr", "code", "sig", "outcome"), RUNTIME_CASES)
def test_runtime_failures(stderr: str, code: int | None, sig: int | None, outcome: Outcome) -> None:
    verdict = classify_lean_result(result("", stderr, exit_code=code, sig=sig))
    assert verdict.outcome is outcome
    assert verdict.first_error  # always says something
    assert verdict.timeout_kind is None


def test_resource_failure_wins_over_proof_error() -> None:
    out = text_msg("error", "type mismatch", line=2) + text_msg("error", HEARTBEAT_NEW, line=9)
    verdict = classify_lean_result(result(out))
    assert verdict.outcome is Outcome.VERIFIER_TIMEOUT
    assert verdict.error_count == 2
    assert verdict.first_error == (
        "/w/a.lean:9:2: error: (deterministic) timeout at `whnf`, maximum number of heartbeats "
        "(200000) has been reached"
    )


def test_heartbeat_text_in_a_warning_is_not_a_timeout() -> None:
    out = text_msg("warning", HEARTBEAT_NEW)
    assert classify_lean_result(result(out)).outcome is Outcome.VERIFIED


def test_runner_decision_comes_first() -> None:
    class Fake:
        name = "lean"

        def classify(self, r: ExecResult, tier: Tier):  # pragma: no cover - never reached
            raise AssertionError

    timed_out = result("", exit_code=None, sig=signal.SIGKILL)
    timed_out = dataclasses.replace(timed_out, termination=Termination.TIMEOUT)
    verdict = classify_run(Fake(), timed_out, tier())  # type: ignore[arg-type]
    assert (verdict.outcome, verdict.timeout_kind) == (Outcome.VERIFIER_TIMEOUT, TimeoutKind.WALL)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.sampled_from([0, 1, 2, 137, None]))
def test_classifier_never_raises(stdout: str, stderr: str, code: int | None) -> None:
    sig = signal.SIGTERM if code is None else None
    verdict = classify_lean_result(
        result(stdout, stderr, exit_code=code, sig=sig), reject_sorry=True, audit_axioms=True
    )
    if code != 0:  # a failed or killed run never passes, whatever it printed
        assert verdict.outcome is not Outcome.VERIFIED


# ---------------------------------------------------------------------------------------------
# Axiom audit (pure)


def test_parse_axioms_formats() -> None:
    text = (
        "'Foo.bar' depends on axioms: [propext, Classical.choice, Quot.sound]\n"
        "'Scope.fromBytes'_append' depends on axioms: [propext,\n  sorryAx,\n  Quot.sound]\n"
        "'baz' does not depend on any axioms\n"
        "/w/a.lean:9:0: info: 'q' depends on axioms: [Lean.ofReduceBool]\n"
    )
    assert parse_axioms(text) == {
        "Foo.bar": ["propext", "Classical.choice", "Quot.sound"],
        "Scope.fromBytes'_append": ["propext", "sorryAx", "Quot.sound"],
        "baz": [],
        "q": ["Lean.ofReduceBool"],
    }


def test_forbidden_axioms() -> None:
    std = ["propext", "Classical.choice", "Quot.sound"]
    assert forbidden_axioms(std) == []
    assert forbidden_axioms({"a": std, "b": ["sorryAx"]}) == ["sorryAx"]
    assert forbidden_axioms(["Lean.ofReduceBool"]) == ["Lean.ofReduceBool"]
    new = "t._native.native_decide.ax_1_1"
    assert forbidden_axioms([new, "myAxiom"]) == ["myAxiom", new]
    assert forbidden_axioms([new, "Lean.ofReduceBool"], [*std, "native_decide"]) == []
    assert forbidden_axioms(["sorryAx"], ["sorryAx"]) == ["sorryAx"]  # never admitted
    assert forbidden_axioms(["myAxiom"], ["myAxiom"]) == []


def test_declared_names_tracks_scopes_and_ignores_comments() -> None:
    source = """import Mathlib
/- theorem commented : True := trivial
   /- nested -/ theorem still_commented : True := trivial -/
namespace A.B
@[simp] theorem t1 : True := trivial  -- theorem not_me : True
section S
private lemma t2' : True := trivial
end S
noncomputable def d : Nat := 0
theorem _root_.top : True := trivial
def s : String := "-- theorem in_string"
end A.B
mutual
  def even : Nat → Bool | 0 => true | n+1 => odd n
  def odd : Nat → Bool | 0 => false | n+1 => even n
end
protected theorem Nat.mine : True := trivial
example : True := trivial
instance : Inhabited Nat := ⟨0⟩
"""
    assert declared_names(source) == [
        "A.B.t1", "A.B.t2'", "A.B.d", "top", "A.B.s", "even", "odd", "Nat.mine",
    ]  # fmt: skip
    assert strip_comments(source).count("\n") == source.count("\n")


def test_audit_source_appends_print_axioms() -> None:
    source = "theorem a : True := trivial\nnamespace N\ntheorem b : True := trivial\nend N"
    plan = plan_audit(source)
    assert plan.names == ("a", "N.b")
    lines = plan.text.splitlines()
    assert lines[: source.count("\n") + 1] == source.splitlines()
    assert lines[plan.first_line - 1 :] == ["#print axioms a", "#print axioms N.b"]
    assert audit_source(source) == plan.text


AUDIT_ARGV = ("lean", "/tmp/x/a.abc.audit-L5-D2.lean")


def test_audit_classification() -> None:
    std = "[propext, Classical.choice, Quot.sound]"
    ok = f"'a' depends on axioms: {std}\n'N.b' does not depend on any axioms\n"
    verdict = classify_lean_result(result(ok, argv=AUDIT_ARGV), audit_axioms=True)
    assert verdict.outcome is Outcome.VERIFIED
    assert verdict.axioms == ("Classical.choice", "Quot.sound", "propext")

    native = ok + "'c' depends on axioms: [Lean.ofReduceBool]\n"
    verdict = classify_lean_result(result(native, argv=AUDIT_ARGV), audit_axioms=True)
    assert verdict.outcome is Outcome.PROOF_INVALID
    assert "Lean.ofReduceBool" in (verdict.first_error or "")
    # without the audit, the same output passes and no axioms are reported
    plain = classify_lean_result(result(native, argv=AUDIT_ARGV))
    assert (plain.outcome, plain.axioms) == (Outcome.VERIFIED, None)
    # a custom allowlist can admit native_decide
    admitted = classify_lean_result(
        result(native, argv=AUDIT_ARGV),
        audit_axioms=True,
        allowlist=["propext", "Classical.choice", "Quot.sound", "native_decide"],
    )
    assert admitted.outcome is Outcome.VERIFIED

    sorry = json_msg("information", "'a' depends on axioms: [propext, sorryAx]", line=5)
    verdict = classify_lean_result(result(sorry, argv=AUDIT_ARGV), audit_axioms=True)
    assert (verdict.outcome, verdict.uses_sorry) == (Outcome.PROOF_INVALID, True)


def test_audit_section_errors_do_not_count_but_a_silent_audit_fails() -> None:
    out = "'a' depends on axioms: [propext]\n" + text_msg(
        "error", "unknown constant 'N.b'", line=6, col=15
    )
    verdict = classify_lean_result(result(out, argv=AUDIT_ARGV), audit_axioms=True)
    assert (verdict.outcome, verdict.error_count) == (Outcome.VERIFIED, 0)
    # an error before the audit section is a proof error
    early = out + text_msg("error", "unsolved goals", line=2)
    assert classify_lean_result(result(early, argv=AUDIT_ARGV), audit_axioms=True).outcome is (
        Outcome.PROOF_INVALID
    )
    # `#exit` in the proof: the audit prints nothing
    silent = classify_lean_result(result("", argv=AUDIT_ARGV), audit_axioms=True)
    assert silent.outcome is Outcome.PROOF_INVALID
    assert "no report" in (silent.first_error or "")


def test_parse_messages_mixed_formats() -> None:
    out = (
        json_msg("warning", "declaration uses 'sorry'")
        + "/w/a.lean:7:0: error: unsolved goals\n⊢ False\n\nmore\n"
        + "/w/a.lean:9:0: warning: unused variable\n"
    )
    messages, leftover = parse_messages("'t' does not depend on any axioms\n" + out)
    assert [m.severity for m in messages] == [Severity.WARNING, Severity.ERROR, Severity.WARNING]
    assert messages[1].text == "unsolved goals\n⊢ False\n\nmore"
    assert leftover == "'t' does not depend on any axioms"


def test_stderr_never_continues_a_stdout_message() -> None:
    out = text_msg("warning", "declaration uses 'sorry'")
    verdict = classify_lean_result(result(out, "INTERNAL PANIC: out of memory\n", exit_code=1))
    assert verdict.outcome is Outcome.MEMORY_LIMIT_EXCEEDED
    assert verdict.first_error == "INTERNAL PANIC: out of memory"


def test_parse_lean_version() -> None:
    assert parse_lean_version(
        "Lean (version 4.19.0, x86_64-unknown-linux-gnu, commit abc, Release)"
    ) == (4, 19, 0)
    assert parse_lean_version("nonsense") is None


# ---------------------------------------------------------------------------------------------
# Building the process spec


def tier(**options: object) -> Tier:
    memory = options.pop("memory", None)
    args = options.pop("args", ())
    return Tier(
        name="T",
        timeout_s=10.0,
        verifier="lean",
        memory_limit_mb=memory,  # type: ignore[arg-type]
        args=tuple(args),  # type: ignore[arg-type]
        options=options,
    )


def verifier(**options: object) -> LeanVerifier:
    return LeanVerifier(VerifierConfig(name="lean", kind="lean", options=options))


def item_for(path: Path) -> CorpusItem:
    return file_item(path.resolve())


def test_plain_argv_and_limits(tmp_path: Path) -> None:
    f = tmp_path / "a.lean"
    f.write_text("theorem a : True := trivial\n")
    t = tier(max_heartbeats=400000, threads=2, memory=4096, args=["-DwarningAsError=true"])
    spec = verifier().build_spec(item_for(f), t, timeout_s=7.0, attempt=0)
    assert spec.argv == (
        "lean", "-D", "maxHeartbeats=400000", "-M", "4096", "-j", "2",
        "-DwarningAsError=true", str(f.resolve()),
    )  # fmt: skip
    assert spec.timeout_s == 7.0
    assert spec.limits.memory_mb == 4096 + 1024 + 512  # Lean's -M is hit first
    assert "PATH" in spec.env
    assert verifier(runner_memory_mb=0).runner_limits(t).memory_mb is None
    assert verifier(runner_memory_mb=9000).runner_limits(t).memory_mb == 9000


def test_lake_argv_from_project_and_autodetect(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    src = ws / ".lake" / "packages" / "mathlib" / "Mathlib" / "X.lean"
    src.parent.mkdir(parents=True)
    (ws / "lakefile.toml").write_text("")
    (ws / ".lake" / "packages" / "mathlib" / "lakefile.lean").write_text("")
    src.write_text("theorem x : True := trivial\n")
    assert find_workspace_root(src) == ws.resolve()
    spec = verifier().build_spec(item_for(src), tier(), timeout_s=5, attempt=0)
    assert spec.argv[:3] == ("lake", "env", "lean")
    assert spec.cwd == str(ws.resolve())
    other = tmp_path / "loose.lean"
    other.write_text("")
    spec = verifier(lean_project=str(ws)).build_spec(
        item_for(other), tier(), timeout_s=5, attempt=0
    )
    assert (spec.argv[:3], spec.cwd) == (("lake", "env", "lean"), str(ws.resolve()))
    spec = verifier(use_lake=False, lean_project=str(ws)).build_spec(
        item_for(src), tier(), timeout_s=5, attempt=0
    )
    assert spec.argv[0] == "lean"
    assert verifier(lean_project=str(ws)).version_argv() == (
        "lake", "-d", str(ws.resolve()), "env", "lean", "--version",
    )  # fmt: skip
    assert verifier().version_argv() == ("lean", "--version")


def test_json_flag_auto_detected_from_version(tmp_path: Path) -> None:
    f = tmp_path / "a.lean"
    f.write_text("")
    v = verifier()
    assert "--json" not in v.build_spec(item_for(f), tier(), timeout_s=1, attempt=0).argv
    v.observe_version("Lean (version 4.19.0, x86_64-unknown-linux-gnu, commit x, Release)")
    assert "--json" in v.build_spec(item_for(f), tier(), timeout_s=1, attempt=0).argv
    v.observe_version("Lean (version 3.51.1, commit x, Release)")
    assert not v.uses_json
    assert verifier(json=True).uses_json
    forced_off = verifier(json=False)
    forced_off.observe_version("Lean (version 4.19.0, commit x, Release)")
    assert not forced_off.uses_json


def test_audit_file_is_written_in_work_dir(tmp_path: Path) -> None:
    f = tmp_path / "a.lean"
    f.write_text("namespace N\ntheorem t : True := trivial\nend N\n")
    v = verifier(work_dir=str(tmp_path / "work"))
    spec = v.build_spec(item_for(f), tier(audit_axioms=True), timeout_s=1, attempt=0)
    audit = Path(spec.argv[-1])
    assert audit.parent == tmp_path / "work"
    assert audit.name.endswith(".audit-L6-D1.lean")
    assert audit.read_text().splitlines()[-1] == "#print axioms N.t"
    assert f.read_text().count("#print") == 0  # the item itself is untouched


def test_bad_options_are_config_errors() -> None:
    from calib_async.errors import ConfigError

    with pytest.raises(ConfigError, match=r"axiom_allowlist must be a list"):
        verifier(axiom_allowlist="propext")
    with pytest.raises(ConfigError, match=r"runner_memory_mb must be an integer"):
        verifier(runner_memory_mb="lots")


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
