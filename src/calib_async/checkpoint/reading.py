"""The telemetry log is the checkpoint: canonical JSONL, read back for ``--resume``.

Layout: line 1 is a header ``{"kind": "header", "format": 1, "fingerprint": {...}, ...}``; every
further line is one finished run (a canonical :class:`~calib_async.records.TelemetryRecord`
dict, see :mod:`calib_async.checkpoint.canonical`) carrying its ``task_key``.

- :func:`calib_async.checkpoint.opening.prepare_log` decides, from ``--resume`` /
  ``--fresh``, whether to start, continue or refuse, and never overwrites a log: ``--fresh``
  renames the old one to ``<name>.<UTC timestamp>.bak``.
- :func:`read_log` reads a log back. A torn last line (the driver was killed mid-write, or the
  machine lost power) is reported and cut off; any other bad line is a :class:`CheckpointError`
  naming its line number.
- :class:`CheckpointWriter` (:mod:`calib_async.checkpoint.writing`, re-exported) appends
  records; its docstring states the durability policy.
- :func:`completed_keys` and :func:`dedupe_records` turn records into resume bookkeeping;
  :func:`scan_log` validates a log and returns only its completed keys, in little memory.
- Snapshots (:func:`snapshot`, :func:`write_snapshot`) live in
  :mod:`calib_async.checkpoint.canonical`
  and are re-exported here.

A log is locked with ``flock`` while a writer has it open, so two runs cannot append to the
same file, and ``prepare_log`` / ``read_log`` refuse to truncate a log another run is writing.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from calib_async.checkpoint.canonical import (
    SNAPSHOT_FIELDS,
    read_snapshot,
    snapshot,
    write_snapshot,
)
from calib_async.checkpoint.writing import (
    CheckpointWriter,
    sync_periodically,
    truncate_log,
)
from calib_async.errors import CheckpointError

__all__ = [
    "FORMAT",
    "SNAPSHOT_FIELDS",
    "CheckpointWriter",
    "LogContents",
    "completed_keys",
    "dedupe_records",
    "read_log",
    "read_snapshot",
    "scan_log",
    "snapshot",
    "sync_periodically",
    "write_snapshot",
]

log = structlog.get_logger(__name__)

FORMAT = 1
_CANCELLED = "cancelled"  # termination_reason of a run that was killed because we stopped


@dataclass(frozen=True, slots=True)
class LogContents:
    """A telemetry log as read back.

    ``header`` is ``{}`` when the file held no complete header line. ``torn_bytes`` counts the
    bytes of a torn last line (cut off from the file unless read with ``truncate_torn=False``).
    ``resumed`` and ``moved_aside`` are set by :func:`prepare_log`.
    """

    path: Path
    header: dict[str, Any]
    records: list[dict[str, Any]]
    torn_bytes: int = 0
    resumed: bool = False
    moved_aside: Path | None = None

    @property
    def fingerprint(self) -> dict[str, Any] | None:
        return self.header.get("fingerprint")


# ---------------------------------------------------------------------------------------------
# Reading


def read_log(
    path: Path,
    *,
    truncate_torn: bool = True,
    loads: Callable[[bytes], Any] = orjson.loads,
) -> LogContents:
    """Read a telemetry log: its header and every record, in file order.

    A last line that lacks its newline or does not parse is torn: it is logged as a warning,
    left out, and (with ``truncate_torn``) cut off the file so appends start on a clean line.
    Any other line that is not a JSON object with a string ``task_key`` (line 1: a header)
    raises :class:`CheckpointError` naming its 1-based line number. ``loads`` is replaceable
    only so that the benchmark can compare parsers.
    """
    contents, good_end, torn_line = _read(path, loads)
    _check_header(path, contents.header)
    if torn_line is not None:
        _report_torn(contents, torn_line, truncated=truncate_torn)
        if truncate_torn:
            truncate_log(path, good_end)
    return contents


def scan_log(
    path: Path,
    *,
    truncate_torn: bool = True,
    loads: Callable[[bytes], Any] = orjson.loads,
) -> tuple[dict[str, Any], set[str], int]:
    """Validate a log like :func:`read_log` but keep only what a resume skips.

    Returns ``(header, completed task keys, torn_bytes)``: every line is parsed (so a corrupt
    line is found at once, with its number), but records are dropped as soon as their key is
    taken, so a 1M-line log needs ~150 MiB instead of ~3.5 GiB. For a caller that can skip
    tasks first and load full records later (e.g. with :func:`read_log` once stage 2 is done).
    Keys of cancelled runs are left out, as in :func:`completed_keys`.
    """
    contents, good_end, torn_line = _read(path, loads, keys_only=True)
    _check_header(path, contents.header)
    if torn_line is not None:
        _report_torn(contents, torn_line, truncated=truncate_torn)
        if truncate_torn:
            truncate_log(path, good_end)
    keys = set(contents.records)
    keys.discard(None)  # type: ignore[arg-type]
    duplicates = len(contents.records) - contents.records.count(None) - len(keys)
    if duplicates:
        log.warning("telemetry log holds duplicate task keys", duplicates=duplicates)
    return contents.header, keys, contents.torn_bytes


def _read(
    path: Path, loads: Callable[[bytes], Any], *, keys_only: bool = False
) -> tuple[LogContents, int, int | None]:
    """Parse ``path`` without side effects: (contents, end of the last good line, torn line)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; the scan wants the raw file
    except FileNotFoundError:
        raise CheckpointError(f"telemetry log {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise CheckpointError(f"telemetry log {path} is a directory; pass a file path") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read telemetry log {path}: {exc.strerror}") from None
    gc_enabled = gc.isenabled()
    gc.disable()  # 1M dicts: cyclic GC passes would otherwise take most of the time
    try:
        with f:
            header, records, good_end, torn = _scan(f, path, loads, keys_only=keys_only)
    finally:
        if gc_enabled:
            gc.enable()
    contents = LogContents(
        path=path, header=header, records=records, torn_bytes=torn[1] if torn else 0
    )
    return contents, good_end, torn[0] if torn else None


def _report_torn(contents: LogContents, lineno: int, *, truncated: bool) -> None:
    log.warning(
        "telemetry log ends with a torn line (the run was interrupted mid-write)",
        path=str(contents.path),
        line=lineno,
        bytes=contents.torn_bytes,
        truncated=truncated,
    )


def _scan(
    f: Any, path: Path, loads: Callable[[bytes], Any], *, keys_only: bool = False
) -> tuple[dict[str, Any], list[Any], int, tuple[int, int] | None]:
    """Parse the file; return (header, records, end of the last good line, torn (line, bytes)).

    The loop is the hot path of a resume (1M lines): it does as little per line as it can and
    works line numbers out only when something is wrong (line = records so far + 2). With
    ``keys_only`` each record is dropped once parsed and only its task key kept (``None`` for a
    cancelled run, which a resume runs again), so memory stays small.
    """
    line = f.readline()
    if not line:
        return {}, [], 0, None
    header: dict[str, Any] = {}
    try:
        header = loads(line)
    except ValueError as exc:
        # A torn header lacks its newline; a whole first line that does not parse is some
        # other file (cutting it off would destroy it), as is one with more lines after it.
        if f.peek(1) or line.endswith(b"\n"):
            raise _corrupt(path, 1, line, _reason(exc, 1)) from None
        return {}, [], 0, (1, len(line))
    if not line.endswith(b"\n"):
        return {}, [], 0, (1, len(line))
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise _corrupt(path, 1, line, "no 'kind' field")
    records: list[dict[str, Any]] = []
    append = records.append
    bad: tuple[int, bytes, str] | None = None  # an unparsable line is fine if it is the last
    for line in f:  # after the loop, `line` is the last line
        if bad is not None:
            raise _corrupt(path, *bad)
        try:
            value = loads(line)
        except ValueError as exc:
            bad = (len(records) + 2, line, _reason(exc, 2))
            continue
        try:  # a whole line of valid JSON that is not a record: corrupt, even if last
            if type(value["task_key"]) is not str:
                raise TypeError
        except (KeyError, TypeError) as exc:
            raise _corrupt(path, len(records) + 2, line, _reason(exc, 2)) from None
        if keys_only:
            finished = value.get("termination_reason") != _CANCELLED
            value = value["task_key"] if finished else None
        append(value)
    size = f.tell()  # what was read, even if a writer appended meanwhile
    if bad is not None:
        return header, records, size - len(bad[1]), (bad[0], len(bad[1]))
    if not line.endswith(b"\n"):  # parsed, but its newline never made it: torn all the same
        records.pop()
        return header, records, size - len(line), (len(records) + 2, len(line))
    return header, records, size, None


def _reason(exc: BaseException, lineno: int) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, ValueError) and str(exc):
        return str(exc).splitlines()[0]
    return "not a JSON object with a string " + ("'kind'" if lineno == 1 else "'task_key'")


def _corrupt(path: Path, lineno: int, line: bytes, reason: str) -> CheckpointError:
    if lineno == 1:
        return CheckpointError(
            f"telemetry log {path}: line 1 is not a calibrate_noise header ({reason}); point "
            "--telemetry-log elsewhere or pass --fresh to move this file aside"
        )
    if b"\0" in line:
        return CheckpointError(
            f"telemetry log {path}: line {lineno} holds NUL bytes, as a power loss can leave; "
            f"keep only the lines before it (head -n {lineno - 1}) and rerun with --resume, "
            "or pass --fresh to start over"
        )
    return CheckpointError(
        f"telemetry log {path}: line {lineno} is corrupt ({reason}); repair or delete that "
        "line and rerun with --resume, or pass --fresh to start over"
    )


def _check_header(path: Path, header: dict[str, Any]) -> None:
    if not header:
        return
    if header.get("kind") != "header":
        raise CheckpointError(
            f"telemetry log {path}: line 1 is not a calibrate_noise header; point "
            "--telemetry-log elsewhere or pass --fresh to move this file aside"
        )
    if header.get("format") != FORMAT:
        raise CheckpointError(
            f"telemetry log {path} has format {header.get('format')!r}, this version writes "
            f"format {FORMAT}; pass --fresh to move it aside and start over"
        )
    if not isinstance(header.get("fingerprint"), dict):
        raise CheckpointError(
            f"telemetry log {path}: the header on line 1 has no fingerprint; pass --fresh to "
            "move the log aside and start over"
        )


# ---------------------------------------------------------------------------------------------
# Resume bookkeeping


def _finished(record: Mapping[str, Any]) -> bool:
    """A cancelled run (we stopped it) did not finish: resume runs it again."""
    return record.get("termination_reason") != _CANCELLED


def completed_keys(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Task keys of the finished runs in ``records``: what a resume skips.

    Records of runs we cancelled (``termination_reason == "cancelled"``) do not count. A key
    seen more than once is counted once, and the duplicates are logged as a warning (they
    should not happen; :func:`dedupe_records` keeps the first record of each key).
    """
    finished, duplicates = dedupe_records(records)
    if duplicates:
        log.warning("telemetry log holds duplicate task keys", duplicates=duplicates)
    return {record["task_key"] for record in finished}


def dedupe_records(
    records: Iterable[Mapping[str, Any]], *, path: Path | None = None
) -> tuple[list[Mapping[str, Any]], int]:
    """The finished records, first of each task key, in order; and how many duplicates went.

    A duplicate with another outcome is refused (CheckpointError naming both lines; line =
    index + 2, the header being line 1): no copy of a run can say what the run gave, and
    keeping the first would let a forged line placed first decide the verdict.
    """
    seen: dict[str, tuple[int, Any]] = {}
    out: list[Mapping[str, Any]] = []
    duplicates = 0
    for index, record in enumerate(records):
        if not _finished(record):
            continue
        key = record["task_key"]
        first = seen.get(key)
        if first is not None:
            if first[1] != record.get("outcome"):
                where = f"telemetry log {path}" if path is not None else "the telemetry log"
                raise CheckpointError(
                    f"{where}: line {index + 2} records task {key} again with outcome "
                    f"{record.get('outcome')!s:.40} (line {first[0]}: {first[1]!s:.40}); the "
                    "log was edited: restore it, or start over with --fresh"
                )
            duplicates += 1
            continue
        seen[key] = (index + 2, record.get("outcome"))
        out.append(record)
    return out, duplicates
