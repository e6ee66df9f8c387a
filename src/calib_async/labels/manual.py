"""Manual ground-truth labels: reading a CSV/JSONL file, and appending one label at a time.

Formats (chosen by the file's suffix):

- ``.csv``: a header row with ``item_id`` and ``label`` columns, optionally ``tier``; other
  columns (a note, say) are ignored.
- ``.jsonl`` / ``.ndjson``: one object per line, ``{"item_id": ..., "label": ..., "tier": ...}``
  (``tier`` optional; other keys ignored).

``label`` is VERIFIED or INVALID, in any case. A label without a tier applies to the item at
every tier. Blank lines are skipped. When the same (item, tier) appears twice, the later line
wins, so an append-only file can be corrected by appending.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calib_async.errors import CorpusError
from calib_async.inputs import no_nul, open_regular_file, parse_json_line, writable_text
from calib_async.records import Truth

_CSV_SUFFIXES = (".csv",)
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_LABELS = {"VERIFIED": Truth.VERIFIED, "INVALID": Truth.INVALID}


@dataclass(frozen=True, slots=True)
class ManualLabel:
    """A human's verdict on one item (at one tier, or at all tiers when ``tier`` is None)."""

    item_id: str
    tier: str | None
    truth: Truth


def load_manual_labels(path: Path) -> list[ManualLabel]:
    """Read a manual-labels file; later lines override earlier ones for the same (item, tier).

    Raises :class:`CorpusError` (one line, with the line number) for a missing file, an
    unknown suffix, a missing column or key, an empty item id, or a label other than
    VERIFIED/INVALID.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _CSV_SUFFIXES + _JSONL_SUFFIXES:
        raise CorpusError(
            f"manual labels {path}: unknown file type {path.suffix or '(none)'!r}; "
            "use .csv (item_id,label[,tier]) or .jsonl"
        )
    try:
        with open_regular_file(path, "--manual-labels", error=CorpusError) as raw:
            f = io.StringIO(raw.read().decode("utf-8-sig"), newline="")
        rows = list(_csv_rows(path, f) if suffix in _CSV_SUFFIXES else _jsonl_rows(path, f))
    except csv.Error as exc:
        raise CorpusError(f"manual labels {path}: not valid CSV ({exc}); fix the file") from None
    except OSError as exc:
        raise CorpusError(
            f"cannot read manual labels {path}: {exc.strerror or exc}; check the path"
        ) from None
    except UnicodeDecodeError:
        raise CorpusError(f"manual labels {path}: not UTF-8 text; save it as UTF-8") from None
    latest: dict[tuple[str, str | None], ManualLabel] = {}
    for label in rows:
        key = (label.item_id, label.tier)
        latest.pop(key, None)  # re-insert: order of the last occurrence
        latest[key] = label
    return list(latest.values())


def append_manual_label(path: Path, label: ManualLabel) -> None:
    """Append ``label`` as one JSONL line and make it durable (flush + fsync) before returning."""
    path = Path(path)
    entry: dict[str, Any] = {"item_id": label.item_id, "label": label.truth.value}
    if label.tier is not None:
        entry["tier"] = label.tier
    entry["labeled_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:  # an earlier line cut short (power loss): keep ours on its own line
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def _parse(path: Path, lineno: int, item_id: Any, label: Any, tier: Any) -> ManualLabel:
    where = f"manual labels {path}:{lineno}"
    if not isinstance(item_id, str) or not item_id.strip():
        raise CorpusError(f"{where}: empty or missing item_id")
    if not isinstance(label, str) or label.strip().upper() not in _LABELS:
        raise CorpusError(f"{where}: label {label!r} is not VERIFIED or INVALID")
    if tier is not None and not isinstance(tier, str):
        raise CorpusError(f"{where}: tier {tier!r} is not a string")
    for name, text in (("item_id", item_id), ("tier", tier or "")):
        writable_text(no_nul(text, f"{where}: {name}", error=CorpusError), where, error=CorpusError)
    tier = tier.strip() if tier else None
    return ManualLabel(
        item_id=item_id.strip(), tier=tier or None, truth=_LABELS[label.strip().upper()]
    )


def _csv_rows(path: Path, f: Any) -> Iterator[ManualLabel]:
    reader = csv.reader(f)
    header: list[str] | None = None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [c for c in ("item_id", "label") if c not in header]
            if missing:
                raise CorpusError(
                    f"manual labels {path}:{reader.line_num}: header lacks "
                    f"{' and '.join(missing)}; expected item_id,label[,tier]"
                )
            continue
        if len(row) > len(header):
            raise CorpusError(
                f"manual labels {path}:{reader.line_num}: {len(row)} fields, header has "
                f"{len(header)}"
            )
        cells = dict(zip(header, row, strict=False))
        yield _parse(
            path, reader.line_num, cells.get("item_id"), cells.get("label"), cells.get("tier")
        )
    if header is None:
        raise CorpusError(
            f"manual labels {path}: empty file; expected a header item_id,label[,tier]"
        )


def _jsonl_rows(path: Path, f: Any) -> Iterator[ManualLabel]:
    for lineno, line in enumerate(f, start=1):
        if not line.strip():
            continue
        where = f"manual labels {path}:{lineno}"
        obj = parse_json_line(line.encode("utf-8", "surrogatepass"), where, error=CorpusError)
        if not isinstance(obj, dict):
            raise CorpusError(f"manual labels {path}:{lineno}: expected a JSON object")
        yield _parse(path, lineno, obj.get("item_id"), obj.get("label"), obj.get("tier"))


def check_manual_targets(
    labels: Iterator[ManualLabel] | list[ManualLabel],
    *,
    items: set[str],
    tiers: set[str],
    source: Path,
) -> int:
    """Say what a manual label names that the run does not have; return how many labels name
    an item outside the run.

    A tier the run does not have is refused (CorpusError): it is a typo, and the label would be
    dropped without a word. An item outside the run is only counted (the caller logs it): a
    labels file may well cover a larger corpus than ``--n`` selects.
    """
    outside = 0
    for lab in labels:
        if lab.tier is not None and lab.tier not in tiers:
            raise CorpusError(
                f"{source}: a label for {lab.item_id!r} names tier {lab.tier!r}, which this run "
                f"does not have ({', '.join(sorted(tiers))}); fix the tier or leave it empty"
            )
        if lab.item_id not in items:
            outside += 1
    return outside
