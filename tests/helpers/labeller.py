"""A run's output directory as the labeller sees it (tests/cli/test_labeller*.py and the
SIGTERM test of ``label``): a telemetry log and labels.json with three undetermined items."""

from __future__ import annotations

import json
from pathlib import Path

UNDETERMINED = ["u1", "u2", "u3"]


def _run(item: str, tier: str, outcome: str, **extra: object) -> dict[str, object]:
    return {
        "item_id": item,
        "module_name": f"Mod.{item}",
        "tier": tier,
        "phase": "telemetry",
        "attempt": 0,
        "verifier": "sim",
        "timeout_s": 0.5,
        "outcome": outcome,
        "duration_ms": 123.0,
        "first_error": None,
        "output_tail": "",
        **extra,
    }


def make_run_dir(tmp_path: Path) -> Path:
    """An output dir as the pipeline leaves it: telemetry log and labels with undetermined items."""
    lines = [{"kind": "header", "schema": "calib-async/telemetry/1"}]
    for item in [*UNDETERMINED, "known"]:
        lines.append(_run(item, "FAST", "VERIFIER_TIMEOUT", output_tail="partial\n"))
        lines.append(
            _run(
                item,
                "SLOW",
                "PROOF_INVALID",
                first_error=f"{item}.lean:7:2: error: unsolved goals [{item}]",
                output_tail="".join(f"tail line {k}\n" for k in range(30)) + f"end of {item}\n",
            )
        )
        lines.append(
            _run(item, "FAST", "VERIFIER_TIMEOUT", phase="label", attempt=1, timeout_s=1.0)
        )
    text = "\n".join(json.dumps(x) for x in lines) + "\n" + '{"item_id": "cut sh'
    (tmp_path / "telemetry.jsonl").write_text(text)
    items = {
        i: {"truth": "UNDETERMINED", "method": "unknown", "confidence": 0.0} for i in UNDETERMINED
    }
    items["known"] = {"truth": "VERIFIED", "method": "consensus", "confidence": 0.9}
    (tmp_path / "labels.json").write_text(json.dumps({"items": items}))
    return tmp_path
