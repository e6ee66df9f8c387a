"""The Lean profile's axiom audit (pure): parsing ``#print axioms``, the allowlist, declared
names, the audit source, and how an audited run is classified."""

from __future__ import annotations

from calib_async.checkers.lean.axioms import declared_names, plan_audit, strip_comments
from calib_async.checkers.lean.profile import (
    audit_source,
    classify_lean_result,
    forbidden_axioms,
    parse_axioms,
)
from calib_async.records import Outcome
from helpers.lean_profile import (
    json_msg,
    result,
    text_msg,
)

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
