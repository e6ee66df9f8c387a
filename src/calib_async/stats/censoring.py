"""Which durations are exact, right-censored or interval-censored (all in milliseconds).

* A run the runner killed for its timeout (``record.timed_out``, the runner's own flag — not
  ``duration >= T``) is right-censored at its budget, ``min(duration_ms, timeout_ms)``: it is
  known only to need more than that. The moment the kill landed (after the grace period) is
  not used: nothing is known beyond the budget. A killed run that reports less than its
  budget is censored at what it reports.
* Timeouts the checker reports itself (VERIFIER_TIMEOUT without ``timed_out``: Lean's
  heartbeat limit, a profile rule) are not durations at all; ``calib_async.stats.timeouts``
  takes them out before censoring and models them as a budget-independent share.
* A zero duration (below the timer's resolution) is interval-censored on
  ``[0, resolution_ms]``.
* Every other run is an event at its duration, whatever its outcome: a run that fails or
  runs out of memory at t has ended at t, so it cannot time out at any budget above t.
* **One definition of "timed out at budget T"** everywhere (Kaplan–Meier, the model, the
  observed rate): the runner killed it. A run that ends a few ms after its budget without
  being killed (inside the kill latency) finished within the budget as enforced, so it is an
  event at its budget, not a survivor of it; otherwise Kaplan–Meier and the model would
  count it as a timeout at T while the observed rate does not, and recommendations for
  neighbouring targets could disagree (5 % unreachable, 1 % reachable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

DEFAULT_RESOLUTION_MS = 1.0


@dataclass(frozen=True, slots=True)
class CensoredDurations:
    """Durations split by what is known about each (all in ms)."""

    events: np.ndarray  # completed at exactly this duration
    right: np.ndarray  # still running at this duration (killed for the timeout)
    interval: np.ndarray  # shape (k, 2): completed somewhere in [lo, hi]

    @property
    def n(self) -> int:
        return int(self.events.size + self.right.size + self.interval.shape[0])

    def to_scipy(self) -> stats.CensoredData:
        return stats.CensoredData(uncensored=self.events, right=self.right, interval=self.interval)


def censor_durations(
    duration_ms: np.ndarray,
    timed_out: np.ndarray,
    timeout_ms: np.ndarray,
    resolution_ms: float = DEFAULT_RESOLUTION_MS,
) -> CensoredDurations:
    """Classify runs into events, right-censored and interval-censored durations."""
    d = np.asarray(duration_ms, dtype=np.float64)
    cens = np.asarray(timed_out, dtype=bool)
    right = np.minimum(d[cens], np.asarray(timeout_ms, dtype=np.float64)[cens])
    right = np.maximum(right, resolution_ms)  # a timed-out run ran for at least one tick
    done = np.minimum(d[~cens], np.asarray(timeout_ms, dtype=np.float64)[~cens])
    zero = done <= 0.0
    interval = np.column_stack([np.zeros(int(zero.sum())), np.full(int(zero.sum()), resolution_ms)])
    return CensoredDurations(events=done[~zero], right=right, interval=interval)
