"""Verdict flips: how often two runs of the same item at the same tier disagree.

Data: per sampled item, the outcomes of its m_i >= 2 runs at one tier (its stage-2 run and its
R replicates). A *flip* is a pair of runs of one item with different outcomes.

* **Flip rate** d = P(two runs of the same item disagree), for an item drawn from the corpus
  and two of its runs drawn at random. Per item the share of disagreeing pairs among its
  C(m_i, 2) pairs is an unbiased U-statistic for the item's own d_i; the estimate is their
  unweighted mean over items, unbiased for d.
* **Interval (clustered by item).** Runs of one item are not independent (a borderline item
  flips again and again), so the pairs are not n_pairs Bernoulli trials. The interval is a
  Clopper–Pearson interval on an *effective* sample size, as Korn & Graubard (1998) do for
  clustered survey proportions: n_eff = d(1-d) / var, where var is the item-level variance of
  the mean (s^2 of the per-item shares / n), scaled by (z / t_{n-1})^2 for the estimated
  variance, and capped at n, the number of items (the independent units).
* **The cap, and zero flips.** With no flip observed the variance is 0 and a bootstrap would
  give the empty interval [0, 0]. The cap is what the data can support whatever the items'
  heterogeneity: an item of flip rate d_i shows a flip among its m >= 2 runs with probability
  at least d_i (its first pair alone does), so P(no flip in n items) <= prod (1 - d_i)
  <= (1 - d)^n. With zero flips the upper bound is therefore 1 - (alpha/2)^(1/n): 0.116 at
  n = 30, whatever m. An earlier cap of n * m / 2 (valid for identical items only) covered
  0.77 at 30 items x 10 runs when 5 % of the items flip; scripts/stability_study.py measures
  coverage and bias in that case and others.
* **Items with a flip.** The share of items whose runs are not all equal, with an exact
  (Clopper–Pearson) interval: items are independent.
* **By outcome pair.** Disagreeing pairs split by the (unordered) pair of outcomes, e.g.
  ``PROOF_INVALID|VERIFIED``: their count, the number of items showing that pair, and their
  contribution to the flip rate (the contributions sum to the flip rate).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.binomial import clopper_pearson

METHOD = (
    "item_mean_of_pair_disagreement; clopper_pearson_effective_n (korn_graubard), cap n items"
)


@dataclass(frozen=True, slots=True)
class FlipResult:
    """The flip statistics of one tier (see the module docstring)."""

    status: str  # ok | insufficient_data
    items: int  # items with at least two runs
    runs_per_item: tuple[int, int]  # (min, max) m_i
    pairs: int
    flip_rate: float | None
    flip_rate_ci: tuple[float, float] | None
    effective_n: float | None
    items_with_flip: int
    share_items_with_flip: float | None
    share_items_with_flip_ci: tuple[float, float] | None
    by_outcome_pair: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None

    def to_export(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "flip_rate": self.flip_rate,
            "flip_rate_ci": list(self.flip_rate_ci) if self.flip_rate_ci else None,
            "items": self.items,
            "runs_per_item": list(self.runs_per_item),
            "pairs": self.pairs,
            "effective_n": self.effective_n,
            "items_with_flip": self.items_with_flip,
            "share_items_with_flip": self.share_items_with_flip,
            "share_items_with_flip_ci": (
                list(self.share_items_with_flip_ci) if self.share_items_with_flip_ci else None
            ),
            "by_outcome_pair": self.by_outcome_pair,
            "method": METHOD,
            **({"reason": self.reason} if self.reason else {}),
        }


def flip_rate_ci(
    shares: np.ndarray, runs: np.ndarray, confidence: float = 0.95
) -> tuple[float, tuple[float, float], float]:
    """(estimate, interval, effective n) from per-item disagreement shares and run counts."""
    n = shares.size
    d = float(shares.mean())
    cap = float(n)  # the items are the independent units (module docstring)
    var = float(shares.var(ddof=1)) / n if n > 1 else 0.0
    if var > 0 and 0 < d < 1:
        z = stats.norm.ppf(0.5 + confidence / 2)
        t = stats.t.ppf(0.5 + confidence / 2, n - 1)
        n_eff = min(cap, d * (1 - d) / var * (z / t) ** 2)
    else:
        n_eff = cap
    return d, clopper_pearson(d * n_eff, n_eff, confidence), n_eff


def flip_statistics(
    runs_by_item: Mapping[str, Sequence[str]], *, confidence: float = 0.95
) -> FlipResult:
    """Flip statistics from each item's run outcomes (items with fewer than 2 runs ignored)."""
    groups = {item: list(o) for item, o in runs_by_item.items() if len(o) >= 2}
    if not groups:
        return FlipResult(
            status="insufficient_data",
            items=0,
            runs_per_item=(0, 0),
            pairs=0,
            flip_rate=None,
            flip_rate_ci=None,
            effective_n=None,
            items_with_flip=0,
            share_items_with_flip=None,
            share_items_with_flip_ci=None,
            reason="no item has two runs at this tier; run with --replicates R (R >= 1)",
        )
    shares, runs = [], []
    pair_counts: Counter[str] = Counter()
    pair_items: Counter[str] = Counter()
    pair_share: defaultdict[str, float] = defaultdict(float)
    flipped = 0
    for outcomes in groups.values():
        m = len(outcomes)
        total = m * (m - 1) // 2
        counts = Counter(outcomes)
        agreeing = sum(c * (c - 1) // 2 for c in counts.values())
        shares.append((total - agreeing) / total)
        runs.append(m)
        flipped += len(counts) > 1
        kinds = sorted(counts)
        for i, a in enumerate(kinds):
            for b in kinds[i + 1 :]:
                key = f"{a}|{b}"
                k = counts[a] * counts[b]
                pair_counts[key] += k
                pair_items[key] += 1
                pair_share[key] += k / total
    n = len(groups)
    share_arr, runs_arr = np.asarray(shares, dtype=float), np.asarray(runs, dtype=float)
    d, ci, n_eff = flip_rate_ci(share_arr, runs_arr, confidence)
    by_pair = {
        key: {"pairs": pair_counts[key], "items": pair_items[key], "rate": pair_share[key] / n}
        for key in sorted(pair_counts, key=lambda k: (-pair_counts[k], k))
    }
    return FlipResult(
        status="ok",
        items=n,
        runs_per_item=(int(runs_arr.min()), int(runs_arr.max())),
        pairs=int(sum(m * (m - 1) // 2 for m in runs)),
        flip_rate=d,
        flip_rate_ci=ci,
        effective_n=round(n_eff, 2),
        items_with_flip=flipped,
        share_items_with_flip=flipped / n,
        share_items_with_flip_ci=clopper_pearson(flipped, n, confidence),
        by_outcome_pair=by_pair,
    )


def zero_flip_upper_bound(items: int, confidence: float = 0.95) -> float:
    """The upper bound with no flip among ``items`` items (of any number of runs each)."""
    return 1.0 - math.pow((1.0 - confidence) / 2, 1.0 / items)


__all__ = ["FlipResult", "clopper_pearson", "flip_statistics", "zero_flip_upper_bound"]
