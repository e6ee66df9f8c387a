"""Pure summaries of the REPL-pool designs (no process here; tested on their own).

- :func:`mcnemar`: the exact McNemar test (a two-sided binomial test on the discordant pairs),
  for verdicts of the same items checked fresh and warm.
- :func:`flip_rates`: per filler count k, the share of items whose outcome differs from the
  outcome at the smallest k (the aging design).
- :func:`crash_hazard`: REPL deaths per command at risk, by age bin (deaths in the bin over
  the commands sent at those ages), with a Wilson interval.
- :func:`exceed_probability`: P(cold import + elaboration > timeout), from the empirical
  distributions of both (every pair; they are measured on different runs, so independent).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats


def mcnemar(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """``pairs``: (passed fresh, passed warm) per item. Exact two-sided p-value."""
    only_fresh = sum(1 for a, b in pairs if a and not b)
    only_warm = sum(1 for a, b in pairs if b and not a)
    discordant = only_fresh + only_warm
    p = float(stats.binomtest(only_fresh, discordant, 0.5).pvalue) if discordant else 1.0
    n = len(pairs)
    return {
        "items": n,
        "disagreements": discordant,
        "disagreement_rate": discordant / n if n else None,
        "verified_fresh_only": only_fresh,
        "verified_warm_only": only_warm,
        "mcnemar_p": p,
    }


def ratio_of_medians(numerator: Sequence[float], denominator: Sequence[float]) -> float | None:
    if not numerator or not denominator:
        return None
    below = statistics.median(denominator)
    return statistics.median(numerator) / below if below > 0 else None


def flip_rates(outcomes: Mapping[int, Mapping[str, str]]) -> list[dict[str, Any]]:
    """``outcomes[k][item]``: the item's outcome after k fillers. Against the smallest k."""
    if not outcomes:
        return []
    base_k = min(outcomes)
    base = outcomes[base_k]
    rows = []
    for k in sorted(outcomes):
        shared = [i for i in outcomes[k] if i in base]
        flips = sum(1 for i in shared if outcomes[k][i] != base[i])
        rows.append(
            {
                "fillers": k,
                "items": len(shared),
                "flips": flips,
                "flip_rate": flips / len(shared) if shared else None,
            }
        )
    return rows


def wilson(events: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def crash_hazard(
    commands: Sequence[tuple[int, bool]], edges: Sequence[int] = (0, 10, 100, 1000, 10000)
) -> list[dict[str, Any]]:
    """``commands``: (the process's age when it got the command, whether it died on it), for
    every command. Deaths per command at risk, by age bin, with a Wilson 95 % interval."""
    rows = []
    bounds = [*edges, math.inf]
    for lo, hi in itertools.pairwise(bounds):
        inside = [died for age, died in commands if lo <= age < hi]
        if not inside:
            continue
        deaths = sum(inside)
        low, high = wilson(deaths, len(inside))
        rows.append(
            {
                "age_from": lo,
                "age_to": None if hi == math.inf else hi,
                "commands": len(inside),
                "deaths": deaths,
                "hazard": deaths / len(inside),
                "ci95": [round(low, 6), round(high, 6)],
            }
        )
    return rows


def quantiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "median_ms": None, "p90_ms": None, "max_ms": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(p90, 3),
        "max_ms": round(ordered[-1], 3),
    }


def exceed_probability(
    imports_ms: Sequence[float], elaborations_ms: Sequence[float], timeout_s: float
) -> float | None:
    """P(import + elaboration > timeout) over every (import, elaboration) pair."""
    if not imports_ms or not elaborations_ms:
        return None
    total = np.add.outer(np.asarray(imports_ms, float), np.asarray(elaborations_ms, float))
    return float(np.mean(total > timeout_s * 1000))
