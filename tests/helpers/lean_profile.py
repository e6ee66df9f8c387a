"""Builders for the Lean profile's tests: a finished run with given output, Lean messages in text
and JSON form, and a tier and verifier with given options."""

from __future__ import annotations

import json
from pathlib import Path

from calib_async.checkers.lean.profile import (
    LeanVerifier,
)
from calib_async.config.schema import VerifierConfig
from calib_async.records import CorpusItem, Tier
from calib_async.runner.spec import ExecResult, Termination
from helpers import file_item

HEARTBEAT_NEW = (
    "(deterministic) timeout at `whnf`, maximum number of heartbeats (200000) has been reached"
    "\n\nNote: Use `set_option maxHeartbeats <num>` to set the limit.\n\nHint: Additional "
    "diagnostic information may be available using the `set_option diagnostics true` command."
)
HEARTBEAT_OLD = (
    "(deterministic) timeout at 'isDefEq', maximum number of heartbeats (200000) has been "
    "reached (use 'set_option maxHeartbeats <num>' to set the limit)"
)


def result(
    stdout: str = "",
    stderr: str = "",
    *,
    exit_code: int | None = None,
    sig: int | None = None,
    argv: tuple[str, ...] = ("lean", "/w/a.lean"),
) -> ExecResult:
    if exit_code is None and sig is None:
        exit_code = 1 if ": error" in stdout or '"severity":"error"' in stdout else 0
    return ExecResult(
        argv=argv,
        termination=Termination.EXITED,
        exit_code=exit_code,
        signal=sig,
        duration_ms=1.0,
        cpu_time_ms=1.0,
        memory_peak_mb=1.0,
        memory_peak_source="rusage",
        memory_peak_is_floor=False,
        memory_final_mb=0.0,
        stdout=stdout.encode(),
        stderr=stderr.encode(),
        stdout_bytes=len(stdout),
        stderr_bytes=len(stderr),
    )


def text_msg(severity: str, data: str, line: int = 3, col: int = 2, name: str = "") -> str:
    label = f"{severity}({name})" if name else severity
    return f"/w/a.lean:{line}:{col}: {label}: {data}\n"


def json_msg(severity: str, data: str, line: int = 3, col: int = 2) -> str:
    obj = {
        "fileName": "/w/a.lean",
        "pos": {"line": line, "column": col},
        "endPos": None,
        "keepFullRange": False,
        "severity": severity,
        "isSilent": False,
        "caption": "",
        "data": data,
        "kind": "[anonymous]",
    }
    return json.dumps(obj, separators=(",", ":")) + "\n"


def tier(**options: object) -> Tier:
    memory = options.pop("memory", None)
    args = options.pop("args", ())
    return Tier(
        name="T",
        timeout_s=10.0,
        verifier="lean",
        memory_limit_mb=memory,  # type: ignore[arg-type]
        args=tuple(args),  # type: ignore[arg-type]
        options=options,
    )


def verifier(**options: object) -> LeanVerifier:
    return LeanVerifier(VerifierConfig(name="lean", kind="lean", options=options))


def item_for(path: Path) -> CorpusItem:
    return file_item(path.resolve())
