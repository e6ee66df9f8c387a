"""A non-Lean checker described only by YAML, end to end through the CLI, with consensus
between two profiles that disagree on some items."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from helpers import run_env

CONFIG = """
verifiers:
  lenient:            # passes everything that is not marked broken
    command: ["sh", "{checker}", "lenient", "{{file}}"]
    rules:
      - {{exit_code: 0, outcome: VERIFIED}}
      - {{exit_code: 1, output: "error", outcome: PROOF_INVALID}}
    default: VERIFIER_ERROR
  strict:             # also rejects files marked dubious
    command: ["sh", "{checker}", "strict", "{{file}}"]
    rules:
      - {{exit_code: 0, outcome: VERIFIED}}
      - {{exit_code: [1, 2], outcome: PROOF_INVALID}}
tiers:
  QUICK: {{timeout_s: 2, verifier: lenient, grace_s: 0.2}}
  CAREFUL: {{timeout_s: 4, verifier: strict, grace_s: 0.2}}
consensus_verifiers: [lenient, strict]
"""

CHECKER = """\
mode=$1; file=$2
if grep -q broken "$file"; then echo "$file:1:0: error: broken proof"; exit 1; fi
if [ "$mode" = strict ] && grep -q dubious "$file"; then
  echo "$file:1:0: error: dubious step"; exit 2
fi
exit 0
"""


def test_yaml_profile_runs_end_to_end_and_consensus_ties_are_undetermined(tmp_path: Path) -> None:
    checker = tmp_path / "checker.sh"
    checker.write_text(CHECKER)
    config = tmp_path / "checkers.yaml"
    config.write_text(CONFIG.format(checker=checker))
    corpus = tmp_path / "proofs"
    corpus.mkdir()
    kinds = {"good": "ok", "bad": "broken", "dubious": "dubious"}
    for i in range(9):
        kind = list(kinds)[i % 3]
        (corpus / f"P{i}_{kind}.lean").write_text(f"theorem t{i} : True := {kinds[kind]}\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable, "-m", "calib_async", "--config", str(config), "--corpus", "custom",
            "--corpus-path", str(corpus), "--tiers", "QUICK", "CAREFUL", "--n", "9",
            "--export", str(out / "calibration.yaml"), "--output-dir", str(out),
            "--workers", "4", "--bootstrap", "0", "--no-report",
        ],
        capture_output=True, text=True, env=run_env(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((out / "calibration.yaml").read_text())
    assert set(data["noise_models"]) == {"quick", "careful"}
    labels = json.loads((out / "labels.json").read_text())["items"]
    by_kind = {kind: [lab for i, lab in labels.items() if i.endswith(kind)] for kind in kinds}
    # confidence is the posterior under the reference's error model: high, not certainty
    assert all(lab["truth"] == "VERIFIED" and lab["confidence"] > 0.5 for lab in by_kind["good"])
    assert all(lab["truth"] == "INVALID" and lab["confidence"] > 0.5 for lab in by_kind["bad"])
    # the two profiles disagree on dubious items: a tie, left undetermined for manual labels
    assert all(lab["truth"] == "UNDETERMINED" for lab in by_kind["dubious"])
    assert all(lab["confidence"] < 1 for lab in by_kind["dubious"])
    # deterministic profiles: every repeat of adaptive resolution splits the same way
    assert all(lab["votes"]["VERIFIED"] == lab["votes"]["INVALID"] for lab in by_kind["dubious"])
    assert all(lab["reason"] == "split_vote" for lab in by_kind["dubious"])
    quick = data["noise_models"]["quick"]
    assert quick["timeout_rate"] == 0.0
