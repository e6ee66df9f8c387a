"""Stages 4-5: per-tier noise models and their held-out validation (numpy/scipy only).

Public API:

- :func:`fit_and_validate` — split by item, fit every tier on the training items, validate.
- :class:`CalibrationFit` (``to_export()`` gives the YAML-ready dict), :class:`TierFit`,
  :class:`ValidationReport`.
- :func:`predict_timeout_rate` / :func:`timeout_for_rate` — use an exported
  ``timeout_distribution`` mapping to predict the timeout rate at any budget.

Definitions are documented in the modules: ``rates`` (noise rates and intervals),
``durations`` (censored duration models), ``gof`` (goodness of fit), ``prediction``,
``load`` (load sensitivity), ``validation`` (held-out checks and the ``passed`` gate).
"""

from __future__ import annotations

from calib_async.stats.fit import CalibrationFit, fit_and_validate
from calib_async.stats.prediction import predict_timeout_rate, timeout_for_rate
from calib_async.stats.tier_fit import TierFit
from calib_async.stats.validation import ValidationReport

__all__ = [
    "CalibrationFit",
    "TierFit",
    "ValidationReport",
    "fit_and_validate",
    "predict_timeout_rate",
    "timeout_for_rate",
]
