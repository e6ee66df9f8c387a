"""Turning a finished run into a TelemetryRecord (stage 2's unit of output)."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calib_async.records import TelemetryRecord

if TYPE_CHECKING:
    from calib_async.checkers.api import Observation
    from calib_async.records import Task

_HOST = socket.gethostname()
_TAIL_CHARS = 2000


def new_verification_id() -> str:
    """A random (version 4) UUID as 32 hex digits, like ``uuid.uuid4().hex`` at a fifth of
    its cost (no UUID object)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return b.hex()


class _Timestamps:
    """``datetime.now(UTC).isoformat(timespec="milliseconds")``, with the part up to the
    second formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        ns = time.time_ns()
        second, ms = divmod(ns // 1_000_000, 1000)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).isoformat()[:19]
        return f"{self._prefix}.{ms:03d}+00:00"


_timestamps = _Timestamps()


class LoadAverage:
    """The 1-minute load average, read at most once per second (it changes slowly)."""

    def __init__(self) -> None:
        self._value = 0.0
        self._at = -1.0

    def get(self) -> float:
        now = time.monotonic()
        if now - self._at >= 1.0:
            try:
                self._value = os.getloadavg()[0]
            except OSError:
                self._value = 0.0
            self._at = now
        return self._value


def build_record(
    task: Task,
    observation: Observation,
    *,
    concurrency: int,
    load_avg_1m: float,
    master_seed: int,
    run_id: str,
    checker_version: str | None,
) -> TelemetryRecord:
    """Assemble the record; nothing here blocks or starts a process."""
    result, verdict = observation.result, observation.verdict
    metadata: dict[str, Any] = {"master_seed": master_seed}  # deterministic: snapshots keep it
    text_tail = ""
    if result.stdout or result.stderr:
        text_tail = result.output_text[-_TAIL_CHARS:]
    return TelemetryRecord(
        verification_id=new_verification_id(),
        timestamp=_timestamps.now(),
        context=f"calibration_{task.tier.name}_{task.item.module_name}",
        metadata=metadata,
        task_key=task.key,
        item_id=task.item.item_id,
        content_hash=task.item.content_hash,
        module_name=task.item.module_name,
        tier=task.tier.name,
        verifier=task.verifier,
        phase=task.phase,
        attempt=task.attempt,
        timeout_s=task.effective_timeout_s,
        outcome=verdict.outcome,
        exit_code=result.exit_code,
        signal=result.signal,
        duration_ms=result.duration_ms,
        cpu_time_ms=result.cpu_time_ms,
        memory_peak_mb=result.memory_peak_mb,
        memory_final_mb=result.memory_final_mb,
        memory_peak_source=result.memory_peak_source,
        memory_peak_is_floor=result.memory_peak_is_floor,
        timed_out=result.termination.value in ("timeout", "cancelled"),
        timeout_kind=verdict.timeout_kind,
        termination_reason=result.termination,
        stdout_bytes=result.stdout_bytes,
        stderr_bytes=result.stderr_bytes,
        error_count=verdict.error_count,
        first_error=verdict.first_error,
        uses_sorry=verdict.uses_sorry,
        axioms=list(verdict.axioms) if verdict.axioms is not None else None,
        message=result.message,
        output_tail=text_tail,
        concurrency=concurrency,
        load_avg_1m=round(load_avg_1m, 2),
        host=_HOST,
        checker_version=checker_version,
        cgroup=result.cgroup,
        warnings=list(result.warnings),
        load_level=task.load_level,
        limits_mechanism=result.mechanism.value,
        cpu_time_source=result.cpu_time_source,
        processes_peak=result.processes_peak,
        checker=dict(observation.details) if observation.details else None,
    )
