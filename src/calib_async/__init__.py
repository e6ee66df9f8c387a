"""calib-async: measure how noisy a proof checker is.

The public API (README "Library use"). Everything listed in ``__all__`` is importable from
here; the heavy parts load on first use, and type checkers see them through the
``TYPE_CHECKING`` imports below.

- :func:`run_calibration` runs the six stages for a :class:`RunConfig` and returns a
  :class:`CalibrationResult`.
- :class:`Scheduler` runs :class:`Task` s (an item at a :class:`Tier`) on checkers opened by
  :func:`open_checkers` from a :class:`CheckerConfig`'s profiles, under asyncio or trio.
- :class:`NoiseModel` loads an exported calibration for simulators and training code.
- :class:`CalibError` is the one exception users see.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from calib_async.errors import CalibError
from calib_async.records import CorpusItem, Outcome, Phase, Task, TelemetryRecord, Tier, Truth
from calib_async.version import __version__

if TYPE_CHECKING:
    from calib_async.checkers.api import OpenContext
    from calib_async.checkers.lean import default_lean_config
    from calib_async.checkers.registry import open_checkers
    from calib_async.checkers.simulated import default_synthetic_config
    from calib_async.config.run import RunConfig
    from calib_async.config.schema import load_checker_config
    from calib_async.export.noise_model import NoiseModel
    from calib_async.pipeline import CalibrationResult, run_calibration
    from calib_async.profiles import CheckerConfig, Rule, VerifierConfig
    from calib_async.telemetry.scheduler import Scheduler

_LAZY = {
    "RunConfig": "calib_async.config.run",
    "CheckerConfig": "calib_async.profiles",
    "Rule": "calib_async.profiles",
    "VerifierConfig": "calib_async.profiles",
    "OpenContext": "calib_async.checkers.api",
    "default_lean_config": "calib_async.checkers.lean",
    "default_synthetic_config": "calib_async.checkers.simulated",
    "load_checker_config": "calib_async.config.schema",
    "NoiseModel": "calib_async.export.noise_model",
    "CalibrationResult": "calib_async.pipeline",
    "run_calibration": "calib_async.pipeline",
    "Scheduler": "calib_async.telemetry.scheduler",
    "open_checkers": "calib_async.checkers.registry",
}

__all__ = [
    "CalibError",
    "CalibrationResult",
    "CheckerConfig",
    "CorpusItem",
    "NoiseModel",
    "OpenContext",
    "Outcome",
    "Phase",
    "Rule",
    "RunConfig",
    "Scheduler",
    "Task",
    "TelemetryRecord",
    "Tier",
    "Truth",
    "VerifierConfig",
    "__version__",
    "default_lean_config",
    "default_synthetic_config",
    "load_checker_config",
    "open_checkers",
    "run_calibration",
]


def __getattr__(name: str) -> object:  # lazy: keep `import calib_async` light
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'calib_async' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def _logs_to_stdlib_unless_configured() -> None:
    """Route this library's structlog events to the standard ``logging`` module, unless the
    caller configured structlog already (then its setup is used as it is).

    structlog's own default prints every event, DEBUG included, on stdout, which would corrupt
    a caller whose stdout is parsed. Through ``logging``, events follow the caller's logging
    setup; with none, Python prints warnings and errors on stderr and drops the rest. A caller
    that configures structlog later replaces this.
    """
    import structlog

    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


_logs_to_stdlib_unless_configured()


def __dir__() -> list[str]:
    return sorted(__all__)
