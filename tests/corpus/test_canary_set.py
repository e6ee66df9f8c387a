"""Choosing classes, drawing sources (seeded) and writing canary files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from calib_async.config.canaries import parse_canaries
from calib_async.config.schema import VerifierConfig
from calib_async.corpus.canaries import LEAN_CLASSES
from calib_async.corpus.canary_set import (
    CanaryClass,
    draw_sources,
    resolve_classes,
    write_canaries,
)
from calib_async.errors import CalibError
from calib_async.records import CorpusItem

LEAN = VerifierConfig(name="lean", kind="lean")
COQ = VerifierConfig(
    name="coq",
    command=("coqc", "{file}"),
    canaries=parse_canaries([{"name": "admitted", "find": r"Qed\.", "replace": "Admitted."}], "c"),
)


def item(path: Path, text: str, *, statement: str | None = None) -> CorpusItem:
    path.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return CorpusItem(path.stem, path.stem, str(path), digest, formal_statement=statement)


def test_all_means_lean_classes_for_lean_profiles_plus_declared_ones() -> None:
    assert [c.name for c in resolve_classes(["all"], [LEAN])] == list(LEAN_CLASSES)
    assert [c.name for c in resolve_classes(["all"], [COQ])] == ["admitted"]
    both = [c.name for c in resolve_classes(["all"], [LEAN, COQ])]
    assert both == [*LEAN_CLASSES, "admitted"]
    assert [c.name for c in resolve_classes(["axiom", "axiom"], [LEAN])] == ["axiom"]


def test_unknown_classes_are_one_line_errors() -> None:
    with pytest.raises(CalibError, match=r"^--canaries: unknown class 'nope'; available: admit"):
        resolve_classes(["nope"], [COQ])
    with pytest.raises(CalibError, match=r"^--canaries: unknown class 'sorry' \(a Lean class"):
        resolve_classes(["sorry"], [COQ])
    with pytest.raises(CalibError, match=r"^--canaries all: no class is available"):
        resolve_classes(["all"], [VerifierConfig(name="x", command=("true",))])


def test_draw_is_seeded_and_only_from_eligible_items(tmp_path: Path) -> None:
    items = [item(tmp_path / f"A{i}.lean", f"-- {i}\n") for i in range(30)]
    eligible = {i.item_id for i in items[:20]}
    first = draw_sources(items, eligible, n=5, seed=7)
    assert first == draw_sources(items, eligible, n=5, seed=7)
    assert len(first) == 5 and {i.item_id for i in first} <= eligible
    assert draw_sources(items, eligible, n=5, seed=8) != first
    assert len(draw_sources(items, eligible, n=50, seed=7)) == 20


def test_written_canaries_are_new_files_with_counts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = item(src / "Good.lean", "theorem g : 1 = 1 := rfl\n", statement="theorem g : 1 = 1 :=")
    none = item(src / "Def.lean", "def d : Nat := 1\n")
    before = {p: p.read_bytes() for p in src.iterdir()}
    classes = [CanaryClass("sorry"), CanaryClass("statement")]
    out = tmp_path / "out"
    made = write_canaries([good, none], classes, out, eligible=2)
    assert made.not_applicable == {"sorry": 1, "statement": 1}
    assert [(c.exploit, c.source_id) for c in made.canaries] == [
        ("sorry", "Good"),
        ("statement", "Good"),
    ]
    for canary in made.canaries:
        path = Path(canary.item.path)
        assert path.is_relative_to(out.resolve() / "canaries" / canary.exploit)
        assert path.name == "Good.lean"
        assert canary.item.formal_statement == good.formal_statement
        assert canary.item.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {p: p.read_bytes() for p in src.iterdir()} == before  # the corpus is only read
    again = write_canaries([good, none], classes, out, eligible=2)
    assert again == made  # same bytes, same hashes: a resumed run replays them
