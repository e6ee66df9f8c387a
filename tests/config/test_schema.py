from __future__ import annotations

from pathlib import Path

import pytest

from calib_async.checkers.command.profile import CommandVerifier, expand_argv
from calib_async.checkers.lean import default_lean_config
from calib_async.checkers.simulated import default_synthetic_config
from calib_async.config.schema import load_checker_config
from calib_async.errors import ConfigError
from calib_async.records import CorpusItem, Outcome
from calib_async.runner.spec import ExecResult, Termination

SCHEMA_EXAMPLE = """
verifiers:
  mychecker:
    command: ["coqc", "{file}"]
    cwd: "/tmp"
    env: {OCAMLRUNPARAM: "s=4M"}
    rules:
      - {exit_code: 0, output: "(?i)admitted", outcome: PROOF_INVALID}
      - {exit_code: 0, outcome: VERIFIED}
      - {output: "Stack overflow|Out of memory", outcome: MEMORY_LIMIT_EXCEEDED}
    default: PROOF_INVALID
tiers:
  FAST:     {timeout_s: 30,  verifier: mychecker, memory_limit_mb: 4096}
  BALANCED: {timeout_s: 60,  verifier: mychecker}
  SLOW:     {timeout_s: 120, verifier: mychecker}
"""


def result(code: int, out: bytes = b"") -> ExecResult:
    return ExecResult(
        argv=("x",),
        termination=Termination.EXITED,
        exit_code=code,
        signal=None,
        duration_ms=1,
        cpu_time_ms=1,
        memory_peak_mb=1,
        memory_peak_source="rusage",
        memory_peak_is_floor=False,
        memory_final_mb=0,
        stdout=out,
        stderr=b"",
        stdout_bytes=len(out),
        stderr_bytes=0,
    )


def test_issue_schema_example_parses_and_classifies(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SCHEMA_EXAMPLE)
    cfg = load_checker_config(path, default_lean_config())
    assert set(cfg.tiers) == {"FAST", "BALANCED", "SLOW"}
    assert cfg.tiers["FAST"].memory_limit_mb == 4096
    v = CommandVerifier(cfg.verifiers["mychecker"])
    tier = cfg.tiers["FAST"]
    assert v.classify(result(0, b"Theorem x Admitted."), tier).outcome is Outcome.PROOF_INVALID
    assert v.classify(result(0), tier).outcome is Outcome.VERIFIED
    assert v.classify(result(3, b"Fatal: Stack overflow"), tier).outcome is (
        Outcome.MEMORY_LIMIT_EXCEEDED
    )
    assert v.classify(result(1, b"Error: x"), tier).outcome is Outcome.PROOF_INVALID
    item = CorpusItem("A.b", "A.b", str(tmp_path / "a.v"), "0" * 64)
    assert expand_argv(("coqc", "{file}", "{module}"), item, tier, timeout_s=30) == (
        "coqc",
        str(tmp_path / "a.v"),
        "A.b",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("verifiers: [", r"c\.yaml:1: not valid YAML"),
        ("bogus: 1", r"unknown top-level key"),
        ("verifiers: {x: {kind: command}}", r"'command' is required"),
        ("verifiers: {x: {command: coqc}}", r"non-empty list of strings"),
        (
            "verifiers: {x: {command: [a], rules: [{output: '(', outcome: VERIFIED}]}}",
            "cannot use regex",
        ),
        ("verifiers: {x: {command: [a], rules: [{outcome: MAYBE}]}}", "is not an outcome"),
        ("verifiers: {x: {command: [a], colour: red}}", r"unknown key"),
        ("tiers: {FAST: {timeout_s: -1, verifier: lean}}", "timeout_s must be > 0"),
        ("tiers: {FAST: {timeout_s: 1, verifier: nope}}", "not defined"),
        ("tiers: {FAST: {timeout_s: 1}}", "'verifier' is required"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_checker_config(path, default_lean_config())
    assert "\n" not in str(info.value)


def test_defaults_differ_in_precision() -> None:
    lean = default_lean_config()
    assert [t.timeout_s for t in lean.tiers.values()] == [30.0, 60.0, 120.0]
    assert lean.tiers["FAST"].options["reject_sorry"] is False
    assert lean.tiers["BALANCED"].options["reject_sorry"] is True
    assert lean.tiers["SLOW"].options["audit_axioms"] is True
    sim = default_synthetic_config()
    assert all(t.timeout_s <= 2 for t in sim.tiers.values())
