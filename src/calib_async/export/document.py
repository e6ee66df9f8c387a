"""Stage 6: the calibration YAML that simulators and training code load.

The original keys are kept; additions live beside them and the file carries
``calibration_metadata.schema_version`` so consumers can check what they read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from calib_async.errors import CalibError
from calib_async.inputs.atomic import write_atomic
from calib_async.records import Tier
from calib_async.version import (
    SCHEMA_VERSION,
    __version__,
)


class _Dumper(yaml.SafeDumper):
    """``yaml.safe_dump``'s dumper that also writes a StrEnum member (an outcome, a phase) as
    its plain value, byte for byte what the value alone gives."""


_Dumper.add_multi_representer(
    StrEnum, lambda dumper, value: dumper.represent_str(str.__str__(value))
)

@dataclass(frozen=True, slots=True, kw_only=True)
class ExportPlan:
    """What stage 6 needs of the run's settings (the pipeline derives it from the run's
    configuration; ``refit`` from ``labels.json`` and its flags)."""

    export: Path  # the YAML to write
    output_dir: Path  # labels.json is there, report.html goes there
    report: bool
    corpus: str
    n: int
    seed: int
    validation_split: float
    label_sample: int
    timeout_multiplier: float


def build_export(
    fit: Any,
    *,
    plan: ExportPlan,
    tiers: Sequence[Tier],
    labels: Mapping[str, Any],
    run_id: str,
    canaries: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The export document: calibration_metadata, validation_report, noise_models.

    ``canaries`` (tier name -> class -> counts and rate, see :mod:`calib_async.stats.canaries`)
    becomes ``noise_models.<tier>.canaries``.
    """
    body = fit.to_export()
    models_in = body.get("noise_models", {})
    noise_models: dict[str, Any] = {}
    for tier in tiers:
        key = tier.name.lower()
        if key in noise_models:
            raise CalibError(
                f"tiers {tier.name!r} and another differ only by case; rename one in --config"
            )
        model = dict(models_in.get(tier.name, {"status": "no_data"}))
        model.setdefault("timeout_s", tier.timeout_s)
        if canaries is not None:
            model["canaries"] = dict(canaries.get(tier.name, {}))
        noise_models[key] = model
    report = dict(body.get("validation_report", {}))
    total = sum(int(m.get("training_samples") or 0) for m in noise_models.values())
    metadata = {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "run_id": run_id,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": plan.corpus,
        "n": plan.n,
        "total_samples": total,
        "validation_split": plan.validation_split,
        "seed": plan.seed,
        "label_sample": plan.label_sample,
        "timeout_multiplier": plan.timeout_multiplier,
        "validation_passed": bool(report.get("passed", False)),
        "tiers": {
            t.name: {
                "timeout_s": t.timeout_s,
                "verifier": t.verifier,
                "memory_limit_mb": t.memory_limit_mb,
            }
            for t in tiers
        },
        "labels": dict(labels),
        "units": {"duration": "ms", "memory": "MiB", "timeout": "s"},
    }
    return {
        "calibration_metadata": metadata,
        "validation_report": report,
        "noise_models": noise_models,
    }


def write_export(path: Path, export: Mapping[str, Any]) -> None:
    """Write YAML atomically (per-process temp file + rename), so a reader never sees half a
    file and a failed write leaves no temp file."""
    text = yaml.dump(dict(export), Dumper=_Dumper, default_flow_style=False, sort_keys=False)
    write_atomic(Path(path), text.encode("utf-8"), "--export")
