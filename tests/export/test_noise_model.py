from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import calib_async
from calib_async.errors import CalibError
from calib_async.export.noise_model import NoiseModel, TierNoise
from calib_async.records import Outcome, Truth


def export_dict() -> dict[str, Any]:
    """What export.py writes (lower-cased tier keys, CIs from n of a few hundred)."""
    return {
        "calibration_metadata": {
            "schema_version": "calib-async/1",
            "date": "2024-05-01T10:00:00",
            "corpus": "synthetic",
            "total_samples": 900,
            "validation_split": 0.2,
            "seed": 42,
            "validation_passed": True,
            "tool_version": "0.1.0",
            "tiers": {
                "FAST": {"timeout_s": 0.5, "verifier": "sim", "memory_limit_mb": 512},
                "BALANCED": {"timeout_s": 1.0, "verifier": "sim", "memory_limit_mb": None},
            },
            "labels": {"sample": 120},
        },
        "validation_report": {
            "summary": "PASSED",
            "passed": True,
            "tier_monotonicity": {},
            "calibration_error": {},
            "coverage": {},
        },
        "noise_models": {
            "fast": {
                "timeout_rate": 0.12,
                "timeout_rate_ci": [0.08, 0.17],
                "spurious_fail_rate": 0.05,
                "spurious_fail_rate_ci": [0.02, 0.1],
                "spurious_pass_rate": 0.3,
                "spurious_pass_rate_ci": [0.2, 0.4],
                "timeout_given_valid": 0.1,
                "timeout_given_valid_ci": [0.06, 0.15],
                "timeout_given_invalid": 0.2,
                "timeout_given_invalid_ci": [0.12, 0.3],
                "timeout_distribution": {  # as stats/tier.py exports it
                    "type": "weibull_min",
                    "unit": "ms",
                    "params": {"shape": 1.4, "scale": 210.0},
                    "loc": 0.0,
                    "loglik": -2100.5,
                    "aic": 4205.0,
                    "goodness_of_fit": {"sup_distance": 0.03, "p_value": 0.4},
                    "status": "ok",
                },
                "timeout_for_rate": {"0.05": 0.81, 0.01: 1.4, 1e-9: None},
                "timeout_for_rate_unit": "s",
                "training_samples": 400,
                "timeout_s": 0.5,
                "counts": {"timeouts": 48},
            },
            "balanced": {
                "timeout_rate": 0.04,
                "timeout_rate_ci": [0.02, 0.07],
                "spurious_fail_rate": None,
                "spurious_fail_rate_ci": None,
                "spurious_pass_rate": 0.1,
                "spurious_pass_rate_ci": [0.05, 0.18],
                "timeout_distribution": {
                    "type": None,
                    "unit": "ms",
                    "params": {},
                    "goodness_of_fit": {},
                    "status": "insufficient_data",
                },
                "training_samples": 400,
            },
        },
    }


def write(tmp_path: Path, data: Any, name: str = "calibration.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_load_round_trips_the_exported_yaml(tmp_path: Path) -> None:
    data = export_dict()
    model = calib_async.NoiseModel.load(write(tmp_path, data))
    assert model.tiers == ["FAST", "BALANCED"]
    assert model.to_dict() == yaml.safe_load(yaml.safe_dump(data))
    assert model.validation_passed is True
    fast = model.tier("fast")
    assert fast is model.tier("FAST")
    src = data["noise_models"]["fast"]
    for key in (
        "timeout_rate",
        "spurious_fail_rate",
        "spurious_pass_rate",
        "timeout_given_valid",
        "timeout_given_invalid",
    ):
        assert getattr(fast, key) == src[key]
        assert getattr(fast, f"{key}_ci") == tuple(src[f"{key}_ci"])
    assert fast.timeout_for_rate == {0.05: 0.81, 0.01: 1.4, 1e-9: None}  # None: unreachable
    assert fast.distribution is not None and fast.distribution.to_export() == {
        "type": "weibull_min",
        "params": {"shape": 1.4, "scale": 210.0, "loc": 0.0},
        "unit": "ms",
    }
    balanced = model.tier("Balanced")
    assert balanced.distribution is None and balanced.spurious_fail_rate is None
    assert balanced.timeout_s == 1.0  # from calibration_metadata.tiers


def test_timeout_probability_is_the_fitted_survival_else_the_rate(tmp_path: Path) -> None:
    model = NoiseModel.load(write(tmp_path, export_dict()))
    weibull = stats.weibull_min(1.4, scale=210.0)
    for t in (0.05, 0.2, 0.5, 2.0):
        assert model.tier("FAST").timeout_probability(t) == pytest.approx(weibull.sf(t * 1000))
    assert model.tier("BALANCED").timeout_probability(3.0) == 0.04
    assert model.tier("FAST").recommended_timeout_s(0.05) == 0.81
    assert model.tier("FAST").recommended_timeout_s(0.2) == pytest.approx(weibull.isf(0.2) / 1000)
    assert model.tier("BALANCED").recommended_timeout_s(0.2) is None
    with pytest.raises(ValueError, match=r"^timeout_s must be >= 0"):
        model.tier("FAST").timeout_probability(-1)


def test_unknown_tier_lists_the_tiers(tmp_path: Path) -> None:
    model = NoiseModel.load(write(tmp_path, export_dict()))
    with pytest.raises(
        CalibError, match=r"^unknown tier 'SLOW'; this calibration has FAST, BALANCED$"
    ):
        model.tier("SLOW")


N_DRAWS = 100_000


@pytest.mark.parametrize(
    ("truth", "expected"),
    [
        (
            Truth.VERIFIED,
            {
                Outcome.VERIFIER_TIMEOUT: "timeout_given_valid",
                Outcome.PROOF_INVALID: "spurious_fail_rate",
            },
        ),
        (
            Outcome.PROOF_INVALID,
            {
                Outcome.VERIFIER_TIMEOUT: "timeout_given_invalid",
                Outcome.VERIFIED: "spurious_pass_rate",
            },
        ),
    ],
)
def test_sample_outcome_reproduces_the_rates_within_their_cis(
    tmp_path: Path, truth: Truth | Outcome, expected: dict[Outcome, str]
) -> None:
    fast = NoiseModel.load(write(tmp_path, export_dict())).tier("FAST")
    rng = np.random.default_rng(20240501)
    counts = Counter(fast.sample_outcome(truth, rng) for _ in range(N_DRAWS))
    assert set(counts) == {*expected, Outcome.VERIFIED, Outcome.PROOF_INVALID}
    for outcome, key in expected.items():
        rate = counts[outcome] / N_DRAWS
        low, high = getattr(fast, f"{key}_ci")
        assert low <= rate <= high, (outcome, rate)
        assert rate == pytest.approx(getattr(fast, key), abs=0.005)  # ~5 standard errors


def test_sample_outcome_falls_back_to_the_timeout_rate(tmp_path: Path) -> None:
    balanced = NoiseModel.load(write(tmp_path, export_dict())).tier("BALANCED")
    probs = balanced.outcome_probabilities(Truth.VERIFIED)
    assert probs == {
        Outcome.VERIFIER_TIMEOUT: 0.04,
        Outcome.PROOF_INVALID: 0.0,
        Outcome.VERIFIED: pytest.approx(0.96),
    }
    rng = np.random.default_rng(1)
    counts = Counter(balanced.sample_outcome("INVALID", rng) for _ in range(20_000))
    assert counts[Outcome.VERIFIED] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert counts[Outcome.VERIFIER_TIMEOUT] / 20_000 == pytest.approx(0.04, abs=0.01)
    with pytest.raises(ValueError, match="VERIFIED or INVALID"):
        balanced.sample_outcome(Outcome.VERIFIER_TIMEOUT, rng)
    with pytest.raises(ValueError, match="UNDETERMINED"):
        balanced.sample_outcome(Truth.UNDETERMINED, rng)


@given(
    p_timeout=st.floats(0, 1),
    p_wrong=st.floats(0, 1),
    truth=st.sampled_from([Truth.VERIFIED, Truth.INVALID]),
)
def test_outcome_probabilities_always_form_a_distribution(
    p_timeout: float, p_wrong: float, truth: Truth
) -> None:
    tier = TierNoise(
        name="T", timeout_rate=p_timeout, spurious_fail_rate=p_wrong, spurious_pass_rate=p_wrong
    )
    probs = tier.outcome_probabilities(truth)
    assert all(p >= 0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0)


def test_to_noise_config(tmp_path: Path) -> None:
    config = NoiseModel.load(write(tmp_path, export_dict())).to_noise_config()
    assert config["schema_version"] == "calib-async/1"
    assert config["tiers"]["FAST"]["timeout_given_valid"] == 0.1
    assert config["tiers"]["BALANCED"]["timeout_given_valid"] == 0.04  # fallback
    assert config["tiers"]["BALANCED"]["spurious_fail_rate"] == 0.0
    assert config["tiers"]["FAST"]["duration_distribution"]["type"] == "weibull_min"


def _set(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *path, last = dotted.split(".")
    node = data
    for key in path:
        node = node[key]
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("noise_models", None, r"noise_models: missing or empty"),
        ("noise_models", {}, r"noise_models: missing or empty"),
        ("noise_models.fast", [1, 2], r"noise_models\.fast: expected a mapping"),
        (
            "noise_models.fast.timeout_rate",
            1.5,
            r"noise_models\.fast\.timeout_rate: expected a probability in \[0, 1\], got 1\.5",
        ),
        (
            "noise_models.fast.spurious_pass_rate",
            "high",
            r"noise_models\.fast\.spurious_pass_rate: expected a finite number",
        ),
        (
            "noise_models.fast.timeout_rate_ci",
            [0.1],
            r"noise_models\.fast\.timeout_rate_ci: expected \[low, high\]",
        ),
        (
            "noise_models.fast.timeout_rate_ci",
            [0.2, 0.1],
            r"noise_models\.fast\.timeout_rate_ci: low 0\.2 is above high 0\.1",
        ),
        (
            "noise_models.fast.timeout_distribution.type",
            "pareto",
            r"noise_models\.fast\.timeout_distribution\.type: unknown distribution 'pareto'",
        ),
        (
            "noise_models.fast.timeout_distribution.params",
            {"shape": 1.4},
            r"noise_models\.fast\.timeout_distribution\.params: missing scale",
        ),
        (
            "noise_models.fast.timeout_for_rate",
            {"often": 1.0},
            r"noise_models\.fast\.timeout_for_rate: key 'often' is not a number",
        ),
        (
            "noise_models.fast.training_samples",
            "many",
            r"noise_models\.fast\.training_samples: expected a count \(integer >= 0\)",
        ),
        (
            "calibration_metadata.schema_version",
            "calib-async/2",
            r"calibration_metadata\.schema_version: calib-async/2 is newer .*; upgrade calib-\w+$",
        ),
        (
            "calibration_metadata.schema_version",
            "other/1",
            r"calibration_metadata\.schema_version: 'other/1' is not a calib-async schema",
        ),
        ("calibration_metadata", "x", r"calibration_metadata: expected a mapping"),
    ],
)
def test_malformed_file_names_the_bad_key(
    tmp_path: Path, dotted: str, value: Any, message: str
) -> None:
    path = write(tmp_path, _set(export_dict(), dotted, value))
    with pytest.raises(CalibError, match=rf"^{re.escape(str(path))}: {message}") as info:
        NoiseModel.load(path)
    assert "\n" not in str(info.value)


def test_unreadable_or_non_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(CalibError, match=r"cannot read calibration file .*missing\.yaml"):
        NoiseModel.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("noise_models:\n  fast: {timeout_rate: [\n")
    with pytest.raises(
        CalibError, match=r"bad\.yaml: not valid YAML at line \d+; fix or re-export"
    ):
        NoiseModel.load(bad)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(CalibError, match=r"top level: expected a mapping"):
        NoiseModel.load(tmp_path / "list.yaml")


def test_missing_or_zero_conditional_timeouts_never_silence_a_tier_with_timeouts(
    tmp_path: Path,
) -> None:
    # regression (issue 13): every sampled timeout UNDETERMINED -> timeout_given_* exported
    # as 0.0 (older files) or None (now, with bounds): sampling must still produce timeouts
    doc = export_dict()
    fast = doc["noise_models"]["fast"]
    fast.update(timeout_given_valid=0.0, timeout_given_invalid=0.0)
    tier = NoiseModel.load(write(tmp_path, doc)).tier("FAST")
    assert tier.outcome_probabilities(Truth.VERIFIED)[Outcome.VERIFIER_TIMEOUT] == 0.12
    assert tier.outcome_probabilities(Truth.INVALID)[Outcome.VERIFIER_TIMEOUT] == 0.12
    fast.update(timeout_given_valid=None, timeout_given_valid_ci=[0.0, 0.3])
    fast.update(timeout_given_valid_bounds=[0.0, 0.25], timeout_given_invalid=0.2)
    tier = NoiseModel.load(write(tmp_path, doc)).tier("FAST")
    assert tier.timeout_given_valid_bounds == (0.0, 0.25)
    # partially identified: the midpoint of its bounds (issue 27), never a silent zero
    assert tier.outcome_probabilities(Truth.VERIFIED)[Outcome.VERIFIER_TIMEOUT] == 0.125
    assert tier.outcome_probabilities(Truth.INVALID)[Outcome.VERIFIER_TIMEOUT] == 0.2
    # one class genuinely never times out: a real 0.0 next to a positive rate stays 0.0
    fast.update(timeout_given_valid=0.0, timeout_given_valid_bounds=[0.0, 0.0])
    tier = NoiseModel.load(write(tmp_path, doc)).tier("FAST")
    assert tier.outcome_probabilities(Truth.VERIFIED)[Outcome.VERIFIER_TIMEOUT] == 0.0


def test_a_spurious_rate_without_estimate_samples_the_midpoint_of_its_bounds(
    tmp_path: Path,
) -> None:
    doc = export_dict()
    doc["noise_models"]["fast"].update(
        spurious_fail_rate=None, spurious_fail_rate_bounds=[0.02, 0.06]
    )
    tier = NoiseModel.load(write(tmp_path, doc)).tier("FAST")
    assert tier.outcome_probabilities(Truth.VERIFIED)[Outcome.PROOF_INVALID] == pytest.approx(0.04)
    assert tier.to_noise_config()["spurious_fail_rate"] == pytest.approx(0.04)
    doc["noise_models"]["fast"]["spurious_fail_rate_bounds"] = [0.5, 0.1]
    with pytest.raises(CalibError, match=r"spurious_fail_rate_bounds: low 0\.5 is above high"):
        NoiseModel.load(write(tmp_path, doc))
