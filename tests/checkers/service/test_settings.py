"""Service profile settings: the example loads, bad values get a one-line fix."""

from __future__ import annotations

from typing import Any

import pytest

from calib_async.checkers.lean import default_lean_config
from calib_async.checkers.service.settings import check_tier_options, read_settings
from calib_async.config.schema import load_checker_config
from calib_async.errors import ConfigError
from helpers import TESTS

EXAMPLE = TESTS.parent / "examples" / "kimina-service.yaml"


def test_the_example_config_loads() -> None:
    config = load_checker_config(EXAMPLE, default_lean_config())
    profile = config.verifiers["kimina"]
    assert profile.kind == "service"
    settings = read_settings(profile.name, profile.options)
    assert settings.endpoint(settings.adapter.check_path) == "http://127.0.0.1:8000/api/check"
    assert config.tiers["FRESH"].options["audit_axioms"] is True


@pytest.mark.parametrize(
    ("options", "fix"),
    [
        ({}, "set url"),
        ({"url": "ftp://x"}, "http:// or https://"),
        ({"url": "http://u:p@h:1"}, "use token_env"),
        ({"url": "http://h:1", "api": "other"}, "known: kimina"),
        ({"url": "http://h:1", "grace_s": 0}, "positive"),
        ({"url": "http://h:1", "token_env": "CALIB_NOT_SET_ANYWHERE"}, "export it"),
    ],
)
def test_bad_profile_values_say_what_to_do(options: dict[str, Any], fix: str) -> None:
    with pytest.raises(ConfigError, match=fix):
        read_settings("p", options)


def test_tier_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="reuse must be true or false"):
        check_tier_options("p", "T", {"reuse": "yes"})
