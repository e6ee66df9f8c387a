"""What the export's experiment blocks are computed from, and its record in ``labels.json``.

Besides the telemetry runs and the labelled sample, a calibration may run verdict replicates
(``flips``), a load experiment (``load``), canaries (``canaries``), REPL-pool designs
(``lean_repl_designs``) and service designs (``service.designs``). :class:`Experiments` holds
their inputs; stage 6 computes the blocks from it and records it in ``labels.json`` under
``experiments``, so that ``refit`` computes the same blocks again::

    "experiments": {"replicates": [task keys], "load": [task keys],
                    "block_order": [[tier, level], ...],
                    "canaries": {"classes": [...], "not_applicable": {class: n},
                                 "items": {canary item id: [class, source item id]},
                                 "runs": [task keys]} | null,
                    "lean_repl_designs": [...], "service_designs": [...]}

The runs are named by task key (as the labelled sample is); their records come from the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from calib_async.corpus.canary_set import Canary, CanarySet
from calib_async.errors import CalibError
from calib_async.inputs import describe
from calib_async.records import CorpusItem, TelemetryRecord
from calib_async.telemetry.canaries import CanaryRuns

KEY = "experiments"


@dataclass(frozen=True, slots=True)
class Experiments:
    """The inputs of the export's experiment blocks (module docstring); empty by default."""

    replicates: Sequence[TelemetryRecord] = ()
    load: Sequence[TelemetryRecord] = ()
    block_order: Sequence[tuple[str, int]] = ()  # (tier, level), first block first
    canaries: CanaryRuns | None = None
    repl_designs: Sequence[Mapping[str, Any]] = ()
    service_designs: Sequence[Mapping[str, Any]] = ()

    def describe(self) -> dict[str, Any]:
        """The JSON recorded in ``labels.json`` (module docstring)."""
        canaries = None
        if self.canaries is not None:
            found = self.canaries.canary_set
            canaries = {
                "classes": list(found.classes),
                "not_applicable": dict(found.not_applicable),
                "items": {c.item.item_id: [c.exploit, c.source_id] for c in found.canaries},
                "runs": [r.task_key for r in self.canaries.records],
            }
        return {
            "replicates": [r.task_key for r in self.replicates],
            "load": [r.task_key for r in self.load],
            "block_order": [[tier, level] for tier, level in self.block_order],
            "canaries": canaries,
            "lean_repl_designs": [dict(d) for d in self.repl_designs],
            "service_designs": [dict(d) for d in self.service_designs],
        }


def read_experiments(
    raw: object, records: Mapping[str, TelemetryRecord], *, where: str, log: str
) -> Experiments:
    """The :class:`Experiments` that ``raw`` (a ``labels.json`` entry) describes, with their
    records from ``records`` (the log's, by task key). None (a ``labels.json`` from before
    experiments were recorded) gives none; a bad entry or a missing run is a CalibError."""
    if raw is None:
        return Experiments()
    doc = _mapping(raw, where)
    missing: list[str] = []

    def runs(value: object, name: str) -> list[TelemetryRecord]:
        out = []
        for i, key in enumerate(_list(value, f"{where}.{name}")):
            if not isinstance(key, str):
                raise CalibError(f"{where}.{name}[{i}] must be a task key, not {describe(key)}")
            if key in records:
                out.append(records[key])
            else:
                missing.append(key)
        return out

    replicates = runs(doc.get("replicates", []), "replicates")
    load = runs(doc.get("load", []), "load")
    order = []
    for i, block in enumerate(_list(doc.get("block_order", []), f"{where}.block_order")):
        if (
            not isinstance(block, list)
            or len(block) != 2
            or not isinstance(block[0], str)
            or not isinstance(block[1], int)
        ):
            raise CalibError(f"{where}.block_order[{i}] must be [tier, level], not {block!r}")
        order.append((block[0], block[1]))
    canaries = None
    if doc.get("canaries") is not None:
        spec = _mapping(doc["canaries"], f"{where}.canaries")
        classes = tuple(str(c) for c in _list(spec.get("classes"), f"{where}.canaries.classes"))
        na = _mapping(spec.get("not_applicable", {}), f"{where}.canaries.not_applicable")
        items = _mapping(spec.get("items"), f"{where}.canaries.items")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in na.values()):
            raise CalibError(f"{where}.canaries.not_applicable must map classes to counts")
        made = []
        for item_id, entry in items.items():
            if not (
                isinstance(entry, list)
                and len(entry) == 2
                and all(isinstance(e, str) for e in entry)
            ):
                raise CalibError(
                    f"{where}.canaries.items[{item_id!r}] must be [class, source item id]"
                )
            # the statistics use a canary's id and class; its file is not read again
            item = CorpusItem(item_id=item_id, module_name="", path="", content_hash="")
            made.append(Canary(item=item, exploit=entry[0], source_id=entry[1]))
        canary_set = CanarySet(
            classes=classes,
            canaries=tuple(made),
            not_applicable={str(k): v for k, v in na.items()},
        )
        canaries = CanaryRuns(canary_set, runs(spec.get("runs"), "canaries.runs"))
    if missing:
        raise CalibError(
            f"refit needs {len(missing)} experiment run(s) that are not in {log} (e.g. "
            f"{missing[0]}); the log and labels.json are of different runs"
        )
    return Experiments(
        replicates=replicates,
        load=load,
        block_order=order,
        canaries=canaries,
        repl_designs=_designs(doc.get("lean_repl_designs", []), f"{where}.lean_repl_designs"),
        service_designs=_designs(doc.get("service_designs", []), f"{where}.service_designs"),
    )


def _designs(value: object, where: str) -> list[dict[str, Any]]:
    return [_mapping(d, f"{where}[{i}]") for i, d in enumerate(_list(value, where))]


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CalibError(f"{where} must be a mapping, not {describe(value)}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise CalibError(f"{where} must be a list, not {describe(value)}")
    return value
