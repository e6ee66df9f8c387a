"""The allocation floor is meant for the training items: the held-out share is added on top."""

from __future__ import annotations

from collections import Counter

from calib_async.labels.sampling import LABEL_FLOOR, sample_for_labeling, training_floor
from helpers import make_record


def test_training_floor_adds_the_held_out_share() -> None:
    assert training_floor(0.0) == LABEL_FLOOR == 3
    assert training_floor(0.2) == 4
    assert training_floor(0.5) == 6


def test_every_stratum_gets_the_training_floor() -> None:
    records = [make_record(f"v{i}", "T", "VERIFIED") for i in range(200)] + [
        make_record(f"x{i}", "T", "PROOF_INVALID") for i in range(6)
    ]
    sample = sample_for_labeling(records, 8, seed=1, validation_split=0.2)
    assert Counter(s.stratum for s in sample) == {"T|VERIFIED": 4, "T|PROOF_INVALID": 4}
    plain = sample_for_labeling(records, 6, seed=1)
    assert Counter(s.stratum for s in plain)["T|PROOF_INVALID"] == 3
