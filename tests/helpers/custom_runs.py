"""A run over a small custom corpus and a profile given as a dict: the files, the listing,
the YAML and the RunConfig that tests of whole stages build alike."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from calib_async.config.run import RunConfig


def custom_run_config(
    tmp_path: Path, files: Mapping[str, str], profile: Mapping[str, Any], **overrides: Any
) -> RunConfig:
    """``files`` written under ``tmp_path/src`` and listed in ``list.txt``, ``profile`` written
    as ``cfg.yaml``; a RunConfig over them with every tier of the profile, one item and one
    worker per file, no labels, no bootstrap and no report (``overrides`` replace any of it)."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, text in files.items():
        (src / name).write_text(text)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"src/{name}\n" for name in files))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(dict(profile)))
    base: dict[str, Any] = {
        "tiers": tuple(profile["tiers"]),
        "n": len(files),
        "export": tmp_path / "c.yaml",
        "corpus": "custom",
        "corpus_path": listing,
        "config_path": cfg,
        "output_dir": tmp_path / "out",
        "workers": len(files),
        "label_sample": 0,
        "bootstrap": 0,
        "report": False,
    }
    return RunConfig(**{**base, **overrides})
