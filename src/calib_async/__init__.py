"""calib-async: measure how noisy a proof checker is.

Public API (see README "Library use"):

- :func:`calib_async.pipeline.run_calibration` runs the six stages.
- :class:`calib_async.telemetry.scheduler.Scheduler` runs checker tasks under any anyio backend.
- :class:`calib_async.export.noise_model.NoiseModel` loads an exported calibration.
"""

from __future__ import annotations

from calib_async.errors import CalibError
from calib_async.records import Outcome, Phase, TelemetryRecord, Truth

__version__ = "0.1.0"

__all__ = ["CalibError", "Outcome", "Phase", "TelemetryRecord", "Truth", "__version__"]


def __getattr__(name: str) -> object:  # lazy: keep `import calib_async` light
    if name == "NoiseModel":
        from calib_async.export.noise_model import NoiseModel

        return NoiseModel
    if name == "Scheduler":
        from calib_async.telemetry.scheduler import Scheduler

        return Scheduler
    raise AttributeError(name)
