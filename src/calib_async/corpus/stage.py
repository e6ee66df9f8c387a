"""Stage 1: select the corpus items a run checks."""

from __future__ import annotations

from calib_async.config.run import RunConfig
from calib_async.corpus.selection import select_corpus
from calib_async.corpus.synthetic import generate_synthetic_corpus
from calib_async.errors import CalibError
from calib_async.records import CorpusItem


def select_items(config: RunConfig) -> list[CorpusItem]:
    """The run's items: loaded, filtered and sampled down to ``config.n`` (seeded).

    Blocking (reads files); the pipeline calls it in a worker thread.
    """
    items = select_corpus(
        config.corpus,
        n=config.n,
        seed=config.seed,
        corpus_path=config.corpus_path,
        corpus_filter=config.corpus_filter,
        out_dir=config.output_dir,
        lean_project=config.lean_project,
        synthetic=generate_synthetic_corpus,
    )
    if not items:
        raise CalibError(
            "the corpus is empty after filtering; check --corpus-path and --corpus-filter"
        )
    return items
