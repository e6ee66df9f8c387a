"""Property tests for the output classifiers: the generic rule profile, the Lean classifier, and
the runner's overrides in ``classify_run``. They never raise, are deterministic, and the runner's
decisions (timeout, memory, spawn error, process limit) win over any output.

(The canonical JSON round trip is property-tested in tests/test_canonical.py.)
"""

from __future__ import annotations

import json
import re
import signal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calib_async.checkers.command.profile import CommandVerifier
from calib_async.checkers.lean.messages import parse_messages
from calib_async.checkers.lean.profile import LeanVerifier, classify_lean_result
from calib_async.checkers.oneshot import Verdict, as_signal_death, classify_run
from calib_async.config.schema import Rule, VerifierConfig
from calib_async.records import Outcome, Tier, TimeoutKind
from calib_async.runner.spec import ExecResult, Termination

TIER = Tier("T", timeout_s=1.0, verifier="v")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- output strategies ------------------------------------------------------------------------

_LEAN_LINES = [
    "f.lean:{n}:0: error: unknown identifier 'x'",
    "f.lean:{n}:2: error(lean.unknownIdentifier): unknown constant",
    "f.lean:{n}:0: warning: declaration uses 'sorry'",
    "f.lean:{n}:0: warning: declaration uses `sorry`",
    "f.lean:{n}:4: error: (deterministic) timeout at `whnf`, maximum number of heartbeats "
    "(200000) has been reached",
    "f.lean:{n}:0: error: (kernel) deterministic timeout",
    "f.lean:{n}:0: error: (kernel) deep recursion detected",
    "f.lean:{n}:0: error: (kernel) excessive memory consumption detected",
    "INTERNAL PANIC: out of memory",
    "std::bad_alloc",
    "Stack overflow detected. Aborting.",
    "'thm{n}' depends on axioms: [propext, Classical.choice, Quot.sound]",
    "'thm{n}' depends on axioms: [sorryAx]",
    "'thm{n}' depends on axioms: [Lean.ofReduceBool]",
    "'thm{n}' does not depend on any axioms",
    "error: f.lean:{n}:1: lake style error",
    "  continuation of the previous message",
    "",
]


@st.composite
def json_line(draw: st.DrawFn) -> str:
    obj: dict[str, object] = {
        "severity": draw(st.sampled_from(["information", "warning", "error", "bogus"])),
        "data": draw(st.one_of(st.text(max_size=40), st.sampled_from(_LEAN_LINES))),
    }
    if draw(st.booleans()):
        obj["pos"] = {"line": draw(st.integers(-5, 10**6)), "column": draw(st.integers(0, 99))}
    if draw(st.booleans()):
        obj["fileName"] = draw(st.text(max_size=20))
    if draw(st.booleans()):
        obj["kind"] = draw(st.sampled_from(["lean.x._namedError", 3, None]))
    return json.dumps(obj)


@st.composite
def lean_text(draw: st.DrawFn) -> bytes:
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(_LEAN_LINES).map(lambda s: s.replace("{n}", "7")),
                st.builds(
                    lambda s, n: s.replace("{n}", str(n)),
                    st.sampled_from(_LEAN_LINES),
                    st.integers(0, 10**9),
                ),
                json_line(),
                st.text(max_size=60),
            ),
            max_size=12,
        )
    )
    data = "\n".join(parts).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):  # splice raw garbage in: invalid UTF-8, NUL, lone CR
        junk = draw(st.binary(max_size=30))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + junk + data[at:]
    return data


outputs = st.one_of(st.binary(max_size=400), lean_text())
exit_codes = st.one_of(st.none(), st.integers(-300, 300), st.sampled_from([0, 1, 137, 139]))
signals = st.one_of(st.none(), st.sampled_from([1, 6, 9, 11, 15, 25, 64]))


@st.composite
def results(draw: st.DrawFn, *, termination: Termination | None = None) -> ExecResult:
    stdout, stderr = draw(outputs), draw(outputs)
    code = draw(exit_codes)
    sig = None if code is not None else draw(signals)
    argv = ("lean", draw(st.sampled_from(["f.lean", "x.audit-L3-D2.lean", "/tmp/a b.lean"])))
    return ExecResult(
        argv=argv,
        termination=termination or Termination.EXITED,
        exit_code=code,
        signal=sig,
        duration_ms=draw(st.floats(0, 1e6)),
        cpu_time_ms=0.0,
        memory_peak_mb=0.0,
        memory_peak_source="rusage",
        memory_peak_is_floor=False,
        memory_final_mb=0.0,
        stdout=stdout,
        stderr=stderr,
        stdout_bytes=len(stdout),
        stderr_bytes=len(stderr),
        message=draw(st.one_of(st.none(), st.text(max_size=30))),
    )


# -- rule strategies --------------------------------------------------------------------------

_PATTERNS = ["error", "(?i)sorry", "^ok$", r"\d+", "out of memory|bad_alloc", ".", "", "x{2,}"]


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    codes = draw(st.one_of(st.none(), st.lists(st.integers(-2, 140), min_size=1, max_size=3)))
    pattern = draw(st.one_of(st.none(), st.sampled_from(_PATTERNS)))
    return Rule(
        outcome=draw(st.sampled_from(list(Outcome))),
        exit_codes=tuple(codes) if codes is not None else None,
        output=re.compile(pattern, re.MULTILINE) if pattern is not None else None,
    )


def command(rule_list: list[Rule], default: Outcome) -> CommandVerifier:
    return CommandVerifier(
        VerifierConfig(name="v", command=("c",), rules=tuple(rule_list), default=default)
    )


def reference(rule_list: list[Rule], default: Outcome, result: ExecResult) -> Outcome:
    """First match wins; no match: VERIFIER_ERROR for a signal death, else the default."""
    text = result.output_text
    for rule in rule_list:
        if rule.exit_codes is not None and result.exit_code not in rule.exit_codes:
            continue
        if rule.output is not None and not rule.output.search(text):
            continue
        return rule.outcome
    return Outcome.VERIFIER_ERROR if result.exit_code is None else default


# -- the generic rule profile -----------------------------------------------------------------


@SETTINGS
@given(st.lists(rules(), max_size=6), st.sampled_from(list(Outcome)), results())
def test_command_rules_first_match_wins(
    rule_list: list[Rule], default: Outcome, result: ExecResult
) -> None:
    v = command(rule_list, default)
    verdict = v.classify(result, TIER)
    assert isinstance(verdict, Verdict)
    assert verdict.outcome == reference(rule_list, default, result)
    assert v.classify(result, TIER) == verdict  # deterministic
    if verdict.outcome is Outcome.VERIFIED:
        assert verdict.first_error is None


@SETTINGS
@given(st.sampled_from(list(Outcome)), st.lists(rules(), max_size=4), results())
def test_rules_after_a_catch_all_never_matter(
    outcome: Outcome, later: list[Rule], result: ExecResult
) -> None:
    catch_all = Rule(outcome=outcome)
    assert command([catch_all, *later], Outcome.PROOF_INVALID).classify(result, TIER).outcome == (
        outcome
    )


# -- the Lean classifier ----------------------------------------------------------------------


@SETTINGS
@given(results(), st.booleans(), st.booleans())
def test_lean_classifier_never_raises_and_is_deterministic(
    result: ExecResult, reject_sorry: bool, audit: bool
) -> None:
    first = classify_lean_result(result, reject_sorry=reject_sorry, audit_axioms=audit)
    again = classify_lean_result(result, reject_sorry=reject_sorry, audit_axioms=audit)
    assert first == again
    assert first.outcome is not Outcome.VERIFIED or result.exit_code == 0  # failure never passes
    assert (first.timeout_kind is TimeoutKind.HEARTBEAT) == (
        first.outcome is Outcome.VERIFIER_TIMEOUT
    )
    if first.outcome is Outcome.VERIFIED:
        assert first.first_error is None


@SETTINGS
@given(results())
def test_sigkill_or_status_137_is_memory_whatever_the_output(result: ExecResult) -> None:
    from dataclasses import replace

    for killed in (
        replace(result, exit_code=None, signal=signal.SIGKILL),
        replace(result, exit_code=137, signal=None),
    ):
        verdict = classify_lean_result(killed, reject_sorry=True, audit_axioms=True)
        assert verdict.outcome is Outcome.MEMORY_LIMIT_EXCEEDED


@SETTINGS
@given(results(), st.booleans())
def test_stricter_lean_tiers_only_reject_more(result: ExecResult, audit: bool) -> None:
    """A proof that passes the strict tier passes the lenient one (argv has no audit file, so
    the audit only adds reasons to reject)."""
    from dataclasses import replace

    result = replace(result, argv=("lean", "f.lean"))
    strict = classify_lean_result(result, reject_sorry=True, audit_axioms=audit)
    lenient = classify_lean_result(result, reject_sorry=False, audit_axioms=False)
    if strict.outcome is Outcome.VERIFIED:
        assert lenient.outcome is Outcome.VERIFIED
    if lenient.outcome is not Outcome.VERIFIED:
        assert strict.outcome == lenient.outcome


@SETTINGS
@given(st.text(max_size=300))
def test_message_parser_never_raises(text: str) -> None:
    messages, leftover = parse_messages(text)
    assert all(m.severity is not None for m in messages)
    assert len(leftover.splitlines()) <= len(text.splitlines())


# -- the runner's overrides -------------------------------------------------------------------


class _Exploding:
    """A profile whose classifier must not be consulted."""

    name = "boom"

    def classify(self, result: ExecResult, tier: Tier) -> Verdict:
        raise AssertionError("the profile was asked about a run the runner decided")


_RUNNER_DECIDES = {
    Termination.TIMEOUT: Outcome.VERIFIER_TIMEOUT,
    Termination.CANCELLED: Outcome.VERIFIER_TIMEOUT,
    Termination.MEMORY: Outcome.MEMORY_LIMIT_EXCEEDED,
    Termination.SPAWN_ERROR: Outcome.VERIFIER_ERROR,
    Termination.PROCESS_LIMIT: Outcome.VERIFIER_ERROR,
}


@SETTINGS
@given(st.data())
def test_runner_decisions_win_over_any_output(data: st.DataObject) -> None:
    termination = data.draw(st.sampled_from(sorted(_RUNNER_DECIDES)))
    result = data.draw(results(termination=termination))
    verdict = classify_run(_Exploding(), result, TIER)  # type: ignore[arg-type]
    assert verdict.outcome is _RUNNER_DECIDES[termination]
    if verdict.outcome is Outcome.VERIFIER_TIMEOUT:
        assert verdict.timeout_kind is TimeoutKind.WALL


@SETTINGS
@given(results(), st.lists(rules(), max_size=4))
def test_exited_runs_are_the_profiles_to_classify(result: ExecResult, rule_list: list) -> None:
    """...with a status 128+N shown as signal N, and a SIGKILL the runner did not send (or a
    status of 137) read as the OOM killer's, as with --sandbox bwrap (issue 15)."""
    seen = as_signal_death(result)
    for v in (
        LeanVerifier(VerifierConfig(name="lean", kind="lean")),
        command(rule_list, Outcome.PROOF_INVALID),
    ):
        verdict = classify_run(v, result, TIER)
        if result.termination is not Termination.EXITED:
            continue
        if seen.signal == signal.SIGKILL:
            assert verdict.outcome is Outcome.MEMORY_LIMIT_EXCEEDED
        else:
            assert verdict == v.classify(seen, TIER)
