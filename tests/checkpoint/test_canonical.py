from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calib_async.checkpoint.canonical import (
    FLOAT_DIGITS,
    MEASUREMENT_FIELDS,
    SNAPSHOT_FIELDS,
    canonicalize,
    dumps_canonical,
    loads_line,
    read_snapshot,
    snapshot,
    write_snapshot,
)
from calib_async.records import Outcome, Phase, TelemetryRecord
from helpers import make_record

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
records = st.dictionaries(st.text(max_size=12) | st.sampled_from(MEASUREMENT_FIELDS), values)


@settings(deadline=None)  # a loaded CI host must not fail on timing
@given(records)
def test_loads_of_dumps_is_canonicalize(record: dict[str, Any]) -> None:
    assert loads_line(dumps_canonical(record)) == canonicalize(record)


@settings(deadline=None)  # a loaded CI host must not fail on timing
@given(records)
def test_dumps_is_idempotent(record: dict[str, Any]) -> None:
    line = dumps_canonical(record)
    assert dumps_canonical(loads_line(line)) == line
    assert canonicalize(canonicalize(record)) == canonicalize(record)


@settings(deadline=None)  # a loaded CI host must not fail on timing
@given(records)
def test_dumps_is_one_line_of_utf8(record: dict[str, Any]) -> None:
    line = dumps_canonical(record)
    assert b"\n" not in line and b"\r" not in line
    line.decode("utf-8")


@settings(deadline=None)  # a loaded CI host must not fail on timing
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_within_precision_is_kept_exactly(x: float) -> None:
    x = round(x, FLOAT_DIGITS) + 0.0
    assert loads_line(dumps_canonical({"v": x}))["v"] == x
    assert math.copysign(1.0, canonicalize({"v": x})["v"]) == math.copysign(1.0, x or 1.0)


def test_keys_sorted_recursively_and_compact() -> None:
    line = dumps_canonical({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": None}})
    assert line == b'{"a":{"c":null,"z":[1,{"x":3,"y":2}]},"b":1}'


def test_measurements_round_to_two_digits_and_become_floats() -> None:
    out = canonicalize(
        {"duration_ms": 12.3456, "cpu_time_ms": 7, "memory_peak_mb": 1.005, "other": 1.23456789}
    )
    expected = {"cpu_time_ms": 7.0, "duration_ms": 12.35, "memory_peak_mb": 1.0, "other": 1.234568}
    assert out == expected
    assert isinstance(out["cpu_time_ms"], float)
    assert dumps_canonical({"duration_ms": 5}) == dumps_canonical({"duration_ms": 5.0})


def test_measurement_fields_round_only_at_top_level() -> None:
    assert canonicalize({"m": {"duration_ms": 1.23456789}}) == {"m": {"duration_ms": 1.234568}}


def test_negative_zero_is_written_as_zero() -> None:
    assert dumps_canonical({"a": -0.0, "b": -1e-9}) == b'{"a":0.0,"b":0.0}'


def test_non_ascii_is_kept_as_utf8() -> None:
    line = dumps_canonical({"msg": "⊢ ℕ é"})
    assert "⊢ ℕ é".encode() in line
    assert b"\\u" not in line


def test_tuples_become_lists_and_enums_their_values() -> None:
    class Color(Enum):
        RED = 1

    out = canonicalize({"t": (1, (2, 3)), "o": Outcome.VERIFIED, "c": Color.RED, Phase.LABEL: 1})
    assert out == {"c": 1, "label": 1, "o": "VERIFIED", "t": [1, [2, 3]]}
    assert type(out["o"]) is str
    assert all(type(k) is str for k in out)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_rejected_naming_the_key(bad: float) -> None:
    with pytest.raises(ValueError, match=r"^metadata\.x\[1\]: .* is not finite"):
        dumps_canonical({"metadata": {"x": [0.0, bad]}})
    with pytest.raises(ValueError, match=r"^duration_ms: "):
        dumps_canonical({"duration_ms": bad})


def test_integers_beyond_64_bits_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"^n: integer .* does not fit in 64 bits"):
        dumps_canonical({"n": 2**64})


def test_unsupported_values_and_keys_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"p: PosixPath values"):
        canonicalize({"p": Path("/x")})
    with pytest.raises(TypeError, match=r"keys must be strings; found 1 at m"):
        canonicalize({"m": {1: "a"}})
    with pytest.raises(TypeError, match="must be a mapping"):
        canonicalize([1, 2])  # type: ignore[arg-type]


def test_lone_surrogate_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        dumps_canonical({"s": "\ud800"})


def test_loads_line_requires_an_object() -> None:
    assert loads_line(b'{"a":1}\n') == {"a": 1}
    with pytest.raises(ValueError, match=r"^expected a JSON object"):
        loads_line(b"[1]")
    with pytest.raises(ValueError):
        loads_line(b'{"a":')


def _record(key: str, **over: Any) -> dict[str, Any]:
    base = make_record(
        task_key=key,
        verification_id="v-" + key,
        timeout_s=0.5,
        duration_ms=12.5,
        cpu_time_ms=10.0,
        memory_peak_mb=50.0,
        memory_final_mb=20.0,
    ).to_dict()
    base.update(over)
    return base


def test_telemetry_record_round_trips() -> None:
    record = _record("k", duration_ms=1.23456, axioms=["propext"], warnings=["w"])
    back = TelemetryRecord.from_dict(loads_line(dumps_canonical(record)))
    assert back == TelemetryRecord.from_dict(canonicalize(record))
    assert back.duration_ms == 1.23


def test_snapshot_drops_run_dependent_fields_and_sorts_by_task_key() -> None:
    a = _record("b", duration_ms=1.0, host="h1", load_avg_1m=0.5, warnings=["x"])
    b = _record("a", duration_ms=9.0, host="h2", load_avg_1m=3.5)
    snap = snapshot([a, b])
    assert [r["task_key"] for r in snap] == ["a", "b"]
    assert set(snap[0]) <= SNAPSHOT_FIELDS
    for dropped in ("verification_id", "timestamp", "duration_ms", "host", "warnings"):
        assert dropped not in snap[0]
    # same runs, other timings and order: the same snapshot
    a2 = _record("b", duration_ms=3.0, host="h9", verification_id="zz")
    b2 = _record("a", duration_ms=4.0, timestamp="2030-01-01T00:00:00+00:00")
    assert snapshot([b2, a2]) == snap


def test_snapshot_drops_output_fields_of_killed_runs() -> None:
    killed = _record(
        "k", outcome="VERIFIER_TIMEOUT", termination_reason="timeout", exit_code=None,
        error_count=2, first_error="partial", timed_out=True,
    )  # fmt: skip
    (snap,) = snapshot([killed])
    assert snap["outcome"] == "VERIFIER_TIMEOUT" and snap["timed_out"] is True
    assert "first_error" not in snap and "error_count" not in snap and "exit_code" not in snap


def test_snapshot_fields_are_configurable() -> None:
    assert snapshot([_record("k")], fields=frozenset({"task_key", "tier"})) == [
        {"task_key": "k", "tier": "FAST"}
    ]


def test_write_snapshot_is_indented_sorted_json(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    write_snapshot([_record("b"), _record("a")], path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('[\n  {\n    "attempt": 0,') and text.endswith("]\n")
    assert read_snapshot(path) == snapshot([_record("a"), _record("b")])
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
