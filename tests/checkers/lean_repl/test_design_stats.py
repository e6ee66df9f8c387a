"""The designs' pure summaries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.lean_repl import design_stats as ds

ms = st.floats(min_value=0, max_value=1e5, allow_nan=False)


@given(
    st.lists(ms, min_size=1, max_size=20),
    st.lists(ms, min_size=1, max_size=20),
    st.floats(min_value=0.001, max_value=200),
)
def test_exceed_probability_is_the_share_of_pairs_over_the_limit(
    imports: list[float], elaborations: list[float], timeout_s: float
) -> None:
    brute = sum(1 for i in imports for e in elaborations if i + e > timeout_s * 1000)
    got = ds.exceed_probability(imports, elaborations, timeout_s)
    assert got is not None
    assert abs(got - brute / (len(imports) * len(elaborations))) < 1e-12


def test_mcnemar_counts_discordant_pairs() -> None:
    pairs = [(True, True)] * 5 + [(True, False)] * 6 + [(False, True)] * 0
    out = ds.mcnemar(pairs)
    assert out["disagreements"] == 6 and out["verified_fresh_only"] == 6
    assert abs(out["mcnemar_p"] - 2 * 0.5**6) < 1e-12
    assert ds.mcnemar([(True, True)])["mcnemar_p"] == 1.0


def test_flip_rates_against_the_smallest_k() -> None:
    rows = ds.flip_rates({0: {"a": "V", "b": "V"}, 10: {"a": "V", "b": "X"}})
    assert [(r["fillers"], r["flips"], r["flip_rate"]) for r in rows] == [(0, 0, 0.0), (10, 1, 0.5)]


@given(st.lists(st.tuples(st.integers(0, 2000), st.booleans()), max_size=60))
def test_crash_hazard_counts_every_command_once(commands: list[tuple[int, bool]]) -> None:
    rows = ds.crash_hazard(commands)
    assert sum(r["commands"] for r in rows) == len(commands)
    assert sum(r["deaths"] for r in rows) == sum(died for _, died in commands)
    for r in rows:
        assert r["ci95"][0] <= r["hazard"] <= r["ci95"][1] + 1e-9
