"""Small shell checkers for end-to-end tests: a corpus of marked files, a ``kind: command``
config, and a checker that records every start (to count processes a command started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from helpers import run_env

# The checker: records its start, sleeps when the file says SLOW, prints "Admitted" for an
# invalid proof, and exits 0 either way (so an exit-code-only profile passes everything).
CHECKER = """\
echo "$1" >> "$STARTS"
if grep -q SLOW "$1"; then sleep 0.5; fi
if grep -q ADMITTED "$1"; then echo "Admitted"; fi
exit 0
"""


def write_corpus(d: Path, kinds: dict[str, int]) -> Path:
    """``kinds``: ``valid`` / ``invalid`` / ``slow_invalid`` / ``slow_valid`` -> how many."""
    corpus = d / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    text = {
        "valid": "Theorem t : True. Qed.\n",
        "invalid": "Theorem t : False. ADMITTED\n",
        "slow_invalid": "Theorem t : False. SLOW ADMITTED\n",
        "slow_valid": "Theorem t : True. SLOW Qed.\n",
    }
    for kind, count in kinds.items():
        for i in range(count):
            (corpus / f"{kind}{i}.lean").write_text(text[kind])
    return corpus


def write_config(
    d: Path,
    *,
    tiers: dict[str, dict],
    consensus: list[str],
    strict_timeout_s: float = 5.0,
) -> tuple[Path, Path]:
    """The config file and the starts log. Profiles: ``lax`` (exit code only), ``strict`` and
    ``strict2`` (an ``Admitted`` in the output rejects)."""
    checker = d / "check.sh"
    checker.write_text(CHECKER)
    starts = d / "starts.log"
    base = {"command": ["sh", str(checker), "{file}"], "env": {"STARTS": str(starts)}}
    strict_rules = [
        {"output": "Admitted", "outcome": "PROOF_INVALID"},
        {"exit_code": 0, "outcome": "VERIFIED"},
    ]
    verifiers = {
        "lax": {**base, "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]},
        "strict": {**base, "rules": strict_rules, "options": {"timeout_s": strict_timeout_s}},
        "strict2": {**base, "rules": strict_rules, "options": {"timeout_s": strict_timeout_s}},
    }
    config = d / "checkers.yaml"
    config.write_text(
        yaml.safe_dump({"verifiers": verifiers, "tiers": tiers, "consensus_verifiers": consensus})
    )
    return config, starts


def calibrate(
    d: Path, config: Path, corpus: Path, *extra: str, tiers: list[str], n: int
) -> subprocess.CompletedProcess:
    args = [
        sys.executable, "-m", "calib_async", "--config", str(config), "--corpus", "custom",
        "--corpus-path", str(corpus), "--tiers", *tiers, "--n", str(n),
        "--export", str(d / "calibration.yaml"), "--output-dir", str(d / "out"),
        "--workers", "4", "--bootstrap", "0", "--no-report", "--no-progress",
        "--log-level", "WARNING", *extra,
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, env=run_env(), timeout=300)


def starts(path: Path) -> int:
    """How many checker processes have started (lines of the starts log)."""
    return len(path.read_text().splitlines()) if path.exists() else 0
