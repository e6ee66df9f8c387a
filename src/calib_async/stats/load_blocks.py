"""Between-block variation in the load experiment, and how much it widens the slope's interval.

The load experiment runs each (tier, level) block once per round (``--load-rounds``). A shock
to the machine while one block runs (another job, a neighbour VM, thermal throttling) moves
that block's timeout rate up or down; with one block per level it would read as a load effect.
With several rounds, blocks at the same level differ only by such shocks (and chance), which
this module measures:

* **Test.** Per level, a Pearson chi-squared test that the level's blocks share one timeout
  rate (the 2 x blocks table of timeouts and non-timeouts); the statistics and degrees of
  freedom add over the levels (a level where no block or every block timed out carries no
  information and is left out). ``p_value`` is its upper tail.
* **Dispersion.** phi = chi2 / df estimates how much larger the variance of a block's timeout
  count is than binomial (1: no between-block variation). This is the quasi-likelihood
  dispersion, estimated within levels so that it does not depend on the logistic curve being
  right.
* **ICC.** The correlation between the timeouts of two runs in the same block, beyond what
  the level explains: (phi - 1) / (m - 1) with m the mean block size (the beta-binomial
  moment estimator; 0 when phi <= 1).
* **Interval.** :func:`profile_drop` gives the drop in the (penalised) log-likelihood that
  bounds a profile interval: the larger of the binomial one (chi2_1 / 2) and the
  quasi-likelihood one (phi * F_1,df / 2, McCullagh & Nelder 1989, sec. 9.3), so the interval
  is never narrower than the binomial fit's and widens with the between-block variance.
  ``scripts/load_block_study.py`` measures the coverage with block shocks.

With one block per level (one round, or a checkpoint from before rounds) there is no
within-level comparison: ``status`` is ``not_estimable`` and the interval is the binomial one.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

TEST = "pearson_chi2_blocks_within_level"


@dataclass(frozen=True, slots=True)
class BlockHeterogeneity:
    """Between-block variation of the timeout rate at equal level (module docstring).

    ``status``: ok | not_estimable (one block per level, or no level with both outcomes).
    """

    status: str
    blocks: int
    rounds: int
    statistic: float | None = None
    df: int = 0
    p_value: float | None = None
    dispersion: float | None = None
    icc: float | None = None
    reason: str | None = None

    def to_export(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "test": TEST,
            "blocks": self.blocks,
            "rounds": self.rounds,
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "dispersion": self.dispersion,
            "icc": self.icc,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def block_heterogeneity(
    levels: Sequence[float], timeouts: Sequence[bool], blocks: Sequence[Hashable]
) -> BlockHeterogeneity:
    """The test, dispersion and ICC from one entry per run: its level, timed out?, block."""
    lv = np.asarray(levels, dtype=float)
    to = np.asarray(timeouts, dtype=bool)
    index = {b: i for i, b in enumerate(dict.fromkeys(blocks))}
    ids = np.array([index[b] for b in blocks], dtype=np.int64)
    n_blocks = len(index)
    per_level = [np.unique(ids[lv == k]).size for k in np.unique(lv)]
    rounds = max(per_level, default=0)
    statistic, df, sizes = 0.0, 0, []
    for k in np.unique(lv):
        at = lv == k
        here = np.unique(ids[at])
        n = np.array([np.sum(at & (ids == b)) for b in here], dtype=float)
        y = np.array([np.sum(at & (ids == b) & to) for b in here], dtype=float)
        sizes += n.tolist()
        p = y.sum() / n.sum()
        if here.size < 2 or p <= 0 or p >= 1:
            continue
        statistic += float(np.sum((y - n * p) ** 2 / (n * p * (1 - p))))
        df += here.size - 1
    if df == 0:
        reason = (
            "one block per level: between-block variation is not estimable (run 3 or more "
            "--load-rounds)"
            if rounds < 2
            else "no level has blocks with both timeouts and other outcomes"
        )
        return BlockHeterogeneity("not_estimable", n_blocks, rounds, reason=reason)
    phi = statistic / df
    m = float(np.mean(sizes))
    icc = max(0.0, (phi - 1) / (m - 1)) if m > 1 else None
    return BlockHeterogeneity(
        status="ok",
        blocks=n_blocks,
        rounds=rounds,
        statistic=statistic,
        df=df,
        p_value=float(stats.chi2.sf(statistic, df)),
        dispersion=phi,
        icc=None if icc is None else min(1.0, icc),
    )


def profile_drop(het: BlockHeterogeneity | None, confidence: float) -> float:
    """The log-likelihood drop bounding a profile interval (module docstring, "Interval")."""
    binomial = float(stats.chi2.ppf(confidence, 1)) / 2
    if het is None or het.dispersion is None or het.df < 1:
        return binomial
    return max(binomial, het.dispersion * float(stats.f.ppf(confidence, 1, het.df)) / 2)


def lr_p_value(lr: float, het: BlockHeterogeneity | None) -> float:
    """p-value of a likelihood-ratio statistic, consistent with :func:`profile_drop`."""
    binomial = float(stats.chi2.sf(lr, 1))
    if het is None or het.dispersion is None or het.df < 1 or het.dispersion <= 0:
        return binomial
    return max(binomial, float(stats.f.sf(lr / het.dispersion, 1, het.df)))


def heterogeneity_phrase(entry: object) -> str:
    """One line for the terminal and the report from an exported ``between_blocks`` entry."""
    if not isinstance(entry, Mapping):
        return ""
    if entry.get("status") != "ok":
        why = " (one block per level)" if entry.get("rounds") == 1 else ""
        return f"between blocks: not estimable{why}"
    icc, p, phi = (_number(entry.get(k)) for k in ("icc", "p_value", "dispersion"))
    if icc is None or p is None or phi is None:
        return ""
    verdict = "differ" if p <= 0.05 else "no significant difference"
    return (
        f"between blocks: {verdict} (ICC {icc:.3f}, dispersion {phi:.2f}, p = {p:.2g}, "
        f"{entry.get('rounds')} rounds)"
    )


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
