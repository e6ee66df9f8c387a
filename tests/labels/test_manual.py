from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calib_async.errors import CalibError, CorpusError
from calib_async.labels.manual import ManualLabel, append_manual_label, load_manual_labels
from calib_async.records import Truth


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_optional_tier_and_any_case(tmp_path: Path) -> None:
    path = write(
        tmp_path / "labels.csv",
        "\ufeffitem_id,label,tier,note\na,VERIFIED,,looked fine\n\nb, invalid ,FAST,\nc,Verified\n",
    )
    assert load_manual_labels(path) == [
        ManualLabel("a", None, Truth.VERIFIED),
        ManualLabel("b", "FAST", Truth.INVALID),
        ManualLabel("c", None, Truth.VERIFIED),
    ]


def test_jsonl_with_optional_tier_and_extra_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path / "labels.jsonl",
        '{"item_id": "a", "label": "verified"}\n'
        "\n"
        '{"item_id": "b", "label": "INVALID", "tier": "SLOW", "labeled_at": "x"}\n',
    )
    assert load_manual_labels(path) == [
        ManualLabel("a", None, Truth.VERIFIED),
        ManualLabel("b", "SLOW", Truth.INVALID),
    ]


def test_later_line_wins_for_the_same_item_and_tier(tmp_path: Path) -> None:
    path = write(
        tmp_path / "l.jsonl",
        '{"item_id": "a", "label": "VERIFIED"}\n'
        '{"item_id": "a", "label": "INVALID", "tier": "FAST"}\n'
        '{"item_id": "b", "label": "VERIFIED"}\n'
        '{"item_id": "a", "label": "INVALID"}\n',
    )
    assert load_manual_labels(path) == [
        ManualLabel("a", "FAST", Truth.INVALID),
        ManualLabel("b", None, Truth.VERIFIED),
        ManualLabel("a", None, Truth.INVALID),
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "l.csv",
            "item_id,label\na,VERIFIED\nb,VALID\n",
            r":3: label 'VALID' is not VERIFIED or INVALID$",
        ),
        ("l.csv", "item_id,label\n,VERIFIED\n", r":2: empty or missing item_id$"),
        (
            "l.csv",
            "item,label\na,VERIFIED\n",
            r":1: header lacks item_id; expected item_id,label\[,tier\]$",
        ),
        ("l.csv", "item_id,label\na,VERIFIED,FAST\n", r":2: 3 fields, header has 2$"),
        ("l.csv", "item_id,label\na\n", r":2: label None is not VERIFIED or INVALID$"),
        ("l.csv", "", r": empty file; expected a header item_id,label\[,tier\]$"),
        (
            "l.jsonl",
            '{"item_id": "a", "label": "VERIFIED"}\n{"item_id": "b",\n',
            r":2: not valid JSON \(.*\); write one JSON value per line$",
        ),
        ("l.jsonl", '\n\n["a", "VERIFIED"]\n', r":3: expected a JSON object$"),
        (
            "l.jsonl",
            '{"item_id": "a", "label": "UNDETERMINED"}\n',
            r":1: label 'UNDETERMINED' is not",
        ),
        ("l.jsonl", '{"item_id": 3, "label": "VERIFIED"}\n', r":1: empty or missing item_id$"),
        (
            "l.jsonl",
            '{"item_id": "a", "label": "VERIFIED", "tier": 1}\n',
            r":1: tier 1 is not a string$",
        ),
    ],
)
def test_bad_lines_name_the_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(CorpusError, match=rf"^manual labels {re.escape(str(path))}{message}"):
        load_manual_labels(path)


def test_missing_file_and_unknown_suffix_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(CalibError, match=r"^--manual-labels .* does not exist; check the path$"):
        load_manual_labels(tmp_path / "nope.csv")
    with pytest.raises(CalibError, match=r"unknown file type '\.txt'; use \.csv"):
        load_manual_labels(write(tmp_path / "l.txt", "x"))


def test_append_is_durable_jsonl_that_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "manual.jsonl"
    append_manual_label(path, ManualLabel("a", None, Truth.VERIFIED))
    append_manual_label(path, ManualLabel("b", "FAST", Truth.INVALID))
    lines = path.read_text().splitlines()
    assert [json.loads(x)["item_id"] for x in lines] == ["a", "b"]
    assert load_manual_labels(path) == [
        ManualLabel("a", None, Truth.VERIFIED),
        ManualLabel("b", "FAST", Truth.INVALID),
    ]


def test_append_after_a_line_cut_short_starts_a_new_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.jsonl", '{"item_id": "a", "label": "VERIFIED"}\n{"item_id": "b", "lab'
    )
    append_manual_label(path, ManualLabel("c", None, Truth.INVALID))
    last = path.read_text().splitlines()[-1]
    assert json.loads(last)["item_id"] == "c"
    # the cut line is reported, not merged
    with pytest.raises(CorpusError, match=r":2: not valid JSON"):
        load_manual_labels(path)


ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    labels=st.lists(
        st.builds(
            ManualLabel,
            ids,
            st.one_of(st.none(), st.sampled_from(["FAST", "SLOW"])),
            st.sampled_from([Truth.VERIFIED, Truth.INVALID]),
        ),
        max_size=8,
    )
)
def test_append_then_load_round_trips_any_item_id(
    tmp_path: Path, labels: list[ManualLabel]
) -> None:
    path = tmp_path / "rt.jsonl"
    path.unlink(missing_ok=True)
    for label in labels:
        append_manual_label(path, label)
    expected: dict[tuple[str, str | None], ManualLabel] = {}
    for label in labels:
        expected.pop((label.item_id, label.tier), None)
        expected[(label.item_id, label.tier)] = label
    loaded = load_manual_labels(path) if labels else []
    assert loaded == list(expected.values())
