"""What stage 3 needs of the run's settings: :class:`LabelPlan` (the pipeline derives it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelPlan:
    """Stage 3's settings; ``corpus``, ``n`` and ``bootstrap`` only go into ``labels.json``'s
    run description, which ``refit`` reads."""

    output_dir: Path  # labels.json goes there; manual_labels.jsonl is read from there
    log_path: Path  # the telemetry log labels.json is bound to
    label_sample: int
    label_budget: int | None  # extra label runs; None: as many as the first pass's
    seed: int
    validation_split: float
    timeout_multiplier: float
    workers: int
    manual_labels: Path | None
    consensus: tuple[str, ...]  # the profiles that vote on ground truth
    corpus: str
    n: int
    bootstrap: int
