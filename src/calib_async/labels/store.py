"""``labels.json``: stage 3's output as a file, enough to refit without running any checker.

Layout (``format`` 2; a file without ``format`` is the first layout, ``items`` only)::

    {"format": 2,
     "items": {"<item>": {"truth", "method", "confidence", "votes", "conflicts", "reason"?}},
     "undetermined_by_reason": {"split_vote": 1, ...},
     "sample": [{"task_key", "stratum", "weight", "truth", "method", "confidence"}, ...],
     "run": {"tiers": [{"name", ...Tier.identity()}], "corpus", "n", "seed", ...,
             "labels": <the YAML's label summary>},
     "reference": {"<item>": {"votes": {"<source>": [verified, invalid]}, "gold"}},
     "own_judge": {"<tier>": "<why its consensus is its own check>"},
     "validation_split": {"fraction", "seed", "count", "sha256", "held_out": [ids]},
     "validation_splits": {"<sha256>": {"fraction", "seed", "count", "held_out"}, ...},
     "experiments": {"replicates": [task keys], "load": ..., "canaries": ..., ...}}

``sample`` is the labelled sample (each sampled telemetry record by task key, with its
stratum, Horvitz–Thompson weight and label); ``run`` is what stages 4-6 need besides the log;
``validation_split`` is written by stage 6 (and by ``refit``): the held-out item ids the
statistics of the latest export used, their count and :func:`split_digest`;
``validation_splits`` keeps every split an export named, by digest. ``reference`` holds each
sampled item's consensus votes by error source and its gold evidence: the input of the
reference's error model (``calib_async.labels.latent``), so ``refit`` corrects the rates the
same way. ``experiments`` (stage 6) names the runs and designs of the export's experiment
blocks (:mod:`calib_async.export.experiments`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from calib_async.errors import CalibError
from calib_async.inputs.atomic import write_atomic
from calib_async.labels.latent import ItemEvidence
from calib_async.labels.plan import LabelPlan
from calib_async.records import ItemLabel, LabeledRecord, Tier, Truth

FORMAT = 2
NAME = "labels.json"


def run_description(
    plan: LabelPlan, tiers: Sequence[Tier], summary: Mapping[str, Any]
) -> dict[str, Any]:
    """What stages 4-6 need besides the log and the sample (see the module docstring)."""
    return {
        "tiers": [{"name": t.name, **t.identity()} for t in tiers],
        "corpus": plan.corpus,
        "n": plan.n,
        "seed": plan.seed,
        "label_sample": plan.label_sample,
        "timeout_multiplier": plan.timeout_multiplier,
        "validation_split": plan.validation_split,
        "bootstrap": plan.bootstrap,
        "labels": dict(summary),
    }


def write_labels_json(
    path: Path,
    labels: Mapping[tuple[str, str | None], ItemLabel],
    *,
    reasons: Mapping[str, str] | None = None,
    sample: Sequence[LabeledRecord] = (),
    run: Mapping[str, Any] | None = None,
    reference: Mapping[str, ItemEvidence] | None = None,
    own_judge: Mapping[str, str] | None = None,
) -> None:
    """Write ``labels.json`` atomically: every labelled item's merged item-wide label, the
    undetermined items' reasons, the labelled sample and the run description."""
    reasons = reasons or {}
    items = {}
    for (item, tier), lab in sorted(labels.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if tier is not None:
            continue
        entry: dict[str, Any] = {
            "truth": lab.truth.value,
            "method": lab.method.value,
            "confidence": lab.confidence,
            "votes": lab.votes,
            "conflicts": lab.conflicts,
        }
        if item in reasons:
            entry["reason"] = reasons[item]
        items[item] = entry
    counts: dict[str, int] = {}
    for reason in reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    doc: dict[str, Any] = {
        "format": FORMAT,
        "items": items,
        "undetermined_by_reason": dict(sorted(counts.items())),
        "sample": [
            {
                "task_key": lr.record.task_key,
                "stratum": lr.stratum,
                "weight": lr.weight,
                "truth": lr.truth.value,
                "method": lr.method.value,
                "confidence": lr.confidence,
            }
            for lr in sample
        ],
    }
    if run is not None:
        doc["run"] = dict(run)
    if reference:
        doc["reference"] = {
            item: {
                "votes": {src: [v, i] for src, v, i in ev.votes},
                "gold": ev.gold.value if ev.gold is not None else None,
            }
            for item, ev in sorted(reference.items())
        }
    if own_judge:
        doc["own_judge"] = dict(sorted(own_judge.items()))
    _write(path, doc)


def read_reference(doc: Mapping[str, Any]) -> dict[str, ItemEvidence] | None:
    """The ``reference`` section of a labels.json document (None when absent)."""
    section = doc.get("reference")
    if not isinstance(section, Mapping):
        return None
    out = {}
    for item, entry in section.items():
        votes = {str(s): (int(vi[0]), int(vi[1])) for s, vi in (entry.get("votes") or {}).items()}
        gold = entry.get("gold")
        out[str(item)] = ItemEvidence.of(votes, Truth(gold) if gold else None)
    return out


def split_digest(held_out: Iterable[str]) -> str:
    """sha256 of the sorted held-out item ids, one per line (each followed by a newline)."""
    h = hashlib.sha256()
    for item_id in sorted(held_out):
        h.update(item_id.encode("utf-8") + b"\n")
    return h.hexdigest()


def split_summary(held_out: Iterable[str], fraction: float, seed: int) -> dict[str, Any]:
    """The held-out split as exported: fraction, seed, count, digest (and the ids)."""
    ids = sorted(held_out)
    return {
        "fraction": fraction,
        "seed": seed,
        "count": len(ids),
        "sha256": split_digest(ids),
        "held_out": ids,
    }


def record_split(path: Path, split: Mapping[str, Any]) -> None:
    """Set ``validation_split`` (the latest export's) in an existing ``labels.json``, and keep
    every split an export used under ``validation_splits`` by its sha256 (a refit with another
    split does not lose the one the first export names)."""
    doc = read_labels_json(path)
    doc["validation_split"] = dict(split)
    kept = dict(doc.get("validation_splits") or {})
    kept[str(split["sha256"])] = {k: v for k, v in split.items() if k != "sha256"}
    doc["validation_splits"] = kept
    _write(path, doc)


def record_experiments(path: Path, experiments: Mapping[str, Any]) -> None:
    """Set ``experiments`` (what the export's experiment blocks came from, see
    :mod:`calib_async.export.experiments`) in an existing ``labels.json``."""
    doc = read_labels_json(path)
    doc["experiments"] = dict(experiments)
    _write(path, doc)


def read_labels_json(path: Path) -> dict[str, Any]:
    """The document, or a one-line CalibError when it is missing or not a labels file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibError(f"{path} does not exist; run the calibration first") from None
    except (OSError, ValueError) as exc:
        raise CalibError(
            f"cannot read {path}: {exc}; re-run the calibration with --resume"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), dict):
        raise CalibError(f"{path} is not a labels.json written by calibrate_noise")
    return doc


def _write(path: Path, doc: Mapping[str, Any]) -> None:
    # key order kept: refit exports it as it was
    write_atomic(path, json.dumps(doc, indent=1).encode("utf-8"), NAME)
