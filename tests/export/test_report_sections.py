from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from calib_async.export import report_sections
from calib_async.export.report_sections import OPTIONAL_SECTIONS, load_renderer, optional_sections


@pytest.fixture
def fake_module() -> Iterator[str]:
    name = "calib_async_test_fake_section"
    module = types.ModuleType(name)

    def render_section(export: Mapping[str, Any]) -> str | None:
        return f"<section id='fake'>{len(export)}</section>" if export else None

    def broken(export: Mapping[str, Any]) -> str | None:
        raise ValueError("boom")

    module.render_section = render_section  # type: ignore[attr-defined]
    module.broken = broken  # type: ignore[attr-defined]
    sys.modules[name] = module
    yield name
    del sys.modules[name]


def test_registered_sections_render_missing_modules_are_skipped(fake_module: str) -> None:
    specs = (f"{fake_module}:render_section", "calib_async.export.no_such_section:render")
    assert optional_sections({"a": 1}, specs) == ["<section id='fake'>1</section>"]
    assert optional_sections({}, specs) == []  # the renderer had nothing to show
    assert load_renderer("calib_async.export.no_such_section:render") is None


def test_a_failing_section_is_reported_not_fatal(fake_module: str) -> None:
    (html,) = optional_sections({"a": 1}, (f"{fake_module}:broken",))
    assert "could not be rendered: ValueError(&#x27;boom&#x27;)" in html


def test_the_default_registry_names_the_canary_and_stability_sections() -> None:
    assert "calib_async.export.report_canaries:render_section" in OPTIONAL_SECTIONS
    assert "calib_async.export.report_stability:render_section" in OPTIONAL_SECTIONS
    assert all(isinstance(s, str) for s in optional_sections({}, report_sections.OPTIONAL_SECTIONS))


def test_held_out_ids_in_labels_json_are_found_by_key(tmp_path: Any) -> None:
    from calib_async.export.report_headline import held_out_note
    from calib_async.export.report_sections import labels_held_out_key

    report = tmp_path / "report.html"
    assert labels_held_out_key(report) is None  # no labels.json
    (tmp_path / "labels.json").write_text('{"items": {}}')
    assert labels_held_out_key(report) is None  # not listed yet
    (tmp_path / "labels.json").write_text('{"items": {}, "held_out_items": ["a", "b"]}')
    assert labels_held_out_key(report) == "held_out_items"
    export = {"validation_report": {"held_out": {"items": 2}}}
    note = held_out_note(export, "held_out_items")
    assert "their ids are in labels.json (held_out_items)" in note
