"""Lean checks beyond Lean's verdict: positional audit, #exit, statement, kernel bypass."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.lean.checks import (
    check_file_suffix,
    read_checked_file,
    statement_matches,
    uses_kernel_bypass,
)
from calib_async.checkers.lean.profile import LeanVerifier, classify_lean_result
from calib_async.checkers.simulated.profile import CHECKER
from calib_async.config.schema import VerifierConfig
from calib_async.corpus.canaries import lean_canary
from calib_async.records import CorpusItem, Outcome, Tier
from calib_async.runner.spec import ExecResult, Termination

AUDIT = "/w/a.0123.audit-L10-D1.lean"
CLEAN = "'t' does not depend on any axioms"


def run(stdout: str, *argv: str) -> ExecResult:
    data = stdout.encode()
    return ExecResult(
        argv=("lean", *argv),
        termination=Termination.EXITED,
        exit_code=1 if '"severity":"error"' in stdout else 0,
        signal=None,
        duration_ms=1.0,
        cpu_time_ms=1.0,
        memory_peak_mb=1.0,
        memory_peak_source="rusage",
        memory_peak_is_floor=False,
        memory_final_mb=1.0,
        stdout=data,
        stderr=b"",
        stdout_bytes=len(data),
        stderr_bytes=0,
    )


def msg(severity: str, data: str, line: int) -> str:
    obj = {"fileName": "/w/a.lean", "pos": {"line": line, "column": 0}, "severity": severity,
           "caption": "", "data": data}  # fmt: skip
    return json.dumps(obj, separators=(",", ":")) + "\n"


def audit(stdout: str, *flags: str) -> Outcome:
    return classify_lean_result(run(stdout, *flags, AUDIT), audit_axioms=True).outcome


def test_json_audit_reads_only_answers_at_its_own_lines() -> None:
    real = msg("information", "'t' depends on axioms: [propext, calib_canary_cheat]", 10)
    printed = msg("information", CLEAN, 4)  # `#eval IO.println` in the proof, line 4
    assert audit(msg("information", CLEAN, 10), "--json") is Outcome.VERIFIED
    assert audit(printed + real, "--json") is Outcome.PROOF_INVALID
    # the fake answer alone (the real one suppressed): no answer at the audit line
    verdict = classify_lean_result(run(printed, "--json", AUDIT), audit_axioms=True)
    assert verdict.outcome is Outcome.PROOF_INVALID
    assert verdict.first_error == "axiom audit printed no report for 1 of 1 declarations"
    # the text fallback (no positions) is fooled by the same output: why --json matters
    assert audit(CLEAN + "\n") is Outcome.VERIFIED


def test_exit_and_failed_audit_lines_reject() -> None:
    stop = msg("warning", "using 'exit' to interrupt Lean", 6)
    verdict = classify_lean_result(
        run(msg("information", CLEAN, 4) + stop, "--json", AUDIT), audit_axioms=True
    )
    assert verdict.outcome is Outcome.PROOF_INVALID
    assert (verdict.first_error or "").startswith("#exit before the axiom audit: ")
    assert audit(CLEAN + "\n/w/a.lean:6:0: warning: using 'exit' to interrupt Lean\n") is (
        Outcome.PROOF_INVALID
    )  # text mode too
    # an unterminated comment swallows the audit: Lean's error sits in the audit section
    swallowed = msg("information", CLEAN, 4) + msg("error", "unterminated comment", 11)
    assert audit(swallowed, "--json") is Outcome.PROOF_INVALID
    # while an audit name Lean does not know is excused, as before
    unknown = msg("error", "unknown constant 'N.t'", 10)
    assert audit(unknown, "--json") is Outcome.VERIFIED


def test_flags_in_the_checked_file_name() -> None:
    assert check_file_suffix((12, 3), ["statement"]) == ".audit-L12-D3-statement.lean"
    assert check_file_suffix(None, ["statement", "kernel"]) == ".check-kernel-statement.lean"
    found = read_checked_file(("lean", "/w/x.abc.check-kernel-statement.lean"))
    assert found is not None and found.flags == {"kernel", "statement"}
    assert found.audit_line is None
    ran = run("", "/w/x.abc.check-statement.lean")
    assert classify_lean_result(ran).outcome is Outcome.VERIFIED  # option off: flag ignored
    bad = classify_lean_result(ran, check_statement=True)
    assert (bad.outcome, bad.first_error) == (
        Outcome.PROOF_INVALID,
        "the statement differs from the formal_statement",
    )
    kernel = run("", "/w/x.abc.check-kernel.lean")
    assert classify_lean_result(kernel, reject_skip_kernel=True).outcome is Outcome.PROOF_INVALID


STATEMENT = "theorem t (x : Nat) :\n    x + 0 = x := by"


@given(st.sampled_from(["", "import Mathlib\n"]), st.sampled_from([" ", "  ", "\n  "]))
def test_statement_matches_modulo_whitespace_and_comments(header: str, space: str) -> None:
    source = header + STATEMENT.replace(" :\n", f"{space}-- note\n:") + "\n  simp\n"
    assert statement_matches(source, STATEMENT)
    assert statement_matches(source, STATEMENT + " sorry")
    assert not statement_matches(lean_canary("statement", source) or "", STATEMENT)


def test_kernel_bypass_scan_ignores_comments() -> None:
    assert uses_kernel_bypass("set_option debug.skipKernelTC true\n")
    commented = "-- set_option debug.skipKernelTC true\n/- addDeclWithoutChecking -/"
    assert not uses_kernel_bypass(commented)


def test_checked_file_encodes_the_failed_checks(tmp_path: Path) -> None:
    source = lean_canary("statement", "theorem t (x : Nat) : x + 0 = x := by\n  simp\n") or ""
    path = tmp_path / "t.lean"
    path.write_text(source)
    item = CorpusItem("t", "t", str(path), hashlib.sha256(source.encode()).hexdigest(),
                      formal_statement="theorem t (x : Nat) : x + 0 = x := by")  # fmt: skip
    lean = LeanVerifier(VerifierConfig(name="lean", kind="lean"), work_dir=tmp_path / "w")
    tier = Tier(name="T", timeout_s=5, verifier="lean", options={"check_statement": True})
    assert lean.checked_file(item, tier).name.endswith(".check-statement.lean")
    plain = Tier(name="T", timeout_s=5, verifier="lean")
    assert lean.checked_file(item, plain) == path


@pytest.mark.parametrize("cls", ["sorry", "admit", "axiom", "native_decide", "fake_axioms"])
def test_simulated_checker_reads_canaries_as_lean_does(tmp_path: Path, cls: str) -> None:
    """SLOW's precision (reject sorry, audit with --json) rejects each axiom-ish class."""
    from calib_async.checkers.lean.axioms import plan_audit

    pragma = "-- @sim scale_ms=5 shape=1.5 mem_mb=1 miss=0 flake=0\n"
    plan = plan_audit(lean_canary(cls, pragma + "theorem s : True := by\n  trivial\n") or "")
    path = tmp_path / f"c.h{check_file_suffix((plan.first_line, len(plan.names)), [])}"
    path.write_text(plan.text)
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(CHECKER), "--json", str(path)],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    ran = run(done.stdout.decode(), "--json", str(path))
    fast = classify_lean_result(ran)
    slow = classify_lean_result(ran, reject_sorry=True, audit_axioms=True)
    assert (fast.outcome, slow.outcome) == (Outcome.VERIFIED, Outcome.PROOF_INVALID), done.stdout
