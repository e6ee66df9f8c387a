"""NoiseModel warns when it samples a rate whose status is not ``ok``."""

from __future__ import annotations

import copy
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from calib_async.export.noise_model import NoiseModel, RateStatusWarning
from calib_async.records import Truth


def _load_sibling(name: str) -> Any:
    """The sibling test module (tests run with --import-mode=importlib)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_sibling_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_dict = _load_sibling("test_noise_model").export_dict


def _with_status(statuses: dict[str, str], tier_status: str = "ok") -> dict[str, Any]:
    data = copy.deepcopy(export_dict())
    fast = data["noise_models"]["fast"]
    fast["status"] = tier_status
    fast["counts"] = {name: {"status": s} for name, s in statuses.items()}
    return data


def _load(tmp_path: Path, data: dict[str, Any]) -> NoiseModel:
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump(data))
    return NoiseModel.load(path)


def test_sampling_an_unverified_rate_warns_and_says_which(tmp_path: Path) -> None:
    model = _load(tmp_path, _with_status({"spurious_pass_rate": "unverified_labels"}))
    with pytest.warns(RateStatusWarning, match="spurious_pass_rate is unverified_labels"):
        model.tier("FAST").sample_outcome(Truth.INVALID, np.random.default_rng(0))


def test_sampling_only_ok_rates_is_silent(tmp_path: Path) -> None:
    model = _load(tmp_path, _with_status({"spurious_pass_rate": "low_labels"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # truth VERIFIED samples spurious fail and timeout given valid: both ok
        model.tier("FAST").sample_outcome(Truth.VERIFIED, np.random.default_rng(0))


def test_sampling_a_failed_tier_warns(tmp_path: Path) -> None:
    model = _load(tmp_path, _with_status({}, tier_status="failed"))
    with pytest.warns(RateStatusWarning, match="failed"):
        model.tier("FAST").sample_outcome(Truth.VERIFIED, np.random.default_rng(0))
