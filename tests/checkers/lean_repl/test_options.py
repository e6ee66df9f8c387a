"""The lean_repl profile keys fail with one-line messages that say what to write."""

from __future__ import annotations

import pytest

from calib_async.checkers.lean_repl import KIND
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig
from helpers.repl import repl_profile


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"policy": "lukewarm"}, "policy must be warm or fresh"),
        ({"pool_size": 0}, "pool_size must be a positive integer"),
        ({"max_uses": True}, "max_uses must be a positive integer"),
        ({"max_rss_mb": -1}, "max_rss_mb must be a positive number"),
        ({"base_env": "last"}, "base_env must be header or first_proof"),
        ({"header": 3}, "header must be the import block"),
        ({"axiom_allowlist": "propext"}, "axiom_allowlist must be a list"),
        ({"designs": {"aging": 3}}, "designs.aging must be true, false or a mapping"),
        ({"designs": {"warmth": True}}, "unknown design(s) ['warmth']"),
    ],
)
def test_bad_keys(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        KIND.validate(repl_profile(**options))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_command_is_required() -> None:
    with pytest.raises(ConfigError, match="'command' is required"):
        KIND.validate(VerifierConfig(name="r", kind="lean_repl"))


def test_defaults() -> None:
    KIND.validate(repl_profile())
    assert "pool_size" in KIND.profile_keys and "designs" in KIND.profile_keys
