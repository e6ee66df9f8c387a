"""Shared test helpers: paths, the CLI's environment, and builders of the records tests use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
FIXTURES = TESTS / "fixtures"
HELPERS = TESTS / "helpers"
EXAMPLES = TESTS.parent / "examples"


def run_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: this interpreter's venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Builders

from typing import Any  # noqa: E402

from calib_async.records import CorpusItem, TelemetryRecord  # noqa: E402


def make_record(
    item: str = "M.a",
    tier: str = "FAST",
    outcome: str = "VERIFIED",
    *,
    phase: str = "telemetry",
    attempt: int = 0,
    **over: Any,
) -> TelemetryRecord:
    """A complete telemetry record with plain defaults; any field can be overridden.

    ``task_key`` defaults to ``item|tier|phase|attempt`` (unique per run in a test).
    """
    fields: dict[str, Any] = {
        "verification_id": f"{item}-{tier}-{phase}-{attempt}",
        "timestamp": "2025-01-01T00:00:00+00:00",
        "context": f"calibration_{tier}_{item}",
        "metadata": {"master_seed": 0},
        "task_key": f"{item}|{tier}|{phase}|{attempt}",
        "item_id": item,
        "content_hash": "0" * 64,
        "module_name": item,
        "tier": tier,
        "verifier": "sim",
        "phase": phase,
        "attempt": attempt,
        "timeout_s": 1.0,
        "outcome": outcome,
        "exit_code": 0,
        "signal": None,
        "duration_ms": 1.0,
        "cpu_time_ms": 1.0,
        "memory_peak_mb": 1.0,
        "memory_final_mb": 1.0,
    }
    fields.update(over)
    return TelemetryRecord(**fields)


def file_item(path: Path, text: str | None = None, *, item_id: str | None = None) -> CorpusItem:
    """A corpus item for ``path`` (written with ``text`` first when given), hashed for real."""
    import hashlib

    if text is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return CorpusItem(item_id or path.stem, item_id or path.stem, str(path), digest)


def fake_items(n: int, *, changed: int = -1, prefix: str = "M.t") -> list[CorpusItem]:
    """``n`` items whose files need not exist (item ``changed`` gets another content hash)."""
    return [
        CorpusItem(f"{prefix}{i}", "M", f"/c/{i}.lean", ("ff" if i == changed else f"{i:02x}") * 32)
        for i in range(n)
    ]
