"""The fingerprint's three parts, and what ``--resume`` accepts when a part differs.

* **Telemetry-defining** (corpus, tiers and their profiles, ``--seed``, ``--n``, ``--corpus``,
  ``--sandbox``, tool version): they decide what every telemetry run was. Any difference is
  refused, as always.
* **Labelling-defining** (``--label-sample``, ``--consensus-verifiers`` and those profiles,
  ``--timeout-multiplier``, ``--label-budget``): kept under ``labelling``. A resume may change
  them: finished label runs are replayed by task key and only missing ones run. Refused are
  only changes that would make a finished run mean something else under the same key: a
  consensus profile redefined under the same name, and another ``--timeout-multiplier``
  (ladder rungs are keyed by their number, and the consensus timeout follows it).
* **Statistics-only** (``--validation-split``, ``--bootstrap``, ``--export``, report): not
  in the fingerprint at all; a resume that changes only them runs no checker.

A header written before the split (``label_sample`` at the top, consensus profiles among the
verifiers, the multiplier under ``extra``) is read as the same three parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calib_async.checkpoint.canonical import canonicalize
from calib_async.checkpoint.fingerprint import diff_fingerprints

LABELLING = "labelling"
_LABEL_EXTRA = ("timeout_multiplier", "consensus_verifiers")


def split_fingerprint(fp: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(telemetry-defining part, labelling-defining part) of a fingerprint, either layout."""
    fp = canonicalize(dict(fp))
    telemetry = {k: v for k, v in fp.items() if k not in (LABELLING, "label_sample")}
    extra = dict(fp.get("extra") or {})
    tier_profiles = {
        t.get("verifier") for t in (fp.get("tiers") or {}).values() if isinstance(t, dict)
    }
    verifiers = dict(fp.get("verifiers") or {})
    telemetry["verifiers"] = {k: v for k, v in verifiers.items() if k in tier_profiles}
    telemetry["extra"] = {k: v for k, v in extra.items() if k not in _LABEL_EXTRA}
    if LABELLING in fp:
        return telemetry, dict(fp[LABELLING])
    consensus = list(extra.get("consensus_verifiers") or [])
    labelling = {  # the layout before the split
        "label_sample": fp.get("label_sample"),
        "timeout_multiplier": extra.get("timeout_multiplier"),
        "consensus_verifiers": consensus,
        "consensus_profiles": {k: v for k, v in verifiers.items() if k in consensus},
        "label_budget": None,
    }
    return telemetry, labelling


def resume_refusals(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why a run with fingerprint ``new`` cannot continue a log written with ``old``; empty
    when it can (labelling settings may differ: see the module docstring)."""
    old_t, old_l = split_fingerprint(old)
    new_t, new_l = split_fingerprint(new)
    out = diff_fingerprints(old_t, new_t)
    if old_l.get("timeout_multiplier") != new_l.get("timeout_multiplier"):
        out.append(
            f"--timeout-multiplier: {old_l.get('timeout_multiplier')!r} -> "
            f"{new_l.get('timeout_multiplier')!r} (ladder runs are keyed by rung)"
        )
    old_p = old_l.get("consensus_profiles") or {}
    new_p = new_l.get("consensus_profiles") or {}
    for name in sorted(set(old_p) & set(new_p)):
        if old_p[name] != new_p[name]:
            out.append(f"consensus profile {name} was redefined; give it a new name")
    return out


def labelling_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The labelling settings a resume changes (accepted; logged)."""
    _, old_l = split_fingerprint(old)
    _, new_l = split_fingerprint(new)
    return [
        f"{key}: {old_l.get(key)!r} -> {new_l.get(key)!r}"
        for key in ("label_sample", "consensus_verifiers", "label_budget")
        if old_l.get(key) != new_l.get(key)
    ]
