"""Lines under the summary table: a tier whose run was not stationary, and why a
recommended timeout is unreachable (the table has room for neither)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from calib_async.export.verdict_values import bootstrap_text

#: Tier statuses that say the machine changed under the run (``stats.stationarity``).
NOT_STATIONARY = ("drift", "load_burst")


def tier_notes(models: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Text]:
    """One line per non-stationary tier and per unreachable target, in tier order."""
    lines: list[Text] = []
    for name, model in models:
        status = model.get("status")
        if status in NOT_STATIONARY:
            reason = model.get("status_reason") or "the run was not stationary"
            lines.append(
                Text.assemble((f"{name}: {str(status).upper()}", "bold red"), f" – {reason}")
            )
        recs = model.get("timeout_recommendations")
        if not isinstance(recs, Mapping):
            continue
        for target, rec in sorted(recs.items(), key=lambda kv: -_float(kv[0])):
            if isinstance(rec, Mapping) and rec.get("timeout_s") is None and rec.get("reason"):
                boot = bootstrap_text(rec)
                lines.append(
                    Text(
                        f"{name}: {_float(target):.0%} target unreachable – {rec['reason']}"
                        + (f" (bootstrap interval{boot} s)" if boot else "")
                    )
                )
    return lines


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
