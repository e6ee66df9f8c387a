"""Starting, continuing or refusing a telemetry log, per ``--resume`` / ``--fresh``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from calib_async.checkpoint.canonical import canonicalize
from calib_async.checkpoint.fingerprint_parts import labelling_changes, resume_refusals
from calib_async.checkpoint.reading import FORMAT, LogContents, _check_header, _read, _report_torn
from calib_async.checkpoint.writing import check_unlocked, create_log, move_aside, truncate_log
from calib_async.errors import CheckpointError, option

log = structlog.get_logger(__name__)


def prepare_log(
    path: Path,
    fingerprint: Mapping[str, Any],
    *,
    resume: bool,
    fresh: bool,
    check: Callable[[LogContents], None] | None = None,
) -> LogContents:
    """Get ``path`` ready for appending, per ``--resume`` / ``--fresh``; return what it holds.

    - No log (missing or empty file): create one holding only the header. With ``resume``
      this is not an error: there is nothing to resume, so a new run starts (logged).
    - A log and neither flag: refuse, saying which flag to pass.
    - ``resume``: the header's fingerprint must match ``fingerprint``, else refuse and list the
      differences; a torn last line is cut off; the records are returned (``resumed=True``).
    - ``fresh``: rename the old log to ``<name>.<UTC timestamp>.bak`` (never overwriting
      anything; ``moved_aside`` says where) and start a new one.

    Raises CheckpointError for every refusal, with a one-line message.
    """
    if resume and fresh:
        raise CheckpointError(
            f"{option('resume')} and {option('fresh')} contradict each other; pass "
            f"{option('resume')} to continue the telemetry log or {option('fresh')} to start over"
        )
    header = canonicalize(
        {
            "kind": "header",
            "format": FORMAT,
            "fingerprint": fingerprint,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    fp = header["fingerprint"]
    if not _holds_log(path):
        if resume:
            log.info("no telemetry log to resume; starting a new one", path=str(path))
        create_log(path, header)
        return LogContents(path=path, header=header, records=[])
    check_unlocked(path)
    if fresh:
        moved = move_aside(path)
        log.info("moved the old telemetry log aside", path=str(path), moved_to=str(moved))
        create_log(path, header)
        return LogContents(path=path, header=header, records=[], moved_aside=moved)
    if not resume:
        raise CheckpointError(
            f"{path} already holds a telemetry log; pass {option('resume')} to continue it or "
            f"{option('fresh')} to start over (the old log is moved aside)"
        )
    contents, good_end, torn_line = _read(path, orjson.loads)
    _check_header(path, contents.header)
    if not contents.header:  # only a torn header: nothing was ever recorded
        log.warning("telemetry log has no complete header; starting it anew", path=str(path))
        truncate_log(path, 0)
        create_log(path, header)
        return LogContents(path=path, header=header, records=[])
    old_fp = contents.header["fingerprint"]  # canonical as written; fp is canonical too
    diffs = [] if old_fp == fp else resume_refusals(old_fp, fp)
    if diffs:
        raise CheckpointError(
            f"cannot resume {path}: this run differs from the one that wrote it "
            f"({'; '.join(diffs)}); rerun with the original settings, or pass {option('fresh')}"
        )
    extended = [] if old_fp == fp else labelling_changes(old_fp, fp)
    if extended:  # finished label runs are replayed; only missing ones run
        log.info("resume.labelling_changed", path=str(path), changes="; ".join(extended))
    if check is not None:  # a log refused for its records is left exactly as it was
        check(contents)
    if torn_line is not None:
        _report_torn(contents, torn_line, truncated=True)
        truncate_log(path, good_end)
    log.info("resuming telemetry log", path=str(path), records=len(contents.records))
    return LogContents(
        path=path,
        header=contents.header,
        records=contents.records,
        torn_bytes=contents.torn_bytes,
        resumed=True,
    )


def _holds_log(path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if path.is_dir():
        raise CheckpointError(f"telemetry log {path} is a directory; pass a file path")
    return st.st_size > 0
