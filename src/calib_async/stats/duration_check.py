"""The validation gate's duration test: implied timeout rate against held-out timeouts.

``duration_model_entry`` is the ``validation_report.calibration_error.<tier>.duration_model``
entry: the training fit's predicted timeout rate at the tier's budget, ``h + (1 - h) S(T)``
under the predictor in use (the fitted model; Kaplan–Meier when the model is ``misfit``),
against the held-out share of *all* timeouts (killed and checker-reported), with the
two-sample score test and the model's rate carried at the training sample size
(conservative: the MLE's rate is at least as precise as the training share it stands in
for). Without a prediction the entry has status ``insufficient_data`` and stays out of the
gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from calib_async.stats.rates import INSUFFICIENT, score_test_2indep
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns

if TYPE_CHECKING:
    from calib_async.stats.tier_fit import TierFit

METHOD = "score_2indep_model"


def duration_model_entry(fit: TierFit, held: RunColumns) -> dict[str, Any]:
    """The held-out check of one tier's timeout model (module docstring)."""
    n2 = len(held)
    k2 = int(np.count_nonzero(held.outcome == TIMEOUT_CODE))
    observed = k2 / n2 if n2 else None
    timeouts = fit.timeouts
    implied = timeouts.predicted_rate(timeouts.timeout_ms) if timeouts is not None else None
    entry: dict[str, Any] = {
        "train": implied,
        "held_out": observed,
        "abs_error": None,
        "z": None,
        "p_value": None,
        "test": METHOD,
        "status": INSUFFICIENT,
        "predictor": timeouts.distribution_export()["predictor"] if timeouts else None,
        "model_status": timeouts.status if timeouts else None,
    }
    if implied is None or observed is None:
        return entry
    n1 = fit.training_samples
    test = score_test_2indep(implied * n1, n1, k2, n2)
    entry.update(
        abs_error=abs(implied - observed), z=test.z, p_value=test.p_value, status=test.status
    )
    return entry
