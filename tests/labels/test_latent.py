"""The reference's error model: EM recovers error rates, identification says when it cannot."""

from __future__ import annotations

import random

import pytest

from calib_async.labels.latent import (
    MIN_SOURCE_ITEMS,
    ItemEvidence,
    bootstrap_models,
    fit_reference_model,
    identification,
)
from calib_async.records import Truth


def _votes(n: int, sources: int, *, wrong: float, repeats: int = 1, seed: int = 0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        valid = rng.random() < 0.6
        votes = {}
        for j in range(sources):
            v = sum((valid != (rng.random() < wrong)) for _ in range(repeats))
            votes[f"s{j}"] = (v, repeats - v)
        out.append(ItemEvidence.of(votes))
    return out


def test_em_recovers_the_error_rates_of_three_independent_sources() -> None:
    model = fit_reference_model(_votes(1500, 3, wrong=0.1))
    for source in ("s0", "s1", "s2"):
        assert model.sensitivity[source] == pytest.approx(0.9, abs=0.04)
        assert model.specificity[source] == pytest.approx(0.9, abs=0.04)
    assert model.prevalence == pytest.approx(0.6, abs=0.05)


def test_posterior_is_high_for_unanimous_votes_and_gold_is_certain() -> None:
    model = fit_reference_model(_votes(600, 3, wrong=0.1))
    unanimous = ItemEvidence.of({"s0": (1, 0), "s1": (1, 0), "s2": (1, 0)})
    split = ItemEvidence.of({"s0": (1, 0), "s1": (1, 0), "s2": (0, 1)})
    assert model.posterior_valid(unanimous) > 0.99
    assert 0.5 < model.posterior_valid(split) < model.posterior_valid(unanimous)
    against = ItemEvidence.of({"s0": (1, 0)}, Truth.INVALID)
    assert model.posterior_valid(against) == 0.0


def test_one_source_is_not_identified_and_says_why() -> None:
    once = identification(_votes(200, 1, wrong=0.1))
    assert not once.identified and "voting once" in (once.reason or "")
    repeated = identification(_votes(200, 1, wrong=0.1, repeats=3))
    assert not repeated.identified and repeated.repeats
    assert "flips" in (repeated.reason or "")
    two = identification(_votes(200, 2, wrong=0.1))
    assert not two.identified and "3 are needed" in (two.reason or "")


def test_three_sources_are_identified_only_with_enough_items_each() -> None:
    assert identification(_votes(MIN_SOURCE_ITEMS, 3, wrong=0.1)).identified
    assert not identification(_votes(MIN_SOURCE_ITEMS - 1, 3, wrong=0.1)).identified


def test_bootstrap_refits_are_seeded_and_vary() -> None:
    ev = _votes(300, 3, wrong=0.1)
    a = bootstrap_models(ev, 4, seed=7)
    b = bootstrap_models(ev, 4, seed=7)
    assert [m.sensitivity for m in a] == [m.sensitivity for m in b]
    assert len({round(m.sensitivity["s0"], 6) for m in a}) > 1


def test_items_without_votes_do_not_enter_the_fit() -> None:
    ev = [*_votes(300, 3, wrong=0.1), *[ItemEvidence.of({})] * 500]
    assert fit_reference_model(ev).prevalence == pytest.approx(
        fit_reference_model(ev[:300]).prevalence
    )
