"""Placeholders are substituted in one pass: text put in is never expanded again (a file named
``{timeout_s}.lean`` keeps its name), and ``cwd: "{workdir}"`` is filled in."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from calib_async.checkers.command.profile import CommandVerifier, expand_argv, substitute
from calib_async.config.schema import Rule, VerifierConfig
from calib_async.records import CorpusItem, Outcome, Tier

TIER = Tier("T", timeout_s=10, verifier="v", memory_limit_mb=512)
KEYS = ("{file}", "{module}", "{timeout_s}", "{memory_mb}", "{workdir}")


def _item(path: str) -> CorpusItem:
    return CorpusItem("M.x", "M.x", path, "0" * 64)


def test_a_file_named_like_a_placeholder_keeps_its_name(tmp_path: Path) -> None:
    path = str(tmp_path / "{timeout_s}{memory_mb}{workdir}.lean")
    argv = expand_argv(("chk", "{file}", "--t={timeout_s}"), _item(path), TIER, timeout_s=10,
                       workdir="/w")  # fmt: skip
    assert argv == ("chk", path, "--t=10")


@given(st.lists(st.sampled_from([*KEYS, "{", "}", "a"]), max_size=12))
def test_substitute_expands_each_placeholder_of_the_template_once(parts: list[str]) -> None:
    values = {key: f"<{key}>" for key in KEYS}
    text = "".join(parts)
    expected = "".join(values.get(p, p) for p in parts)
    # the template's own placeholders are all replaced, and only they (inserted text holds
    # placeholder-like text: "<{file}>" must stay as it is)
    assert substitute(text, values) == expected


def test_substitute_never_expands_inserted_text() -> None:
    values = {"{file}": "{module}.lean", "{module}": "M"}
    assert substitute("{file} {module}", values) == "{module}.lean M"


def test_cwd_workdir_placeholder_is_filled_in() -> None:
    v = CommandVerifier(
        VerifierConfig(
            name="v", command=("true",), cwd="{workdir}/sub",
            rules=(Rule(Outcome.VERIFIED, exit_codes=(0,)),),
        )
    )  # fmt: skip
    spec = v.build_spec(_item("/x.lean"), TIER, timeout_s=1, attempt=0)
    assert spec.workdir is not None
    assert spec.cwd == os.path.join(spec.workdir, "sub")
