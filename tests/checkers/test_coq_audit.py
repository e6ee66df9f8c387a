"""The Coq assumptions audit: names found, and on real coqc an Admitted proof is INVALID."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from calib_async.checkers.command.coq_audit import audited_text, theorem_names
from helpers import EXAMPLES, run_env

SOURCE = """(* Theorem in_a_comment : False. (* nested *) *)
Module M.
Theorem t1 : 1 + 1 = 2.
Proof. reflexivity. Qed.
Module Type S. Parameter p : nat. End S.
End M.
Section Sec.
Lemma l2 : True.
Proof. exact I. Qed.
End Sec.
Module Type T.
Axiom hidden : False.
Definition in_type := 0.
End T.
#[local] Instance i3 : True := I.
"""


def test_names_are_qualified_by_modules_not_sections_and_skip_comments() -> None:
    assert theorem_names(SOURCE) == ["M.t1", "l2", "i3"]


def test_audited_text_appends_one_print_assumptions_per_name() -> None:
    text = audited_text(SOURCE)
    assert text.startswith(SOURCE.rstrip("\n"))
    assert text.rstrip().splitlines()[-3:] == [
        "Print Assumptions M.t1.",
        "Print Assumptions l2.",
        "Print Assumptions i3.",
    ]


@pytest.mark.skipif(shutil.which("coqc") is None, reason="needs coqc")
def test_shipped_coq_example_labels_an_admitted_proof_invalid(tmp_path: Path) -> None:
    good = tmp_path / "Good.v"
    good.write_text("Theorem good : 1 + 1 = 2.\nProof. reflexivity. Qed.\n")
    admitted = tmp_path / "Admit.v"
    admitted.write_text("Theorem bad : 1 + 1 = 3.\nProof. Admitted.\n")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{good}\n{admitted}\n")
    out = tmp_path / "out"
    args = [
        "--config", str(EXAMPLES / "coq.yaml"), "--corpus", "custom",
        "--corpus-path", str(listing), "--n", "2", "--tiers", "FAST",
        "--output-dir", str(out), "--export", str(out / "cal.yaml"), "--label-sample", "4",
        "--bootstrap", "0", "--no-report", "--no-progress", "--log-level", "ERROR",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "calib_async", *args],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    items = json.loads((out / "labels.json").read_text())["items"]
    # every FAST run passed the Admitted proof; the audit reference says INVALID
    assert items["Admit"]["truth"] == "INVALID"
    assert items["Good"]["truth"] == "VERIFIED"
    log = [json.loads(line) for line in (out / "telemetry.jsonl").read_text().splitlines()]
    fast = [r for r in log if r.get("tier") == "FAST" and r.get("item_id") == "Admit"]
    assert fast and all(r["outcome"] == "VERIFIED" for r in fast)
