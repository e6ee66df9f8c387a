"""The examples/ configs run as written against the real tools they name."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import run_env

EXAMPLES = Path(__file__).parents[1] / "examples"
PROOFS = {
    "Good.v": "Lemma good : 1 + 1 = 2.\nProof. reflexivity. Qed.\n",
    "Also.v": "Lemma also : True.\nProof. exact I. Qed.\nPrint Assumptions also.\n",
    "Bad.v": "Lemma bad : 1 + 1 = 3.\nProof. reflexivity. Qed.\n",
    "Sneaky.v": "Lemma sneaky : 1 + 1 = 3.\nProof. Admitted.\nPrint Assumptions sneaky.\n",
}


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (names and bytes), and every directory."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.skipif(shutil.which("coqc") is None, reason="needs coqc (apt-get install coq)")
def test_coq_example_leaves_the_corpus_byte_identical_and_counts_admitted_canaries(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in PROOFS.items():
        (corpus / name).write_text(text)
    listing = tmp_path / "proofs.txt"
    listing.write_text("".join(f"{corpus / name}\n" for name in PROOFS))
    before = tree(corpus)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "calib_async", "--config", str(EXAMPLES / "coq.yaml"),
         "--corpus", "custom", "--corpus-path", str(listing), "--n", "4",
         "--tiers", "FAST", "SLOW", "--export", str(tmp_path / "coq.yaml"),
         "--output-dir", str(out), "--label-sample", "8", "--bootstrap", "0", "--no-report",
         "--no-progress", "--canaries", "admitted", "--canary-sample", "4"],
        cwd=tmp_path, env=run_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert tree(corpus) == before  # nothing compiled next to the corpus, nothing changed
    records = [
        yaml.safe_load(line) for line in (out / "telemetry.jsonl").read_text().splitlines()[1:]
    ]
    outcome = {  # item ids are the list's paths as module names: corpus.Good
        (r["item_id"].removeprefix("corpus."), r["tier"], r["phase"]): r["outcome"]
        for r in records
    }
    for tier in ("FAST", "SLOW"):
        assert outcome["Good", tier, "telemetry"] == "VERIFIED"
        assert outcome["Also", tier, "telemetry"] == "VERIFIED"
        assert outcome["Bad", tier, "telemetry"] == "PROOF_INVALID"
        assert outcome["Sneaky", tier, "telemetry"] == "PROOF_INVALID"  # Axioms: sneaky
    export = yaml.safe_load((tmp_path / "coq.yaml").read_text())
    admitted = export["noise_models"]["fast"]["canaries"]["admitted"]
    # canaries of Good (no Print Assumptions) pass: coqc accepts Admitted silently, and no
    # rule matches the canary's path (canaries/admitted/...); Also's canary is caught
    runs = {r["item_id"].removeprefix("corpus."): r["outcome"] for r in records
            if r["phase"] == "canary" and r["tier"] == "FAST"}  # fmt: skip
    assert runs == {"Good.canary-admitted": "VERIFIED", "Also.canary-admitted": "PROOF_INVALID"}
    assert admitted["passed"] == 1 and admitted["run"] == 2
    checker = export["calibration_metadata"]["checkers"]["coqc"]
    assert checker["version"].startswith("The Coq Proof Assistant")
