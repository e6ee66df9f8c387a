"""dumps_canonical's fast path gives exactly the bytes of the general path (canonicalize)."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calib_async.checkpoint.canonical import MEASUREMENT_FIELDS, canonicalize, dumps_canonical
from helpers import make_record


class _Color(StrEnum):
    RED = "red"


class _Num(Enum):
    ONE = 1


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats()  # NaN and infinities included: both paths must reject them alike
    | st.text(max_size=20)
    | st.sampled_from([_Color.RED, _Num.ONE, -0.0, 10**400])
)
keys = st.text(max_size=8) | st.sampled_from([*MEASUREMENT_FIELDS, _Color.RED])
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=20,
)
records = st.dictionaries(keys | st.integers(0, 3), values)


def _general(record: Any) -> bytes | type[Exception]:
    try:
        canonical = canonicalize(record)
    except (TypeError, ValueError) as exc:
        return type(exc)
    try:
        return orjson.dumps(canonical)
    except orjson.JSONEncodeError:  # lone surrogates: dumps_canonical says ValueError
        return ValueError


def _fast(record: Any) -> bytes | type[Exception]:
    try:
        return dumps_canonical(record)
    except (TypeError, ValueError) as exc:
        return type(exc)


@settings(deadline=None, max_examples=500)
@given(records)
def test_fast_path_writes_the_bytes_of_the_general_path(record: dict[Any, Any]) -> None:
    assert _fast(record) == _general(record)


def test_telemetry_record_takes_the_same_bytes_both_ways() -> None:
    record = make_record(warnings=["cpu_rusage_below_sampled"]).to_dict()
    record["metadata"] = {"z": 1.0000004, "a": [1, -0.0, "x"], "m": {"b": None, "a": True}}
    assert dumps_canonical(record) == orjson.dumps(canonicalize(record))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 10**400])
def test_measurement_that_is_no_finite_float_is_rejected_naming_the_field(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^duration_ms: "):
        dumps_canonical({"duration_ms": bad})
