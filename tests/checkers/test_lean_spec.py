"""The Lean profile builds the process spec: argv, limits, lake detection, ``--json``, the audit
file, and option errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from calib_async.checkers.lean.profile import (
    find_workspace_root,
)
from helpers.lean_profile import (
    item_for,
    tier,
    verifier,
)

# ---------------------------------------------------------------------------------------------
# Building the process spec


def test_plain_argv_and_limits(tmp_path: Path) -> None:
    f = tmp_path / "a.lean"
    f.write_text("theorem a : True := trivial\n")
    t = tier(max_heartbeats=400000, threads=2, memory=4096, args=["-DwarningAsError=true"])
    spec = verifier().build_spec(item_for(f), t, timeout_s=7.0, attempt=0)
    assert spec.argv == (
        "lean", "-D", "maxHeartbeats=400000", "-M", "4096", "-j", "2",
        "-DwarningAsError=true", str(f.resolve()),
    )  # fmt: skip
    assert spec.timeout_s == 7.0
    assert spec.limits.memory_mb == 4096 + 1024 + 512  # Lean's -M is hit first
    assert "PATH" in spec.env
    assert verifier(runner_memory_mb=0).runner_limits(t).memory_mb is None
    assert verifier(runner_memory_mb=9000).runner_limits(t).memory_mb == 9000


def test_lake_argv_from_project_and_autodetect(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    src = ws / ".lake" / "packages" / "mathlib" / "Mathlib" / "X.lean"
    src.parent.mkdir(parents=True)
    (ws / "lakefile.toml").write_text("")
    (ws / ".lake" / "packages" / "mathlib" / "lakefile.lean").write_text("")
    src.write_text("theorem x : True := trivial\n")
    assert find_workspace_root(src) == ws.resolve()
    spec = verifier().build_spec(item_for(src), tier(), timeout_s=5, attempt=0)
    assert spec.argv[:3] == ("lake", "env", "lean")
    assert spec.cwd == str(ws.resolve())
    other = tmp_path / "loose.lean"
    other.write_text("")
    spec = verifier(lean_project=str(ws)).build_spec(
        item_for(other), tier(), timeout_s=5, attempt=0
    )
    assert (spec.argv[:3], spec.cwd) == (("lake", "env", "lean"), str(ws.resolve()))
    spec = verifier(use_lake=False, lean_project=str(ws)).build_spec(
        item_for(src), tier(), timeout_s=5, attempt=0
    )
    assert spec.argv[0] == "lean"
    assert verifier(lean_project=str(ws)).version_argv() == (
        "lake", "-d", str(ws.resolve()), "env", "lean", "--version",
    )  # fmt: skip
    assert verifier().version_argv() == ("lean", "--version")


def test_json_flag_auto_detected_from_version(tmp_path: Path) -> None:
    f = tmp_path / "a.lean"
    f.write_text("")
    v = verifier()
    assert "--json" not in v.build_spec(item_for(f), tier(), timeout_s=1, attempt=0).argv
    v.observe_version("Lean (version 4.19.0, x86_64-unknown-linux-gnu, commit x, Release)")
    assert "--json" in v.build_spec(item_for(f), tier(), timeout_s=1, attempt=0).argv
    v.observe_version("Lean (version 3.51.1, commit x, Release)")
    assert not v.uses_json
    assert verifier(json=True).uses_json
    forced_off = verifier(json=False)
    forced_off.observe_version("Lean (version 4.19.0, commit x, Release)")
    assert not forced_off.uses_json


def test_audit_file_is_written_in_work_dir(tmp_path: Path) -> None:
    f = tmp_path / "a.lean"
    f.write_text("namespace N\ntheorem t : True := trivial\nend N\n")
    v = verifier(work_dir=str(tmp_path / "work"))
    spec = v.build_spec(item_for(f), tier(audit_axioms=True), timeout_s=1, attempt=0)
    audit = Path(spec.argv[-1])
    assert audit.parent == tmp_path / "work"
    assert audit.name.endswith(".audit-L6-D1.lean")
    assert audit.read_text().splitlines()[-1] == "#print axioms N.t"
    assert f.read_text().count("#print") == 0  # the item itself is untouched


def test_bad_options_are_config_errors() -> None:
    from calib_async.errors import ConfigError

    with pytest.raises(ConfigError, match=r"axiom_allowlist must be a list"):
        verifier(axiom_allowlist="propext")
    with pytest.raises(ConfigError, match=r"runner_memory_mb must be an integer"):
        verifier(runner_memory_mb="lots")
