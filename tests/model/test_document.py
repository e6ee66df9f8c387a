"""The typed export model: round trips keep every key and its order; a foreign or hand-edited
file raises one CalibError line naming the bad key."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from calib_async.errors import CalibError
from calib_async.export.document import write_export
from calib_async.model import (
    CalibrationDocument,
    CanaryModel,
    CountsModel,
    RateCounts,
    RateStatus,
    TierModel,
    TierStatus,
)
from helpers.exports import export_with_warnings


def _yaml(doc: dict[str, Any], tmp_path: Any) -> str:
    path = tmp_path / "c.yaml"
    write_export(path, doc)
    return str(path.read_text())


def test_a_written_export_round_trips_byte_for_byte(tmp_path: Any) -> None:
    original = export_with_warnings()
    text = _yaml(original, tmp_path)
    loaded = yaml.safe_load(text)
    again = CalibrationDocument.read(loaded).to_dict()
    assert again == loaded and list(again) == list(loaded)
    assert _yaml(again, tmp_path) == text


def test_the_typed_view_reads_rates_statuses_and_canaries() -> None:
    doc = CalibrationDocument.read(export_with_warnings())
    fast = doc.tier("FAST")
    assert fast.status is TierStatus.OK
    assert fast.rate("spurious_fail_rate").status is RateStatus.PARTIAL
    assert fast.rate("spurious_fail_rate").bounds == (0.10, 0.14)
    assert fast.canaries is not None and fast.canaries["axiom"].passed == 5
    assert doc.display_names() == {"fast": "FAST", "slow": "SLOW"}


def _error(doc: Any) -> str:
    with pytest.raises(CalibError) as info:
        CalibrationDocument.read(doc)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["noise_models"]["fast"].update(timeout_rate=1.5),
         r"^noise_models\.fast\.timeout_rate: expected a probability in \[0, 1\], got 1\.5"),
        (lambda d: d["noise_models"]["fast"].update(status="great"),
         r"^noise_models\.fast\.status: 'great' is not one of ok, partial"),
        (lambda d: d["noise_models"]["slow"]["counts"]["spurious_fail_rate"].update(status=3),
         r"^noise_models\.slow\.counts\.spurious_fail_rate\.status: 3 is not one of"),
        (lambda d: d["noise_models"]["fast"]["canaries"]["sorry"].update(passed=21),
         r"^noise_models\.fast\.canaries\.sorry: passed 21 exceeds run 20"),
        (lambda d: d["noise_models"]["fast"].update(spurious_pass_rate_ci=[0.5, 0.1]),
         r"^noise_models\.fast\.spurious_pass_rate_ci: low 0\.5 is above high 0\.1"),
        (lambda d: d["calibration_metadata"].update(schema_version="calib-async/9"),
         r"^calibration_metadata\.schema_version: calib-async/9 is newer .* upgrade"),
        (lambda d: d["calibration_metadata"].update(schema_version="other/1"),
         r"^calibration_metadata\.schema_version: 'other/1' is not a calib-async schema"),
        (lambda d: d.update(noise_models={}), r"^noise_models: missing or empty"),
        (lambda d: d.update(noise_models=[1]), r"^noise_models: expected a mapping"),
    ],
)  # fmt: skip
def test_a_hand_edited_file_names_its_bad_key(edit: Any, expected: str) -> None:
    doc = copy.deepcopy(export_with_warnings())
    edit(doc)
    assert __import__("re").search(expected, _error(doc))


def test_a_foreign_yaml_is_refused_in_one_line() -> None:
    assert _error(["not", "a", "calibration"]).startswith("top level: expected a mapping")
    assert _error({"spam": 1}).startswith("noise_models")


_prob = st.none() | st.floats(0.0, 1.0)
_interval = st.none() | st.tuples(st.floats(0.0, 0.5), st.floats(0.5, 1.0))
_count = st.none() | st.integers(0, 10**6)


@st.composite
def tiers(draw: st.DrawFn) -> TierModel:
    rates = {
        name: draw(st.none() | st.builds(RateCounts, status=st.sampled_from(RateStatus), n=_count))
        for name in ("timeout_rate", "spurious_fail_rate", "spurious_pass_rate")
    }
    canaries = draw(
        st.none()
        | st.dictionaries(
            st.sampled_from(["sorry", "axiom", "admit"]),
            st.integers(0, 50).flatmap(
                lambda run: st.builds(
                    CanaryModel, run=st.just(run), passed=st.integers(0, run),
                    spurious_pass_rate=_prob, spurious_pass_rate_ci=_interval,
                )
            ),
        )
    )  # fmt: skip
    return TierModel(
        timeout_rate=draw(_prob),
        timeout_rate_ci=draw(_interval),
        spurious_fail_rate=draw(_prob),
        spurious_pass_rate_bounds=draw(_interval),
        training_samples=draw(_count),
        status=draw(st.none() | st.sampled_from(TierStatus)),
        status_reason=draw(st.none() | st.text(max_size=20)),
        timeout_s=draw(st.none() | st.floats(0.001, 1e4)),
        counts=CountsModel(records=draw(_count), **rates),
        canaries=canaries,
        extra=draw(st.dictionaries(st.sampled_from(["new_stat", "other"]), st.integers())),
    )


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["fast", "slow", "a-b"]), tiers(), min_size=1))
def test_a_built_document_round_trips_through_its_dict(models: dict[str, TierModel]) -> None:
    doc = CalibrationDocument(noise_models=models)
    again = CalibrationDocument.read(doc.to_dict())
    assert again == doc
    assert again.to_dict() == doc.to_dict()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(list(TierModel.__dataclass_fields__)), _json))
def test_any_tier_mapping_is_read_or_refused_with_calib_error(raw: dict[str, Any]) -> None:
    doc = {"noise_models": {"fast": raw}}
    try:
        read = CalibrationDocument.read(doc)
    except CalibError as exc:
        assert "\n" not in str(exc)
        return
    assert _same(read.to_dict(), doc)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN included."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
