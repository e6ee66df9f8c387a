"""Between-block variation of the load experiment: the test, the ICC, the widened interval."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from scipy import stats

from calib_async.cli.summary_stability import stability_table
from calib_async.stats.load_blocks import (
    block_heterogeneity,
    heterogeneity_phrase,
    lr_p_value,
    profile_drop,
)
from calib_async.stats.load_fit import fit_load


def _blocks(counts: dict[int, list[int]], n: int) -> tuple[list[int], list[bool], list[tuple]]:
    """Per level, the timeouts of each round's block of ``n`` runs."""
    levels: list[int] = []
    timeouts: list[bool] = []
    blocks: list[tuple] = []
    for level, per_round in counts.items():
        for r, k in enumerate(per_round):
            levels += [level] * n
            timeouts += [True] * k + [False] * (n - k)
            blocks += [(level, r)] * n
    return levels, timeouts, blocks


def test_the_statistic_is_the_per_level_contingency_chi2_summed() -> None:
    counts = {1: [0, 6, 1], 4: [2, 9, 3], 8: [0, 0, 0]}
    het = block_heterogeneity(*_blocks(counts, 20))
    expected = sum(
        stats.chi2_contingency(np.array([k, [20 - v for v in k]]), correction=False)[0]
        for k in (counts[1], counts[4])
    )
    assert het.status == "ok" and het.rounds == 3 and het.blocks == 9
    assert het.statistic == pytest.approx(expected)
    assert het.df == 4  # level 8 has no timeout: it carries no information
    assert het.dispersion == pytest.approx(expected / 4)
    assert het.p_value == pytest.approx(stats.chi2.sf(expected, 4))
    assert het.icc == pytest.approx((expected / 4 - 1) / 19)
    assert het.p_value < 0.05
    assert "differ" in heterogeneity_phrase(het.to_export())


def test_one_block_per_level_is_not_estimable_and_keeps_the_binomial_interval() -> None:
    levels, timeouts, blocks = _blocks({1: [2], 4: [5], 8: [9]}, 20)
    het = block_heterogeneity(levels, timeouts, blocks)
    assert het.status == "not_estimable" and het.rounds == 1 and "--load-rounds" in str(het.reason)
    assert profile_drop(het, 0.95) == pytest.approx(stats.chi2.ppf(0.95, 1) / 2)
    with_blocks = fit_load(levels, timeouts, blocks=blocks, targets=())
    plain = fit_load(levels, timeouts, targets=())
    assert with_blocks.slope_ci == plain.slope_ci
    assert with_blocks.to_export()["interval_method"] == "profile_binomial"
    assert heterogeneity_phrase(with_blocks.to_export()["between_blocks"]).endswith(
        "not estimable (one block per level)"
    )


def test_block_shocks_widen_the_slope_interval_and_the_p_value() -> None:
    calm = _blocks({1: [2, 2, 2], 4: [4, 4, 4], 8: [6, 6, 6]}, 20)
    shaken = _blocks({1: [0, 6, 0], 4: [0, 12, 0], 8: [2, 16, 0]}, 20)
    for levels, timeouts, blocks in (calm, shaken):
        plain = fit_load(levels, timeouts, targets=())
        fit = fit_load(levels, timeouts, blocks=blocks, targets=())
        assert fit.slope == pytest.approx(plain.slope)
        assert fit.slope_ci is not None and plain.slope_ci is not None
        lo, hi = fit.slope_ci
        assert lo is not None and hi is not None
        assert lo <= plain.slope_ci[0] and hi >= plain.slope_ci[1]  # never narrower
        assert fit.slope_p_value is not None and plain.slope_p_value is not None
        assert fit.slope_p_value >= plain.slope_p_value
    shaken_fit = fit_load(shaken[0], shaken[1], targets=(0.05,))
    export = fit_load(shaken[0], shaken[1], blocks=shaken[2], targets=(0.05,)).to_export()
    assert export["rounds"] == 3 and export["interval_method"] == "profile_quasi_blocks"
    assert export["between_blocks"]["p_value"] < 0.05
    assert export["slope_ci"][0] < shaken_fit.slope_ci[0]  # type: ignore[index]


@settings(max_examples=30, deadline=None)
@given(
    dispersion=st.floats(0.0, 20.0),
    df=st.integers(1, 40),
    lr=st.floats(0.0, 50.0),
)
def test_the_p_value_is_below_alpha_exactly_when_zero_is_outside_the_interval(
    dispersion: float, df: int, lr: float
) -> None:
    """The profile interval excludes the null where lr / 2 > drop; the p-value agrees."""
    het = block_heterogeneity(*_blocks({1: [1, 2], 4: [3, 4]}, 10))
    het = type(het)(**{**{f: getattr(het, f) for f in het.__slots__}, "dispersion": dispersion,
                       "df": df})  # fmt: skip
    drop = profile_drop(het, 0.95)
    assert drop >= stats.chi2.ppf(0.95, 1) / 2 - 1e-12
    if abs(lr / 2 - drop) > 1e-6:
        assert (lr_p_value(lr, het) < 0.05) == (lr / 2 > drop)


def test_the_terminal_table_shows_the_between_block_icc() -> None:
    levels, timeouts, blocks = _blocks({1: [0, 6, 0], 4: [0, 12, 0], 8: [2, 16, 0]}, 20)
    load = fit_load(levels, timeouts, blocks=blocks, targets=(0.05,)).to_export()
    table = stability_table([("FAST", {"load": load})])
    assert table is not None
    out = io.StringIO()
    Console(file=out, width=250).print(table)
    assert "ICC" in out.getvalue() and "differ" in out.getvalue()
