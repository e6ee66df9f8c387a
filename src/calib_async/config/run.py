"""The run configuration: everything one calibration needs. The CLI builds it from flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything one calibration needs; the CLI builds it from flags, embedders directly.

    Only ``tiers``, ``n`` and ``export`` are required; the defaults are the CLI's.
    """

    tiers: tuple[str, ...]
    n: int
    export: Path
    corpus: str = "mathlib"
    corpus_path: Path | None = None
    corpus_filter: str | None = None
    workers: int = 8
    seed: int = 12345
    validation_split: float = 0.2
    label_sample: int = 1000
    label_budget: int | None = None  # extra label runs; None: as many as the first pass's
    timeout_multiplier: float = 10.0
    consensus_verifiers: tuple[str, ...] | None = None
    output_dir: Path = Path("./calibration_output")
    telemetry_log: Path | None = None
    config_path: Path | None = None
    resume: bool = False
    fresh: bool = False
    lean_project: Path | None = None
    manual_labels: Path | None = None
    bootstrap: int = 99
    report: bool = True
    backend: str = "local"
    ray_address: str | None = None
    sandbox: str = "none"
    sample_interval_s: float = 0.2
    replicates: int = 0  # verdict replicates: R more runs of a sample at each tier (0: none)
    replicate_sample: int = 30  # items in the replicate sample
    load_levels: tuple[int, ...] = ()  # concurrency levels of the load experiment (none: off)
    load_sample: int = 20  # items run at each load level and tier, in each round
    load_rounds: int = 3  # rounds of the load experiment: every (tier, level) block once each
    #: canary classes to run (``("all",)`` for every available one; empty: no canaries)
    canaries: tuple[str, ...] = ()
    canary_sample: int = 20  # items canaries are derived from (seeded draw)

    @property
    def log_path(self) -> Path:
        """The telemetry log, which is also the checkpoint."""
        return self.telemetry_log or self.output_dir / "telemetry.jsonl"
