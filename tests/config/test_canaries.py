"""Profile-declared canary classes: parsing and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from calib_async.checkers.lean import default_lean_config
from calib_async.config.canaries import parse_canaries
from calib_async.config.schema import load_checker_config
from calib_async.errors import ConfigError

W = "verifier 'coq'"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"find": "x"}, r"^verifier 'coq' canary 1: 'name' must be a letter"),
        ({"name": "sorry", "append": "x"}, r"^verifier 'coq' canary 1: 'sorry' is a built-in"),
        ({"name": "a"}, r"^verifier 'coq' canary 1 \(a\): give exactly one of"),
        ({"name": "a", "find": "x", "append": "y"}, r"\(a\): give exactly one"),
        ({"name": "a", "find": "x"}, r"^verifier 'coq' canary 1 \(a\): 'find' needs 'replace'"),
        ({"name": "a", "find": "(?=x)", "replace": ""}, r"lookahead \(\?=\.\.\.\) is not supp"),
        ({"name": "a", "find": "(x)", "replace": r"\2"}, r"refers to group \\2 but find has 1"),
        ({"name": "a", "find": "x", "replace": "", "count": 2}, r"count must be 'first' or 'all'"),
        ({"name": "a", "append": "x", "count": "all"}, r"'replace' and 'count' go with 'find'"),
        ({"name": "a", "append": 3}, r"^verifier 'coq' canary 1 \(a\): 'append' must be a str"),
        ({"name": "a", "prepend": "x", "extra": 1}, r"unknown key\(s\) \['extra'\]"),
    ],
)
def test_bad_canary_entries_are_one_line_errors(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_canaries([raw], W)


def test_duplicate_names_and_non_lists() -> None:
    with pytest.raises(ConfigError, match=r"^verifier 'coq': canary name 'a' is used twice$"):
        parse_canaries([{"name": "a", "append": "x"}, {"name": "a", "prepend": "y"}], W)
    with pytest.raises(ConfigError, match=r"^verifier 'coq': 'canaries' must be a list"):
        parse_canaries({"name": "a"}, W)


def test_profile_yaml_carries_canaries_outside_its_identity(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "verifiers:\n  coq:\n    command: [coqc, '{file}']\n    canaries:\n"
        "      - {name: admitted, find: 'Qed\\.', replace: 'Admitted.', count: all}\n"
        "      - {name: cheat, append: 'Axiom cheat : False.'}\n"
        "tiers:\n  T: {timeout_s: 5, verifier: coq}\n"
    )
    profile = load_checker_config(path, default_lean_config()).verifiers["coq"]
    assert [c.name for c in profile.canaries] == ["admitted", "cheat"]
    assert profile.canaries[0].count == "all" and profile.canaries[1].append
    assert "canaries" not in profile.identity()  # canaries never change a resumed run's identity
