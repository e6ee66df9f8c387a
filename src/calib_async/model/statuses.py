"""The closed sets of status strings the export writes (each a StrEnum: it dumps as its value).

A status a file carries that is not listed here is refused when the file is read
(:func:`calib_async.model.values.member`): a reader never guesses what a new status means.
"""

from __future__ import annotations

from enum import StrEnum


class TierStatus(StrEnum):
    """``noise_models.<tier>.status``."""

    OK = "ok"
    PARTIAL = "partial"  # some rate or the duration model could not be estimated
    NO_RECORDS = "no_records"
    NO_COMPLETED_RUNS = "no_completed_runs"  # every run timed out: no duration model
    FAILED = "failed"  # most runs VERIFIER_ERROR (``failed_reason`` names the error)
    DRIFT = "drift"  # outcomes or durations change over the run (``stationarity``)
    LOAD_BURST = "load_burst"  # ... and the load average explains the change
    NO_DATA = "no_data"  # the fit has no entry for the tier


class RateStatus(StrEnum):
    """``noise_models.<tier>.counts.<rate>.status``."""

    OK = "ok"
    PARTIAL = "partial"  # undetermined labels: the rate is only partially identified
    LOW_LABELS = "low_labels"
    INSUFFICIENT = "insufficient_data"
    UNVERIFIED = "unverified_labels"


class StationarityStatus(StrEnum):
    """``noise_models.<tier>.stationarity.status``."""

    STATIONARY = "stationary"
    DRIFT = "drift"
    LOAD_BURST = "load_burst"
    NOT_TESTED = "not_tested"


class DistributionStatus(StrEnum):
    """``noise_models.<tier>.timeout_distribution.status``."""

    OK = "ok"
    MISFIT = "misfit"
    INSUFFICIENT = "insufficient_data"


class LoadStatus(StrEnum):
    """``noise_models.<tier>.load.status`` (the load experiment's fit)."""

    OK = "ok"
    NO_TIMEOUTS = "no_timeouts"
    ALL_TIMEOUTS = "all_timeouts"
    SINGLE_LEVEL = "single_level"
    NO_DATA = "no_data"


class CanaryStatus(StrEnum):
    """``noise_models.<tier>.canaries.<class>.status``."""

    OK = "ok"
    NOT_APPLICABLE = "not_applicable"
    NO_DATA = "no_data"


class FlipStatus(StrEnum):
    """``noise_models.<tier>.flips.status``."""

    OK = "ok"
    INSUFFICIENT = "insufficient_data"
