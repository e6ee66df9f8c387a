"""The escalation ladder's re-runs as longer observations of a tier's killed runs.

The ground-truth stage re-runs a sample of each tier's timed-out runs at 2x, 4x ... up to the
timeout multiplier times the tier's budget, stopping at the first attempt that does not time
out (``calib_async.telemetry.scheduler.Scheduler.escalate``). Those records (phase ``label``,
the tier's own name, attempt >= 1) are the only runs watched beyond the tier's budget T, and
they are what tells runaways (never finish) from a heavy tail (finish late).

**How they enter the duration model.** A checker's duration is mostly a property of the item,
so a ladder is read as a *continuation* of the killed run it re-runs: that run is watched up
to the ladder's last budget instead of T.

* The ladder ends with a run that finished at d: the killed run becomes an event at d (at
  ``T + resolution`` when the re-run finished within T: it did not, the first time).
* Every attempt timed out: the run is right-censored at the last attempt's budget (a timeout
  the checker reported itself there is censored at its duration).
* Killed runs without a ladder stay right-censored at T. Which timeouts are re-run is a
  random sample of the timeout stratum, so this censoring carries no information about the
  durations (independent censoring) and the likelihood stays valid.

A ladder extends one killed run of its item (an item has one run per tier in stage 2);
ladders of items without a killed run (a reported timeout re-run) are left out: a reported
timeout is not a wall-clock duration (``calib_async.stats.timeouts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calib_async.stats.censoring import DEFAULT_RESOLUTION_MS, CensoredDurations, censor_durations
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns


@dataclass(frozen=True, slots=True)
class Extended:
    """A tier's wall-clock runs, censored, with their ladders applied."""

    data: CensoredDurations
    #: per wall-clock run (in its order), with its ladder applied: the duration, whether it
    #: was still running when last watched, and the budget it was watched to (all ms)
    duration_ms: np.ndarray
    timed_out: np.ndarray
    budget_ms: np.ndarray
    #: killed runs at the tier's budget that a ladder watched further
    n_extended: int
    #: of those, the runs still going at the ladder's last budget
    n_still_running: int
    #: the largest budget any run was watched to (ms; the tier's own when no ladder)
    watched_to_ms: float

    @property
    def identified(self) -> bool:
        """Whether any run was watched beyond the tier's own budget."""
        return self.n_extended > 0


def ladder_ends(ladders: RunColumns) -> RunColumns:
    """The last attempt (largest budget) of each item's ladder."""
    if not len(ladders):
        return ladders
    order = np.lexsort((ladders.timeout_ms, ladders.item))
    sorted_items = ladders.item[order]
    last = np.ones(order.size, dtype=bool)
    last[:-1] = sorted_items[1:] != sorted_items[:-1]
    return ladders.subset(order[last])


def extend_with_ladders(
    wall: RunColumns,
    ladders: RunColumns | None,
    resolution_ms: float = DEFAULT_RESOLUTION_MS,
) -> Extended:
    """Censor ``wall`` (the tier's wall-clock runs) with ``ladders`` applied (module docstring)."""
    duration = wall.duration_ms.astype(np.float64).copy()
    timed_out = wall.timed_out.copy()
    budget = wall.timeout_ms.astype(np.float64).copy()
    own = float(wall.timeout_ms.max()) if len(wall) else 0.0
    n_ext = n_running = 0
    watched = own
    if ladders is not None and len(ladders) and len(wall):
        ends = ladder_ends(ladders)
        killed_idx = np.nonzero(wall.timed_out)[0]
        first: dict[int, int] = {}
        for i in killed_idx[::-1]:  # the first killed run of each item
            first[int(wall.item[i])] = int(i)
        for k in range(len(ends)):
            i = first.get(int(ends.item[k]))
            if i is None:
                continue
            n_ext += 1
            end_budget = float(ends.timeout_ms[k])
            watched = max(watched, end_budget)
            if ends.outcome[k] == TIMEOUT_CODE:
                n_running += 1
                killed = bool(ends.timed_out[k])
                budget[i] = end_budget
                duration[i] = end_budget if killed else float(ends.duration_ms[k])
                timed_out[i] = True
            else:
                floor_ms = float(wall.timeout_ms[i]) + resolution_ms
                duration[i] = max(min(float(ends.duration_ms[k]), end_budget), floor_ms)
                budget[i] = max(end_budget, floor_ms)
                timed_out[i] = False
    data = censor_durations(duration, timed_out, budget, resolution_ms)
    return Extended(data, duration, timed_out, budget, n_ext, n_running, watched)
