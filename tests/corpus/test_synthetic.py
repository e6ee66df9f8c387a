from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from calib_async.checkers.simulated.profile import CHECKER
from calib_async.corpus.synthetic import generate_synthetic_corpus, load_manifest


def run_checker(path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(CHECKER), *flags, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def proof(tmp_path: Path, body: str, pragma: str = "scale_ms=5 mem_mb=1") -> Path:
    path = tmp_path / "P.lean"
    path.write_text(f"-- @sim {pragma}\ntheorem t : True := by\n{body}\n")
    return path


def test_corpus_is_deterministic_and_manifest_has_truth(tmp_path: Path) -> None:
    a = generate_synthetic_corpus(40, tmp_path / "a", seed=7)
    b = generate_synthetic_corpus(40, tmp_path / "b", seed=7)
    assert [i.content_hash for i in a] == [i.content_hash for i in b]
    c = generate_synthetic_corpus(40, tmp_path / "c", seed=8)
    assert [i.content_hash for i in a] != [i.content_hash for i in c]
    manifest = load_manifest(tmp_path / "a")
    assert set(manifest) == {i.item_id for i in a}
    kinds = {m["kind"] for m in manifest.values()}
    assert {"valid", "error"} <= kinds
    assert all(m["valid"] == (m["kind"] == "valid") for m in manifest.values())


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ("  trivial", 0, ""),
        ("  sorry", 0, "warning: declaration uses 'sorry'"),
        ("  exact absurd_lemma_1", 1, "error: unknown identifier 'absurd_lemma_1'"),
        ("  native_decide", 0, ""),
    ],
)
def test_checker_prints_lean_formats(tmp_path: Path, body: str, code: int, needle: str) -> None:
    path = proof(tmp_path, body)
    out = run_checker(path)
    assert out.returncode == code, out
    assert needle in out.stdout
    if needle:
        assert out.stdout.startswith(f"{path}:")


def test_axiom_lines_answered_like_lean(tmp_path: Path) -> None:
    path = proof(tmp_path, "  native_decide\n#print axioms t")
    out = run_checker(path)
    assert "'t' depends on axioms: [Classical.choice, Lean.ofReduceBool, Quot.sound, propext]" in (
        out.stdout
    )


def test_runs_are_reproducible_and_seed_changes_draws(tmp_path: Path) -> None:
    path = proof(tmp_path, "  trivial", "scale_ms=5 mem_mb=1 flake=0.5")
    first = [run_checker(path, "--seed", str(s)).returncode for s in range(8)]
    again = [run_checker(path, "--seed", str(s)).returncode for s in range(8)]
    assert first == again
    assert len(set(first)) == 2  # flake=0.5 over 8 seeds: both outcomes appear


def test_checker_burns_real_cpu(tmp_path: Path) -> None:
    import resource

    path = proof(tmp_path, "  trivial", "scale_ms=400 shape=50 mem_mb=1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_checker(path, "--burn", "1.0")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert cpu > 0.2
