"""README.md and docs/: four kinds of pages, links that resolve inside the repository, a CLI
reference generated from the parsers, an output reference that lists every exported key, and
every command in them run.

Every ```bash block (and every ```python block) of README.md and docs/ is run, in file order,
in a fresh directory per file that holds links to the repository's ``examples`` and ``tests``
and a demo export as ``calibration.yaml``, ``before.yaml`` and ``after.yaml``. A block after
``<!-- requires: TOOL -->`` is skipped (with the reason) when TOOL is not installed; a block
after ``<!-- run by tests/... -->`` is run by that test instead. README's two first commands
are the CI job itself (``.ci/run`` runs them, ``tests/test_readme_commands.py`` checks it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import TESTS, run_env
from test_readme_commands import readme_commands

ROOT = TESTS.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
DEMO = TESTS / "fixtures" / "compare"
BLOCK = re.compile(r"(?:<!-- (requires|run by): ?([^>]*?) -->\n)?```(bash|python)\n(.*?)```", re.S)


def test_docs_hold_the_four_kinds_and_readme_is_short() -> None:
    for kind in ("tutorials", "how-to", "reference", "explanation"):
        assert list((DOCS / kind).glob("*.md")), kind
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200
    text = "\n".join(lines)
    assert ("The tests take" in text and "2\ncores" in text) or "2 cores" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    outside = re.search(r"https?://(?!127\.0\.0\.1|localhost)", text)
    assert not outside, "the repository refers to nothing outside itself"
    assert not re.search(r"\bthe plan\b|DESIGN\.md|\.\./shared", text)
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        assert (page.parent / target).resolve().exists(), target


def test_cli_reference_is_generated_from_the_parsers() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_reference.py"), "--check"],
        capture_output=True, text=True, env=run_env(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _keys(export: dict) -> set[str]:
    keys = set(export["calibration_metadata"])
    for model in export["noise_models"].values():
        keys |= set(model)
        dist = model.get("timeout_distribution") or {}
        keys |= set(dist)
    return keys


def test_output_reference_lists_every_exported_key() -> None:
    """The keys of a real export (the demo fixture), plus the provenance and verdict keys
    this version adds (computed by the code that writes them)."""
    from calib_async.export.provenance import merge_provenance, provenance
    from calib_async.export.verdict_keys import add_verdict_keys
    from calib_async.records import Tier
    from helpers import make_record

    export = yaml.safe_load((DEMO / "demo_seed12345.yaml").read_text())
    keys = provenance(
        tiers=[Tier("FAST", 1.0, "sim")], profiles=None, telemetry=[make_record()], confidence=0.95
    )
    merge_provenance(export["calibration_metadata"], keys)
    add_verdict_keys(export, [make_record()])
    text = (DOCS / "reference" / "outputs.md").read_text(encoding="utf-8")
    missing = sorted(k for k in _keys(export) if f"`{k}`" not in text)
    assert not missing, missing


def _blocks(page: Path) -> list[tuple[str | None, str, str, str]]:
    return [
        (kind or None, arg.strip(), lang, body)
        for kind, arg, lang, body in BLOCK.findall(page.read_text(encoding="utf-8"))
    ]


def test_every_command_block_is_found() -> None:
    """Each page's fenced blocks are all seen by the runner (a typo in a fence would hide a
    command): as many ``bash``/``python`` fences as blocks found."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert len(re.findall(r"```(?:bash|python)\n", text)) == len(_blocks(page)), page


RUN = [p for p in PAGES if _blocks(p)]


@pytest.mark.parametrize("page", RUN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_in_the_page_runs(page: Path, tmp_path: Path) -> None:
    ci = set(readme_commands())
    for name in ("examples", "tests", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copy(DEMO / "demo_seed12345.yaml", tmp_path / "calibration.yaml")
    shutil.copy(DEMO / "demo_seed12345.yaml", tmp_path / "before.yaml")
    shutil.copy(DEMO / "demo_seed777.yaml", tmp_path / "after.yaml")
    skipped = []
    for kind, arg, lang, body in _blocks(page):
        if body.strip() in ci or kind == "run by":
            continue
        if kind == "requires" and shutil.which(arg) is None:
            skipped.append(arg)
            continue
        argv = ["bash", "-e", "-c", body] if lang == "bash" else [sys.executable, "-c", body]
        done = subprocess.run(
            argv, cwd=tmp_path, env=run_env(), capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{page.name}: {body[:200]}\n{done.stderr[-3000:]}"
    if skipped:
        pytest.skip(f"needs {', '.join(sorted(set(skipped)))}")
