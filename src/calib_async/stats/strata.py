"""One tier's sampling strata (one per observed outcome) and how many runs were labelled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calib_async.stats.record_arrays import OUTCOMES, TRUTH_UNDETERMINED, TRUTH_VALID, LabelColumns


@dataclass(frozen=True, slots=True)
class LabelTable:
    """One tier's strata (one per observed outcome, indexed like OUTCOMES) and their labels."""

    population: np.ndarray  # N_h: runs in the stratum
    determined: np.ndarray  # n_h: determined labels in the stratum
    valid: np.ndarray  # labels with truth VERIFIED
    undetermined: np.ndarray  # sampled but UNDETERMINED

    def in_class(self, truth: int) -> np.ndarray:
        return self.valid if truth == TRUTH_VALID else self.determined - self.valid


def label_table(outcome_counts: np.ndarray, labels: LabelColumns) -> LabelTable:
    """Build the (tier, outcome) strata table from run counts per outcome and the labels."""
    k = len(OUTCOMES)
    det = labels.truth != TRUTH_UNDETERMINED
    return LabelTable(
        population=np.asarray(outcome_counts, dtype=np.float64),
        determined=np.bincount(labels.outcome[det], minlength=k).astype(np.float64),
        valid=np.bincount(labels.outcome[labels.truth == TRUTH_VALID], minlength=k).astype(
            np.float64
        ),
        undetermined=np.bincount(labels.outcome[~det], minlength=k).astype(np.float64),
    )
