"""Import the fitting and report modules in the background while stage 3 runs.

Stages 4-6 import scipy.stats and matplotlib, which takes seconds on a busy machine; stage 3
mostly waits on checker processes whose durations are not fitted, so importing then costs
no measurement and hides the import time. Nothing starts during stage 2, whose durations are
measured.
"""

from __future__ import annotations

import importlib
import threading

import structlog

from calib_async.events import Event, StageStarted

log = structlog.get_logger(__name__)

#: Modules stages 4-6 import (the plots only when matplotlib is installed).
MODULES = (
    "calib_async.stats.fit",
    "calib_async.export.stage",
    "calib_async.export.report",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "calib_async.export.report_plots",
)
PREWARM_STAGE = 3


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # e.g. no matplotlib: the report says so itself
            log.debug("prewarm.skipped", module=name)


class Prewarm:
    """A listener that starts the imports once, in a background thread, when stage 3 starts.

    The thread is not a daemon: Python joins it before finalising the interpreter. A daemon
    thread still importing a C extension (matplotlib, scipy) when the main thread exits
    crashed the interpreter at shutdown ("PyThreadState_Get: ... GIL is released", SIGABRT)
    after a run that had succeeded, e.g. a short run with ``--no-report``. The imports take
    seconds at most; on a stop signal ``cli.signals`` exits at once without joining.
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted) and event.stage == PREWARM_STAGE and not self.thread:
            self.thread = threading.Thread(target=_import_all, name="prewarm", daemon=False)
            try:
                self.thread.start()
            except RuntimeError as e:  # out of processes (RLIMIT_NPROC): only an optimisation
                log.warning("prewarm.not_started", error=str(e))
