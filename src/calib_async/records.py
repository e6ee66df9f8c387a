"""The data every stage passes on: outcomes, telemetry records, labels.

Units: durations in milliseconds (``*_ms``), memory in MiB (``*_mb``: bytes / 2**20).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What a checker said about one run."""

    VERIFIED = "VERIFIED"
    PROOF_INVALID = "PROOF_INVALID"
    VERIFIER_TIMEOUT = "VERIFIER_TIMEOUT"
    MEMORY_LIMIT_EXCEEDED = "MEMORY_LIMIT_EXCEEDED"
    VERIFIER_ERROR = "VERIFIER_ERROR"


class Phase(StrEnum):
    """Why a run happened: the tier's own telemetry, ground-truth labelling, a verdict
    replicate (``attempt`` is the replicate index, 1..R), the designed load experiment (the
    record's ``load_level`` is the concurrency it ran at), or a canary (an invalid variant of an
    item, made by a known exploit; see :mod:`calib_async.corpus.canaries`)."""

    TELEMETRY = "telemetry"
    LABEL = "label"
    REPLICATE = "replicate"
    LOAD = "load"
    CANARY = "canary"


class TimeoutKind(StrEnum):
    """Where a VERIFIER_TIMEOUT came from."""

    WALL = "wall"  # the runner's wall-clock timer killed the checker
    HEARTBEAT = "heartbeat"  # the checker gave up on its own (Lean maxHeartbeats, kernel)


class Termination(StrEnum):
    """Why the process ended. The first reason observed wins."""

    EXITED = "exited"  # exited (or died of a signal) on its own
    TIMEOUT = "timeout"  # the runner's wall-clock timer fired and killed the tree
    MEMORY = "memory"  # the memory limit was breached (cgroup OOM kill, or the fallback's)
    SPAWN_ERROR = "spawn_error"  # could not be started at all (missing, not executable)
    PROCESS_LIMIT = "process_limit"  # a fork refused at pids.max, or the fallback's watchdog
    CANCELLED = "cancelled"  # the surrounding scope was cancelled; the tree was killed


class Truth(StrEnum):
    """Ground truth of an item."""

    VERIFIED = "VERIFIED"
    INVALID = "INVALID"
    UNDETERMINED = "UNDETERMINED"


class LabelMethod(StrEnum):
    """How a ground-truth label was established (precedence: first listed wins)."""

    MANUAL = "manual"
    AXIOM_AUDIT = "axiom_audit"
    CONSENSUS = "consensus"
    EXTENDED_TIMEOUT = "extended_timeout"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CorpusItem:
    """One proof to check. ``item_id`` is safe to use as a file name."""

    item_id: str
    module_name: str
    path: str  # absolute path of the file the checker reads
    content_hash: str  # sha256 hex of the file's bytes
    #: the statement the proof must prove (a JSONL attempt's ``formal_statement``), if known
    formal_statement: str | None = None

    @property
    def key(self) -> str:
        return f"{self.item_id}@{self.content_hash[:16]}"


def task_key(
    item: CorpusItem,
    tier: str,
    phase: Phase | str,
    attempt: int,
    verifier: str,
    load_level: int | None = None,
) -> str:
    """The content-addressed identity of one run, used by resume and deduplication.

    A load-experiment run's key ends in ``|c<level>`` (keys without a level are unchanged).
    """
    phase_name = Phase(phase).value
    key = f"{item.item_id}|{item.content_hash[:16]}|{tier}|{phase_name}|{verifier}|{attempt}"
    return key if load_level is None else f"{key}|c{load_level}"


@dataclass(frozen=True, slots=True)
class TelemetryRecord:
    """One finished checker run, as written to the telemetry log.

    The original field names are kept; every later field is additive.
    """

    verification_id: str
    timestamp: str
    context: str
    metadata: dict[str, Any]
    task_key: str
    item_id: str
    content_hash: str
    module_name: str
    tier: str
    verifier: str
    phase: Phase
    attempt: int
    timeout_s: float
    outcome: Outcome
    exit_code: int | None
    signal: int | None
    duration_ms: float
    cpu_time_ms: float
    memory_peak_mb: float
    memory_final_mb: float
    memory_peak_source: str = "rusage"
    memory_peak_is_floor: bool = False
    timed_out: bool = False
    timeout_kind: TimeoutKind | None = None
    termination_reason: Termination = Termination.EXITED
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    error_count: int = 0
    first_error: str | None = None
    uses_sorry: bool = False
    axioms: list[str] | None = None
    message: str | None = None
    output_tail: str = ""
    concurrency: int = 0
    load_avg_1m: float = 0.0
    host: str = ""
    checker_version: str | None = None
    cgroup: bool = False
    warnings: list[str] = field(default_factory=list)
    load_level: int | None = None  # the load experiment's concurrency level (phase "load")
    limits_mechanism: str = "rlimit"  # "cgroup2", "cgroup1" or "rlimit" (runner/cgroups.py)
    cpu_time_source: str = "rusage"  # "rusage", "cgroup:cpuacct.usage" or "cgroup:cpu.stat"
    processes_peak: int | None = None  # the run cgroup's pids.peak (None: not measured)
    #: kind-specific details of the check (a pool or service kind's telemetry), JSON-ready;
    #: None (and absent from the log line) when the kind reports none
    checker: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(zip(_RECORD_FIELD_NAMES, _record_values(self), strict=True))
        if out["checker"] is None:  # absent, so a line without details keeps its old bytes
            del out["checker"]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TelemetryRecord:
        """The record a log line (or :meth:`to_dict`) holds; unknown keys are dropped, and
        the closed sets' strings become their enums (ValueError for a value none knows)."""
        if _RECORD_FIELDS.issuperset(d):  # the usual case: a record this version wrote
            d = dict(d)
        else:
            d = {k: v for k, v in d.items() if k in _RECORD_FIELDS}
        for name, members in _ENUM_FIELDS:
            value = d.get(name)
            if value is not None:
                try:
                    d[name] = members[value]
                except (KeyError, TypeError):
                    raise ValueError(f"{name}: {value!r} is not one of {sorted(members)}") from None
        return cls(**d)


_RECORD_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TelemetryRecord))
_RECORD_FIELDS = frozenset(_RECORD_FIELD_NAMES)
_record_values = operator.attrgetter(*_RECORD_FIELD_NAMES)  # to_dict without per-call fields()
#: The record's closed sets: field -> {value: member} (a member is its own value too).
_ENUM_FIELDS: tuple[tuple[str, dict[str, StrEnum]], ...] = tuple(
    (name, {m.value: m for m in enum})
    for name, enum in (
        ("phase", Phase),
        ("outcome", Outcome),
        ("timeout_kind", TimeoutKind),
        ("termination_reason", Termination),
    )
)


@dataclass(frozen=True, slots=True)
class ItemLabel:
    """The merged ground truth of one item (optionally per tier)."""

    item_id: str
    truth: Truth
    method: LabelMethod
    confidence: float
    tier: str | None = None
    votes: dict[str, int] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LabeledRecord:
    """A telemetry record that was sampled for labelling, with its ground truth."""

    record: TelemetryRecord
    truth: Truth
    method: LabelMethod
    confidence: float
    stratum: str  # the sampling stratum (tier|outcome)
    weight: float  # Horvitz-Thompson weight N_h / n_h


def plain_value(value: Any) -> Any:
    """JSON-ready copy with mapping keys sorted (stable identities)."""
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Tier:
    """A checker configuration: timeout, limits, flags, strictness."""

    name: str
    timeout_s: float
    verifier: str
    memory_limit_mb: int | None = None
    args: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    max_processes: int | None = None
    max_file_mb: int | None = None
    output_cap_kb: int = 64
    grace_s: float = 1.0
    #: RLIMIT_AS in MiB, opt-in (under every limit mechanism; None: only the fallback's)
    address_space_limit_mb: int | None = None

    def identity(self) -> dict[str, Any]:
        ident = {
            "timeout_s": self.timeout_s,
            "verifier": self.verifier,
            "memory_limit_mb": self.memory_limit_mb,
            "args": list(self.args),
            "options": plain_value(self.options),
            "max_processes": self.max_processes,
            "max_file_mb": self.max_file_mb,
            "output_cap_kb": self.output_cap_kb,
            "grace_s": self.grace_s,
        }
        if self.address_space_limit_mb is not None:  # absent when unset: older runs resume
            ident["address_space_limit_mb"] = self.address_space_limit_mb
        return ident


@dataclass(frozen=True, slots=True)
class Task:
    """One checker run to do: an item at a tier, with one profile, phase and attempt."""

    item: CorpusItem
    tier: Tier
    verifier: str
    phase: Phase = Phase.TELEMETRY
    attempt: int = 0
    timeout_s: float | None = None  # None: the tier's timeout
    load_level: int | None = None  # the load experiment's concurrency level

    @property
    def effective_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else self.tier.timeout_s

    @property
    def key(self) -> str:
        return task_key(
            self.item, self.tier.name, self.phase, self.attempt, self.verifier, self.load_level
        )
