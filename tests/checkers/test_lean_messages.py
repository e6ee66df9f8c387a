"""The Lean profile's pure classification: every message case in both formats, runtime failures,
and message parsing."""

from __future__ import annotations

import dataclasses
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calib_async.checkers.lean.messages import Severity, parse_messages
from calib_async.checkers.lean.profile import (
    classify_lean_result,
    parse_lean_version,
)
from calib_async.checkers.oneshot import classify_run
from calib_async.records import Outcome, Tier, TimeoutKind
from calib_async.runner.spec import ExecResult, Termination
from helpers.lean_profile import (
    HEARTBEAT_NEW,
    HEARTBEAT_OLD,
    json_msg,
    result,
    text_msg,
    tier,
)

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
