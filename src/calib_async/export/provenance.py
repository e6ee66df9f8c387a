"""What was calibrated, where and under what load: the export's provenance keys.

All keys are additive under ``calibration_metadata`` (existing keys keep their meaning):

- ``confidence_level``: the level of every interval in the file;
- ``items``: the corpus items actually checked (``n`` is the ``--n`` asked for);
- ``checkers``: per checker profile the tiers use, its ``kind``, ``command`` (argv with
  placeholders as configured) and ``version`` (the ``checker_version`` its runs recorded;
  ``versions`` lists them all when the runs disagree);
- ``tiers.<tier>``: ``args`` and ``options`` join ``timeout_s``, ``verifier`` and
  ``memory_limit_mb``;
- ``host``: the host name the runs recorded (``hosts`` when several), this machine's CPU count,
  platform and Python version;
- ``load``: the 1-minute load average and the checkers in flight at each run's start, over the
  telemetry runs (``min``, ``median``, ``max``, ``runs``).

``calibrate_noise compare`` reads ``checkers.*.version`` and ``tiers.*.timeout_s`` to say what
changed between two calibrations.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from calib_async.records import TelemetryRecord, Tier, plain_value


def provenance(
    *,
    tiers: Sequence[Tier],
    profiles: Mapping[str, Any] | None,
    telemetry: Sequence[TelemetryRecord],
    confidence: float,
) -> dict[str, Any]:
    """The provenance keys to merge into ``calibration_metadata`` (see the module docstring).

    ``profiles``: checker profile name -> its config (a ``VerifierConfig``, or a mapping with
    ``kind`` and ``command`` as the log's fingerprint holds them).
    """
    used = sorted({t.verifier for t in tiers})
    checkers: dict[str, Any] = {}
    for name in used:
        runs = [r for r in telemetry if r.verifier == name]
        versions = Counter(r.checker_version for r in runs if r.checker_version)
        entry: dict[str, Any] = {}
        profile = (profiles or {}).get(name)
        if profile is not None:
            get = profile.get if isinstance(profile, Mapping) else partial(getattr, profile)
            entry["kind"] = str(get("kind", None) or "command")
            entry["command"] = [str(a) for a in get("command", None) or ()]
        entry["version"] = versions.most_common(1)[0][0] if versions else None
        if len(versions) > 1:
            entry["versions"] = sorted(versions)
        checkers[name] = entry
    hosts = Counter(r.host for r in telemetry if getattr(r, "host", None))
    host: dict[str, Any] = {
        "name": hosts.most_common(1)[0][0] if hosts else platform.node(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    if len(hosts) > 1:
        host["hosts"] = sorted(hosts)
    return {
        "confidence_level": confidence,
        "items": len({r.item_id for r in telemetry}),
        "checkers": checkers,
        "tier_settings": {
            t.name: {"args": list(t.args), "options": plain_value(t.options)} for t in tiers
        },
        "host": host,
        "load": {
            "load_avg_1m": _spread(r.load_avg_1m for r in telemetry),
            "concurrency": _spread(r.concurrency for r in telemetry),
            "runs": len(telemetry),
        },
    }


def _spread(values: Iterable[Any]) -> dict[str, float] | None:
    xs = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not xs:
        return None
    return {
        "min": round(min(xs), 2),
        "median": round(statistics.median(xs), 2),
        "max": round(max(xs), 2),
    }


def merge_provenance(metadata: dict[str, Any], keys: Mapping[str, Any]) -> None:
    """Merge :func:`provenance` into ``calibration_metadata`` in place: tier settings go into
    the existing ``tiers.<tier>`` entries, the rest are new top-level keys."""
    settings = keys.get("tier_settings") or {}
    tiers = metadata.get("tiers")
    if isinstance(tiers, dict):
        for name, extra in settings.items():
            if isinstance(tiers.get(name), dict):
                tiers[name].update(extra)
    for key, value in keys.items():
        if key != "tier_settings":
            metadata[key] = value


#: Tier settings whose change makes two calibrations measure different checkers.
_TIER_KEYS = ("timeout_s", "verifier", "memory_limit_mb", "args", "options")


def setup_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What differs between two exports' checkers and tier settings, one phrase each:
    ``checker lean: version '4.9.0' -> '4.10.0'``, ``tier FAST: timeout_s 30 -> 60``.
    Keys an older export lacks are not reported."""
    meta_a, meta_b = _meta(a), _meta(b)
    out: list[str] = []
    checkers_a, checkers_b = _mapping(meta_a.get("checkers")), _mapping(meta_b.get("checkers"))
    for name in sorted(set(checkers_a) & set(checkers_b)):
        ca, cb = _mapping(checkers_a[name]), _mapping(checkers_b[name])
        for key in ("version", "command", "kind"):
            if key in ca and key in cb and ca[key] != cb[key]:
                out.append(f"checker {name}: {key} {_show(ca[key])} -> {_show(cb[key])}")
    raw_a, raw_b = _mapping(meta_a.get("tiers")), _mapping(meta_b.get("tiers"))
    tiers_a = {str(k).lower(): (str(k), _mapping(v)) for k, v in raw_a.items()}
    tiers_b = {str(k).lower(): _mapping(v) for k, v in raw_b.items()}
    for low in sorted(set(tiers_a) & set(tiers_b)):
        name, ta = tiers_a[low]
        tb = tiers_b[low]
        for key in _TIER_KEYS:
            if key in ta and key in tb and ta[key] != tb[key]:
                out.append(f"tier {name}: {key} {_show(ta[key])} -> {_show(tb[key])}")
    return out


def _meta(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(doc.get("calibration_metadata")) if isinstance(doc, Mapping) else {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "(none)"
    if value is None:
        return "(none)"
    return f"{value:g}" if isinstance(value, float) else str(value)
