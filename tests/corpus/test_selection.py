"""Corpus loaders and selection, and the example configs in examples/."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.lean import default_lean_config
from calib_async.checkers.lean.profile import LeanVerifier
from calib_async.config.schema import load_checker_config
from calib_async.corpus.selection import (
    load_curriculum,
    load_custom,
    load_mathlib,
    safe_item_id,
    select_corpus,
)
from calib_async.errors import CorpusError
from calib_async.records import CorpusItem
from helpers import EXAMPLES, FIXTURES

SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def check_item(item: CorpusItem) -> None:
    assert SAFE.match(item.item_id) and ".." not in item.item_id
    assert Path(item.path).is_absolute()
    assert item.content_hash == hashlib.sha256(Path(item.path).read_bytes()).hexdigest()


def select(kind: str, tmp_path: Path, **kw: object) -> list[CorpusItem]:
    args: dict[str, object] = {
        "n": 100, "seed": 0, "corpus_path": None, "corpus_filter": None,
        "out_dir": tmp_path / "out", "lean_project": None,
    }  # fmt: skip
    args.update(kw)
    return select_corpus(kind, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Safe ids


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mathlib.Algebra.Group.Basic", "Mathlib.Algebra.Group.Basic"),
        ("mathd_algebra_478", "mathd_algebra_478"),
        ("42", "42"),
    ],
)
def test_safe_ids_keep_safe_names(raw: str, expected: str) -> None:
    assert safe_item_id(raw) == expected


@given(st.text(max_size=300))
def test_safe_ids_are_safe_and_stable(raw: str) -> None:
    item_id = safe_item_id(raw)
    assert SAFE.match(item_id), item_id
    assert ".." not in item_id and len(item_id) <= 120
    assert safe_item_id(raw) == item_id
    assert Path("/out", "attempts", f"{item_id}.lean").parent == Path("/out/attempts")


def test_changed_ids_do_not_collide() -> None:
    assert safe_item_id("a/b") != safe_item_id("a_b")
    assert safe_item_id("../../x").startswith("_")
    assert safe_item_id("..") != safe_item_id(".")


# ---------------------------------------------------------------------------------------------
# JSONL proof attempts


def jsonl(path: Path, *objs: object) -> Path:
    return write(path, "".join(json.dumps(o) + "\n" for o in objs))


def test_jsonl_attempts_both_styles(tmp_path: Path) -> None:
    src = jsonl(
        tmp_path / "attempts.jsonl",
        {"id": "p1", "code": "theorem p1 : True := trivial\n"},
        {
            "name": "mathd_2",
            "header": "import Mathlib",
            "formal_statement": "theorem mathd_2 : 1 + 1 = 2 :=",
            "formal_proof": "by norm_num",
        },
        {"custom_id": 7, "statement": "theorem s : True :=\n", "proof": "  trivial"},
    )
    items = select("custom", tmp_path, corpus_path=src)
    by_id = {i.item_id: i for i in items}
    assert sorted(by_id) == ["7", "mathd_2", "p1"]
    for item in items:
        check_item(item)
        assert Path(item.path).parent == (tmp_path / "out" / "attempts").resolve()
    assert Path(by_id["mathd_2"].path).read_text() == (
        "import Mathlib\ntheorem mathd_2 : 1 + 1 = 2 := by norm_num"
    )
    assert Path(by_id["7"].path).read_text() == "theorem s : True :=\n  trivial"
    # loading again is stable: same ids, same hashes, files not rewritten
    mtime = os.stat(by_id["p1"].path).st_mtime_ns
    assert select("custom", tmp_path, corpus_path=src) == items
    assert os.stat(by_id["p1"].path).st_mtime_ns == mtime


def test_traversal_ids_are_sanitised_and_stay_inside_out_dir(tmp_path: Path) -> None:
    src = jsonl(
        tmp_path / "a.jsonl",
        {"id": "../../x", "code": "-- evil\n"},
        {"id": "/etc/passwd", "code": "-- evil\n"},
        {"id": ".hidden", "code": "-- evil\n"},
        {"id": "..", "code": "-- evil\n"},
    )
    out = tmp_path / "deep" / "out"
    before = {p for p in tmp_path.rglob("*")}
    items = load_custom(src, out_dir=out)
    assert len(items) == 4
    attempts = (out / "attempts").resolve()
    for item in items:
        check_item(item)
        assert Path(item.path).parent == attempts
    created = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    assert len(created) == 4
    assert all(p.resolve().is_relative_to(attempts) for p in created)
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.lean").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"id": "a", "code": "x"}\n{"id": "a", "code": "y"}\n',
            r":2: duplicate id 'a' \(first at line 1\)",
        ),
        (b'{"id": "a", "code": "x"}\n{"id": "b", "code": \n', r":2: not valid JSON"),
        (b'{"id": "a", "code": "x"}\n[1, 2]\n', r":2: expected a JSON object"),
        (b'{"code": "x"}\n', r":1: needs a string or integer 'id'"),
        (b'{"id": true, "code": "x"}\n', r":1: needs a string or integer 'id'"),
        (b'{"id": "a"}\n', r":1: needs 'code', or 'formal_statement'"),
        (b'{"id": "a", "code": 3}\n', r":1: 'code' must be a string"),
        (b'{"id": "a", "code": "x"}\n{"id": "b", "code": "\xff"}\n', r":2: not UTF-8"),
        (b"\n\n", r"corpus is empty"),
    ],
)
def test_bad_jsonl_gives_one_line_error(tmp_path: Path, content: bytes, message: str) -> None:
    src = write(tmp_path / "bad.jsonl", content)
    with pytest.raises(CorpusError, match=message) as info:
        select("custom", tmp_path, corpus_path=src)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out" / "attempts").exists()  # nothing written for a bad file


# ---------------------------------------------------------------------------------------------
# Directories, lists, single files


def test_directory_corpus_skips_hidden_dirs(tmp_path: Path) -> None:
    root = tmp_path / "proofs"
    write(root / "A.lean", "theorem a : True := trivial\n")
    write(root / "Sub" / "B.lean", "theorem b : True := trivial\n")
    write(root / ".lake" / "packages" / "x" / "C.lean", "")
    write(root / "notes.txt", "")
    items = select("custom", tmp_path, corpus_path=root)
    assert [(i.item_id, i.module_name) for i in items] == [("A", "A"), ("Sub.B", "Sub.B")]
    for item in items:
        check_item(item)


def test_directory_with_non_utf8_file(tmp_path: Path) -> None:
    write(tmp_path / "proofs" / "A.lean", b"theorem a : True := trivial\n-- \xe9\n")
    with pytest.raises(CorpusError, match=r"A\.lean:2: not UTF-8"):
        select("custom", tmp_path, corpus_path=tmp_path / "proofs")


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"custom corpus is empty"):
        select("custom", tmp_path, corpus_path=tmp_path / "empty")


def test_list_file_with_paths_and_module_names(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws / "lakefile.toml", "")
    write(ws / "My" / "Mod.lean", "theorem m : True := trivial\n")
    write(ws / ".lake" / "packages" / "mathlib" / "Mathlib" / "Logic" / "Basic.lean", "-- m\n")
    write(tmp_path / "lists" / "proofs" / "P.lean", "theorem p : True := trivial\n")
    listing = write(
        tmp_path / "lists" / "corpus.txt",
        "# a comment\n\nproofs/P.lean\nMy.Mod\n  Mathlib.Logic.Basic  \n",
    )
    items = select("custom", tmp_path, corpus_path=listing, lean_project=ws)
    assert sorted(i.module_name for i in items) == ["Mathlib.Logic.Basic", "My.Mod", "proofs.P"]
    for item in items:
        check_item(item)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("proofs/Missing.lean\n", r"corpus\.txt:1: proofs/Missing\.lean does not exist"),
        ("My.Mod\n", r"corpus\.txt:1: 'My\.Mod' is a module name; pass --lean-project"),
        ("a.lean\n# c\na.lean\n", r"corpus\.txt:3: duplicate entry 'a\.lean' \(first at line 1\)"),
        ("# only comments\n\n", r"custom corpus is empty"),
    ],
)
def test_bad_list_file(tmp_path: Path, content: str, message: str) -> None:
    write(tmp_path / "a.lean", "")
    listing = write(tmp_path / "corpus.txt", content)
    with pytest.raises(CorpusError, match=message):
        select("custom", tmp_path, corpus_path=listing)


def test_list_module_not_in_workspace(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    listing = write(tmp_path / "corpus.txt", "Nope.Mod\n")
    with pytest.raises(CorpusError, match=r"corpus\.txt:1: module Nope\.Mod not found in"):
        select("custom", tmp_path, corpus_path=listing, lean_project=tmp_path / "ws")


def test_list_file_not_utf8(tmp_path: Path) -> None:
    listing = write(tmp_path / "corpus.txt", b"a.lean\nb\xff.lean\n")
    with pytest.raises(CorpusError, match=r"corpus\.txt:2: not UTF-8"):
        select("custom", tmp_path, corpus_path=listing)


def test_single_lean_file_and_missing_path(tmp_path: Path) -> None:
    f = write(tmp_path / "One.lean", "theorem one : True := trivial\n")
    [item] = select("custom", tmp_path, corpus_path=f)
    assert item.item_id == "One"
    check_item(item)
    with pytest.raises(CorpusError, match=r"^--corpus-path .*nowhere does not exist"):
        select("custom", tmp_path, corpus_path=tmp_path / "nowhere")
    with pytest.raises(CorpusError, match=r"^--corpus custom needs --corpus-path"):
        select("custom", tmp_path)


# ---------------------------------------------------------------------------------------------
# Curriculum and Mathlib


def test_curriculum_default_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "experiments" / "curriculum" / "Week1" / "Intro.lean", "-- 1\n")
    write(tmp_path / "other" / "X.lean", "-- 2\n")
    monkeypatch.chdir(tmp_path)
    assert [i.module_name for i in load_curriculum()] == ["Curriculum.Week1.Intro"]
    items = select("curriculum", tmp_path, corpus_path=Path("other"))
    assert [i.module_name for i in items] == ["Curriculum.X"]
    monkeypatch.chdir(tmp_path / "other")
    with pytest.raises(CorpusError, match=r"^curriculum directory .* not found; .*--corpus-path"):
        load_curriculum()


def fake_mathlib(ws: Path, modules: list[str]) -> Path:
    write(ws / "lakefile.toml", 'name = "ws"\n')
    pkg = ws / ".lake" / "packages" / "mathlib"
    write(pkg / "lakefile.lean", "")
    for module in modules:
        write(pkg / Path(*module.split(".")).with_suffix(".lean"), f"-- {module}\n")
    return ws


MODULES = [f"Mathlib.{area}.M{i}" for area in ("Algebra", "Topology", "Logic") for i in range(10)]


@pytest.fixture
def lean_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{FIXTURES}{os.pathsep}{os.environ.get('PATH', '')}")


def test_mathlib_workspace(tmp_path: Path, lean_on_path: None) -> None:
    ws = fake_mathlib(tmp_path / "ws", MODULES)
    items = load_mathlib(ws)
    assert sorted(i.module_name for i in items) == sorted(MODULES)
    assert all(i.item_id == i.module_name for i in items)
    for item in items:
        check_item(item)
    # a workspace that is Mathlib itself
    own = tmp_path / "mathlib4"
    write(own / "lakefile.lean", "")
    write(own / "Mathlib" / "Order" / "Basic.lean", "")
    assert [i.module_name for i in load_mathlib(own)] == ["Mathlib.Order.Basic"]


def test_mathlib_errors_say_what_to_install(
    tmp_path: Path, lean_on_path: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CorpusError, match=r"workspace .* does not exist; install Lean with elan"):
        load_mathlib(tmp_path / "missing")
    (tmp_path / "bare").mkdir()
    with pytest.raises(CorpusError, match=r"no Mathlib sources .*`lake exe cache get`"):
        load_mathlib(tmp_path / "bare")
    monkeypatch.chdir(tmp_path / "bare")
    with pytest.raises(CorpusError, match=r"needs a Lake workspace; .*--lean-project"):
        load_mathlib(None)
    monkeypatch.setenv("PATH", str(tmp_path / "bare"))
    with pytest.raises(
        CorpusError, match=r"lake and lean not found on PATH; install Lean with elan"
    ):
        load_mathlib(tmp_path / "bare")


# ---------------------------------------------------------------------------------------------
# Selection: filter and seeded sampling


def test_filter_and_seeded_sampling(tmp_path: Path, lean_on_path: None) -> None:
    ws = fake_mathlib(tmp_path / "ws", MODULES)
    topo = select("mathlib", tmp_path, lean_project=ws, corpus_filter=r"\.Topology\.")
    assert [i.module_name for i in topo] == sorted(m for m in MODULES if ".Topology." in m)
    a = select("mathlib", tmp_path, lean_project=ws, n=7, seed=3)
    b = select("mathlib", tmp_path, lean_project=ws, n=7, seed=3)
    c = select("mathlib", tmp_path, lean_project=ws, n=7, seed=4)
    assert a == b and len(a) == 7
    assert a != c
    assert [i.item_id for i in a] == sorted(i.item_id for i in a)
    # filter first, then sample: everything sampled matches
    d = select("mathlib", tmp_path, lean_project=ws, n=3, seed=1, corpus_filter="Logic")
    assert len(d) == 3 and all("Logic" in i.module_name for i in d)


def test_bad_and_unmatched_filter(tmp_path: Path) -> None:
    f = write(tmp_path / "One.lean", "")
    with pytest.raises(CorpusError, match=r"^--corpus-filter: cannot use regex \(: missing \)"):
        select("custom", tmp_path, corpus_path=f, corpus_filter="(")
    with pytest.raises(CorpusError, match=r"^no module of the custom corpus \(1 items\) matches"):
        select("custom", tmp_path, corpus_path=f, corpus_filter="^Zzz")


def test_synthetic_goes_through_the_given_generator(tmp_path: Path) -> None:
    calls: list[tuple[int, Path, int]] = []

    def generate(n: int, out_dir: Path, seed: int) -> list[CorpusItem]:
        calls.append((n, out_dir, seed))
        return [
            CorpusItem(f"syn{i:03d}", f"Synthetic.P{i:03d}", str(out_dir / f"{i}.lean"), "0" * 64)
            for i in range(n)
        ]

    items = select("synthetic", tmp_path, n=5, seed=9, synthetic=generate)
    assert calls == [(5, tmp_path / "out", 9)]
    assert [i.item_id for i in items] == [f"syn{i:03d}" for i in range(5)]
    with pytest.raises(CorpusError, match=r"^unknown corpus 'nope'"):
        select("nope", tmp_path)


# ---------------------------------------------------------------------------------------------
# examples/


@pytest.mark.parametrize("name", ["lean-mathlib.yaml", "lean-attempts.yaml", "coq.yaml"])
def test_example_configs_parse(name: str) -> None:
    config = load_checker_config(EXAMPLES / name, default_lean_config())
    assert config.tiers, name
    for tier in config.tiers.values():
        assert tier.verifier in config.verifiers
    for profile in config.verifiers.values():
        if profile.kind == "lean":
            LeanVerifier(profile)  # options are valid


def test_example_attempts_load(tmp_path: Path) -> None:
    items = load_custom(EXAMPLES / "attempts.jsonl", out_dir=tmp_path)
    assert len(items) >= 3
    for item in items:
        check_item(item)
