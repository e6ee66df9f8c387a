"""Stage 1: select the corpus items a run checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calib_async.corpus.selection import select_corpus
from calib_async.corpus.synthetic import generate_synthetic_corpus
from calib_async.errors import CalibError
from calib_async.records import CorpusItem


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusPlan:
    """What stage 1 needs of the run's settings (the pipeline derives it)."""

    corpus: str  # mathlib | curriculum | synthetic | custom
    n: int
    seed: int
    corpus_path: Path | None
    corpus_filter: str | None
    output_dir: Path  # a synthetic corpus is written there
    lean_project: Path | None


def select_items(plan: CorpusPlan) -> list[CorpusItem]:
    """The run's items: loaded, filtered and sampled down to ``plan.n`` (seeded).

    Blocking (reads files); the pipeline calls it in a worker thread.
    """
    items = select_corpus(
        plan.corpus,
        n=plan.n,
        seed=plan.seed,
        corpus_path=plan.corpus_path,
        corpus_filter=plan.corpus_filter,
        out_dir=plan.output_dir,
        lean_project=plan.lean_project,
        synthetic=generate_synthetic_corpus,
    )
    if not items:
        raise CalibError(
            "the corpus is empty after filtering; check --corpus-path and --corpus-filter"
        )
    return items
