"""The canary rewrites (pure): built-in Lean classes and profile-declared generic classes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.lean.axioms import strip_comments
from calib_async.config.canaries import parse_canaries
from calib_async.corpus.canaries import (
    CHEAT_AXIOM,
    LEAN_CLASSES,
    first_theorem,
    generic_canary,
    lean_canary,
)

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
types = st.sampled_from(["1 + 1 = 2", "x + 0 = x", "∀ n : Nat, n = n", "(a, b).1 = a"])
proofs = st.sampled_from(["by\n  simp", "rfl", "by\n  intro n\n  rfl", "by decide"])
preludes = st.sampled_from(["", "import Mathlib\n", "import Mathlib\n-- theorem fake : x := y\n"])
trailers = st.sampled_from(["", "\ntheorem other : True := trivial\n", "\nend Foo\n"])


@st.composite
def lean_sources(draw: st.DrawFn) -> tuple[str, str, str, str]:
    prelude, name, typ = draw(preludes), draw(names), draw(types)
    proof, trailer = draw(proofs), draw(trailers)
    binders = draw(st.sampled_from(["", " (x : Nat)", " {a b : Nat} (h : a = b := by rfl)"]))
    head = f"{prelude}/-- doc -/\ntheorem {name}{binders} : {typ} :="
    return head + f" {proof}\n" + trailer, name, typ, trailer


@given(lean_sources(), st.sampled_from(LEAN_CLASSES))
def test_every_class_rewrites_the_first_theorem_and_keeps_the_rest(
    case: tuple[str, str, str, str], cls: str
) -> None:
    source, name, typ, trailer = case
    canary = lean_canary(cls, source)
    assert canary is not None and canary != source
    assert canary.endswith(trailer)  # later declarations are untouched
    if cls != "statement":  # the statement is kept, only the proof changes
        assert f"theorem {name}" in canary and f": {typ} :=" in canary
        assert canary.count(":=") >= source.count(":=") - 1
    expected = {
        "sorry": "by\n  sorry\n",
        "admit": "by\n  admit\n",
        "axiom": f"axiom {CHEAT_AXIOM} : False",
        "native_decide": "by native_decide",
        "skip_kernel": "set_option debug.skipKernelTC true",
        "statement": f"theorem {name} : True := trivial\n",
        "fake_axioms": 'does not depend on any axioms"\n#exit\n',
    }[cls]
    assert expected in canary
    if cls in ("axiom", "native_decide", "skip_kernel", "fake_axioms"):
        # helpers come before the doc comment, which stays attached to the theorem
        assert "/-- doc -/\ntheorem" in canary
    if cls == "skip_kernel":
        assert "import Lean\n" in canary and canary.index("import Lean") < canary.index("section")


def test_not_applicable_without_a_theorem_or_with_a_true_statement() -> None:
    for cls in LEAN_CLASSES:
        assert lean_canary(cls, "def f : Nat := 1\n-- theorem a : b := c\n") is None
    assert lean_canary("statement", "theorem t : True := by\n  trivial\n") is None
    assert lean_canary("sorry", "theorem t : 1 = 1 := by\n  sorry\n") is None  # nothing to do
    with pytest.raises(ValueError, match=r"^unknown built-in canary class 'nope'$"):
        lean_canary("nope", "theorem t : 1 = 1 := rfl\n")


def test_equation_definitions_are_skipped_and_the_next_theorem_used() -> None:
    source = "theorem f : Nat → Nat\n  | 0 => 0\n  | n + 1 => n\n\ntheorem g : 1 = 1 := rfl\n"
    decl = first_theorem(source)
    assert decl is not None and decl.name == "g"
    assert lean_canary("sorry", source) == source.replace(":= rfl\n", ":= by\n  sorry\n")


@given(st.text(alphabet='ab-/\n"{}', max_size=60))
def test_comment_masking_keeps_length_and_lines(text: str) -> None:
    masked = strip_comments(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [
        i for i, c in enumerate(text) if c == "\n"
    ]


def _spec(**entry: object):  # one parsed generic class
    return parse_canaries([{"name": "c", **entry}], "verifier 'v'")[0]


@given(st.text(alphabet="Qed. x\n", max_size=40), st.sampled_from(["first", "all"]))
def test_regex_rewrite_matches_python_re(source: str, count: str) -> None:
    spec = _spec(find=r"Qed\.", replace="Admitted.", count=count)
    got = generic_canary(spec, source)
    want, n = re.subn(r"Qed\.", "Admitted.", source, count=1 if count == "first" else 0)
    assert got == (want if n else None)


@given(st.text(max_size=30), st.text(min_size=1, max_size=10))
def test_append_and_prepend(source: str, extra: str) -> None:
    assert generic_canary(_spec(append=extra), source) == source + extra
    assert generic_canary(_spec(prepend=extra), source) == extra + source


def test_replacement_groups() -> None:
    spec = _spec(find=r"Lemma (\w+)", replace=r"Axiom \1")
    assert generic_canary(spec, "Lemma a : True.\nLemma b : True.") == (
        "Axiom a : True.\nLemma b : True."
    )
