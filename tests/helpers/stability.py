"""Builders for the replicate and load-experiment tests: a corpus and a command-checker config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from calib_async.config.run import RunConfig

HELPERS = Path(__file__).resolve().parent


def corpus(d: Path, texts: list[str]) -> Path:
    """A directory of proof files ``p00.lean`` ... with the given contents."""
    root = d / "corpus"
    root.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        (root / f"p{i:02d}.lean").write_text(text)
    return root


def checker_config(d: Path, checkers: dict[str, tuple[list[str], float]]) -> Path:
    """One verifier and one tier per checker: name -> (argv, timeout_s); exit 0 is VERIFIED."""
    verifiers: dict[str, Any] = {}
    tiers: dict[str, Any] = {}
    for name, (argv, timeout_s) in checkers.items():
        verifiers[name] = {
            "command": argv,
            "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
            "default": "PROOF_INVALID",
        }
        tiers[name] = {"timeout_s": timeout_s, "verifier": name, "grace_s": 0.2}
    path = d / "checkers.yaml"
    path.write_text(yaml.safe_dump({"verifiers": verifiers, "tiers": tiers}, sort_keys=False))
    return path


def python_argv(script: str, *args: str) -> list[str]:
    return [sys.executable, "-I", "-S", str(HELPERS / script), *args, "{file}"]


def run_config(d: Path, config: Path, corpus_dir: Path, tiers: list[str], **kw: Any) -> RunConfig:
    base: dict[str, Any] = {
        "tiers": tuple(tiers),
        "n": len(list(corpus_dir.iterdir())),
        "export": d / "calibration.yaml",
        "corpus": "custom",
        "corpus_path": corpus_dir,
        "config_path": config,
        "consensus_verifiers": (tiers[0],),
        "label_sample": 0,
        "bootstrap": 0,
        "report": False,
        "output_dir": d / "out",
        "validation_split": 0.0,
    }
    base.update(kw)
    return RunConfig(**base)
