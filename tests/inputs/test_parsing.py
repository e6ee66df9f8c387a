"""load_yaml_text and parse_json_line: documents read as JSON values, blow-ups bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import calib_async.inputs as inputs
from calib_async.errors import CalibError, ConfigError, CorpusError
from calib_async.inputs import load_yaml_text, parse_json_line

SRC = str(Path(inputs.__file__).resolve().parents[2])


def load(text: str) -> object:
    return load_yaml_text(textwrap.dedent(text), source="cfg.yaml")


def billion_laughs(per_level: int) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * per_level)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("per_level", "message"),
    [
        (9, r"cfg.yaml: expands to more than 100000 values through aliases; use fewer aliases"),
        (12, r"cfg.yaml:\d+: more than 100 alias uses \(\*l\d\); write the values out"),
    ],
    ids=["under-alias-cap", "over-alias-cap"],
)
def test_alias_bomb_is_refused_and_finishes(per_level: int, message: str) -> None:
    code = f"""
        from calib_async.errors import ConfigError
        from calib_async.inputs import load_yaml_text, parse_json_line
        try:
            load_yaml_text({billion_laughs(per_level)!r}, source="cfg.yaml")
        except ConfigError as exc:
            print(exc)
    """
    env = {**os.environ, "PYTHONPATH": SRC}
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=10, env=env, check=False,
    )  # fmt: skip
    assert child.stderr == ""
    assert len(child.stdout.splitlines()) == 1
    assert child.stdout.startswith(message.split(":")[0])
    with pytest.raises(ConfigError, match=rf"^{message}"):
        load_yaml_text(billion_laughs(per_level), source="cfg.yaml")


def test_duplicate_key_names_both_lines() -> None:
    text = """\
        tiers:
          fast:
            timeout_s: 5
            verifier: lean
            timeout_s: 50
    """
    with pytest.raises(
        ConfigError,
        match=r"^cfg.yaml:5 at tiers.fast: duplicate key timeout_s \(first at line 3\); keep one$",
    ):
        load(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("options:\n  since: 2024-01-31\n", r"cfg.yaml:2 at options.since: a date/time; quote it"),
        ("at: 2024-01-31 10:00:00\n", r"cfg.yaml:1 at at: a date/time; quote it to make it text"),
        ("s: !!set {a, b}\n", r"cfg.yaml:1 at s: a set; use a list"),
        ("b: !!binary aGVsbG8=\n", r"cfg.yaml:1 at b: binary data; use text"),
        ("o: !!omap [a: 1]\n", r"cfg.yaml:1 at o: an ordered map; use a mapping"),
        ("x: !custom 1\n", r"cfg.yaml:1 at x: unsupported tag !custom; remove it"),
        ("x: !!python/name:os.system\n", r"cfg.yaml:1 at x: unsupported tag "),
        ("t:\n  timeout_s: .nan\n", r"cfg.yaml:2 at t.timeout_s: .nan is not a finite number"),
        ("grace_s: -.inf\n", r"cfg.yaml:1 at grace_s: -.inf is not a finite number"),
        ("seed: 18446744073709551616\n", r"cfg.yaml:1 at seed: an integer of 65 bits does not"),
        ("on: 1\n", r"cfg.yaml:1: key on is read as a boolean; quote it to make it text"),
        ("1: a\n", r"cfg.yaml:1: key 1 is read as an integer; quote it to make it text"),
        ("~: a\n", r"cfg.yaml:1: key ~ must be text; quote it"),
        ("? [a]\n: 1\n", r"cfg.yaml:1: a key must be text, not a list or mapping"),
        ('env:\n  A: "x\\0y"\n', r"cfg.yaml:2 at env.A contains a NUL character at position 1"),
        ('c: "\\ud800"\n', r"cfg.yaml:1 at c contains a lone surrogate U\+D800"),
        ("a: x\0\n", r"cfg.yaml: character U\+0000 at position 4 is not allowed in YAML"),
        ("a: &x [*x]\n", r"cfg.yaml:1 at a\[0\]: an alias refers to a value that contains it"),
        ("a: *nowhere\n", r"cfg.yaml:1: not valid YAML \(found undefined alias 'nowhere'\)"),
        ("a: [1\n", r"cfg.yaml:2: not valid YAML \(while parsing a flow sequence expected"),
        ("a: 1\n---\nb: 2\n", r"cfg.yaml:2: not valid YAML \(expected a single document"),
        ("a: [" * 100_000, r"cfg.yaml:1: nested deeper than 64 levels; flatten the document$"),
    ],
)
def test_non_json_yaml_is_refused_with_line_and_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{message}"):
        load_yaml_text(text, source="cfg.yaml")


def test_error_class_can_be_chosen() -> None:
    with pytest.raises(CorpusError, match=r"^list.yaml:1 at d: a date/time"):
        load_yaml_text("d: 2020-01-01\n", source="list.yaml", error=CorpusError)


def test_merge_keys_and_aliases_expand_to_independent_copies() -> None:
    data = load(
        """\
        base: &base {timeout_s: 5, args: [-q]}
        tiers:
          fast: {<<: *base, verifier: lean}
          slow:
            <<: *base
            timeout_s: 50
    """
    )
    assert isinstance(data, dict)
    assert data["tiers"] == {
        "fast": {"timeout_s": 5, "args": ["-q"], "verifier": "lean"},
        "slow": {"timeout_s": 50, "args": ["-q"]},
    }
    assert data["tiers"]["fast"]["args"] is not data["tiers"]["slow"]["args"]


@pytest.mark.parametrize("depth", [63, 64, 65])
def test_depth_bound_counts_containers(depth: int) -> None:
    text = "[" * depth + "1" + "]" * depth
    if depth <= 64:
        assert load_yaml_text(text, source="cfg.yaml") is not None
    else:
        with pytest.raises(ConfigError, match=r"^cfg.yaml:1: nested deeper than 64 levels"):
            load_yaml_text(text, source="cfg.yaml")


def test_empty_document_is_none() -> None:
    assert load_yaml_text("", source="cfg.yaml") is None
    assert load_yaml_text("# only a comment\n", source="cfg.yaml") is None


json_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=20,
)


@settings(deadline=None)  # a loaded CI host must not fail on timing
@given(json_values)
def test_json_values_round_trip_like_safe_load(value: object) -> None:
    text = yaml.safe_dump({"v": value}, allow_unicode=True)
    assert load_yaml_text(text, source="cfg.yaml") == yaml.safe_load(text) == {"v": value}


# ---------------------------------------------------------------------------------------------
# JSON lines


def test_json_line_nested_100000_deep_is_refused() -> None:
    with pytest.raises(
        CalibError, match=r"^a.jsonl:3: JSON nested deeper than 64 levels; flatten it$"
    ):
        parse_json_line("[" * 100_000 + "]" * 100_000, "a.jsonl:3")


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 1024, 1025])
def test_json_depth_bound_is_exact(depth: int) -> None:
    line = '{"a":' * depth + "1" + "}" * depth
    if depth <= 64:
        assert parse_json_line(line, "x") is not None
    else:
        with pytest.raises(CalibError, match=r"^x: JSON nested deeper than 64 levels"):
            parse_json_line(line, "x")


@pytest.mark.parametrize(
    "line",
    ['{"code": "\\ud800"}', b'{"code": "\xff"}', '{"x": NaN}', "[1e999]", '{"a": 1'],
    ids=["lone-surrogate", "bad-utf8", "nan", "overflow", "torn"],
)
def test_json_line_refuses_what_json_cannot_hold(line: str | bytes) -> None:
    with pytest.raises(
        CalibError, match=r"^a.jsonl:1: not valid JSON \(.+\); write one JSON value per line$"
    ):
        parse_json_line(line, "a.jsonl:1")


def test_json_line_parses_str_and_bytes() -> None:
    assert parse_json_line(b'{"id": "p1", "code": "x"}', "x") == {"id": "p1", "code": "x"}
    assert parse_json_line('[{"a": [1, 2.5, null, true]}]', "x") == [{"a": [1, 2.5, None, True]}]
