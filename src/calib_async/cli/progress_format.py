"""Formatting for the live progress display: which bar a run counts in, durations and rates."""

from __future__ import annotations

from typing import Any


def bar_key(task: Any) -> tuple[str, str]:
    """(kind, name) of the bar a run counts in: telemetry per tier; in labelling, consensus
    runs (their made-up tiers ``label:P``, repeats and ladders included) per profile and a
    tier's escalation attempts per tier; canary, replicate and load runs per phase and tier."""
    phase = str(getattr(task.phase, "value", task.phase))
    name = task.tier.name
    if phase == "telemetry":
        return "telemetry", name
    if phase != "label":
        return phase, name
    if name.startswith("label:"):
        return "consensus", task.verifier
    return "escalation", name


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def rate(per_second: float) -> str:
    if per_second >= 1:
        return f"{per_second:.1f}/s"
    return f"{per_second * 60:.1f}/min"
