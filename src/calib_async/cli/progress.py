"""The progress display: a rich Live view fed by pipeline and scheduler events.

``ProgressDisplay`` is a :data:`~calib_async.events.Listener`: pass it to the scheduler and
call it with the pipeline's stage events. It only updates counters when called; rendering
happens on rich's refresh. On a terminal it shows one bar per tier (done/total, rate, ETA),
live outcome counts, escalations in flight and busy workers, under a header per stage. When
disabled (stdout not a terminal, or ``--no-progress``) it draws nothing and instead logs a
plain progress line every ``plain_interval_s`` and at the end of each stage.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import structlog
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from calib_async.cli.logs import live_console
from calib_async.cli.progress_format import bar_key as _bar_key
from calib_async.cli.progress_format import duration as _duration
from calib_async.cli.progress_format import rate as _rate
from calib_async.cli.summary import print_summary
from calib_async.events import (
    Event,
    RunEscalated,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
)

log = structlog.get_logger(__name__)

N_STAGES = 6
#: Outcome columns: (header, outcome string, style).
OUTCOME_COLUMNS = (
    ("VERIFIED", "VERIFIED", "green"),
    ("INVALID", "PROOF_INVALID", "red"),
    ("TIMEOUT", "VERIFIER_TIMEOUT", "yellow"),
    ("MEM", "MEMORY_LIMIT_EXCEEDED", "magenta"),
    ("ERROR", "VERIFIER_ERROR", "bright_red"),
)
_SHORT_HEADERS = {"VERIFIED": "VER", "INVALID": "INV", "TIMEOUT": "T/O", "ERROR": "ERR"}
#: The bar kinds each stage's runs fill: stage 2 runs every item at every tier; stage 3 runs
#: each consensus profile on the sampled items (attempt 0) and escalation ladders (attempt >= 1).
_STAGE_KINDS = {2: ("telemetry",), 3: ("consensus", "escalation")}
_KIND_ORDER = {"telemetry": 0, "consensus": 1, "escalation": 2}
_RESERVED = {"event", "stage", "name", "elapsed_s", "level", "logger", "timestamp"}


@dataclass(slots=True)
class _Bar:
    """Counters for one (phase, tier) row."""

    total: int | None = None
    done: int = 0
    live_done: int = 0  # runs actually run here (not replayed from the checkpoint)
    first_start: float | None = None
    last_finish: float | None = None
    outcomes: Counter[str] = field(default_factory=Counter)

    def rate(self, now: float) -> float | None:
        """Completed runs per second since the first run started (replays excluded)."""
        if self.first_start is None or self.live_done == 0:
            return None
        end = self.last_finish if self.complete and self.last_finish is not None else now
        elapsed = end - self.first_start
        return self.live_done / elapsed if elapsed > 0 else None

    @property
    def complete(self) -> bool:
        return self.total is not None and self.done >= self.total

    def eta(self, now: float) -> float | None:
        rate = self.rate(now)
        if self.total is None or not rate:
            return None
        return max(0, self.total - self.done) / rate

    def brief(self) -> str:
        counts = " ".join(f"{h[0]}{self.outcomes[o]}" for h, o, _ in OUTCOME_COLUMNS)
        done = str(self.done) if self.total is None else f"{self.done}/{self.total}"
        return f"{done} ({counts})"


class ProgressDisplay:
    """Live progress of a calibration, or plain log lines when ``enabled`` is False.

    ``enabled`` is honoured only when ``console`` is a terminal, so a piped stdout never
    receives cursor movement or colours. ``clock`` (monotonic seconds) is injectable for tests.
    """

    def __init__(
        self,
        *,
        console: Console,
        tiers: Sequence[str],
        enabled: bool,
        clock: Callable[[], float] = time.monotonic,
        plain_interval_s: float = 10.0,
    ) -> None:
        self.console = console
        self.enabled = bool(enabled and console.is_terminal)
        self.clock = clock
        self.plain_interval_s = plain_interval_s
        self.tiers: list[str] = list(tiers)
        self.running = 0
        self.stage: tuple[int, str] | None = None
        self.stage_started_at: float | None = None
        self.escalations: set[str] = set()
        self._bars: dict[tuple[str, str], _Bar] = {("telemetry", t): _Bar() for t in self.tiers}
        self._label_total: int | None = None
        self._kinds: tuple[str, ...] | None = None  # the bar kinds the current stage fills
        self._last_plain: float | None = None
        self._stack: ExitStack | None = None
        self._live: Live | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._stack = ExitStack()
        if self.enabled:
            self._live = Live(
                get_renderable=self.render,
                console=self.console,
                refresh_per_second=4,
                transient=False,
            )
            self._stack.enter_context(self._live)
            self._stack.enter_context(live_console(self.console))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        interrupted = self._live is not None and exc is not None
        self._live = None
        if interrupted:  # one marker, after the live view's last frame
            where = f" in stage {self.stage[0]}/{N_STAGES} {self.stage[1]}" if self.stage else ""
            self.console.print(Text.assemble(("✗ ", "red"), f"interrupted{where}"))

    # -- events ------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        now = self.clock()
        if isinstance(event, RunStarted):
            self.running = event.running
            bar = self._bar(*_bar_key(event.task))
            if bar.first_start is None:
                bar.first_start = now
        elif isinstance(event, RunFinished):
            self._finished(event, now)
        elif isinstance(event, RunEscalated):
            self.escalations.add(event.task.key)
            if self._label_total is not None:  # each escalation attempt is one more planned run
                self._label_total += 1
        elif isinstance(event, StageStarted):
            self._stage_started(event, now)
        elif isinstance(event, StageFinished):
            self._stage_finished(event, now)
        if not self.enabled and isinstance(event, RunFinished):
            if self._last_plain is None:
                self._last_plain = now
            elif now - self._last_plain >= self.plain_interval_s:
                self._log_plain(now)

    def _finished(self, event: RunFinished, now: float) -> None:
        if not event.resumed:  # a replay says nothing about the workers
            # busy workers, this run's included: the plain line is written right after a run
            # finishes, while its worker is still handing the record over
            self.running = event.running if event.busy is None else event.busy
        self.escalations.discard(event.task.key)
        bar = self._bar(*_bar_key(event.task))
        bar.done += 1
        if bar.total is not None and bar.done > bar.total:  # the work grew (repeats, ladders)
            bar.total = bar.done
        if self._label_total is not None and self.stage is not None and self.stage[0] == 3:
            self._label_total = max(self._label_total, self._label_done())
        bar.outcomes[event.record.outcome] += 1
        if not event.resumed:
            bar.live_done += 1
            bar.last_finish = now
            if bar.first_start is None:
                bar.first_start = now

    def _stage_started(self, event: StageStarted, now: float) -> None:
        self.stage = (event.stage, event.name)
        self.stage_started_at = now
        phase = getattr(event, "phase", None)
        kinds = (phase,) if phase else _STAGE_KINDS.get(event.stage)
        self._kinds = kinds
        if kinds is not None and event.totals_by_tier:
            for name, total in event.totals_by_tier.items():  # stage 3: per consensus profile
                self._bar(kinds[0], name).total = total
        if event.stage == 3:
            self._label_total = event.total
        if self.enabled:
            self.console.rule(
                Text.assemble((f"Stage {event.stage}/{N_STAGES}", "bold"), f" · {event.name}")
            )
        else:
            log.info("stage.started", stage=event.stage, name=event.name, total=event.total)
            self._last_plain = now

    def _stage_finished(self, event: StageFinished, now: float) -> None:
        if self._kinds is not None:
            self.running = 0  # every run of the stage has been handed over
        elapsed = None if self.stage_started_at is None else now - self.stage_started_at
        summary = dict(event.summary or {})
        if self.enabled:
            took = "" if elapsed is None else f" in {_duration(elapsed)}"
            extra = "  ".join(f"{k}={v}" for k, v in summary.items())
            self.console.print(
                Text.assemble(
                    ("✓ ", "green"),
                    f"Stage {event.stage}/{N_STAGES} {event.name} done{took}",
                    ("  " + extra if extra else "", "dim"),
                )
            )
        else:
            if self._kinds is not None:
                self._log_plain(now)
            log.info(
                "stage.finished",
                stage=event.stage,
                name=event.name,
                elapsed_s=None if elapsed is None else round(elapsed, 3),
                **{(f"summary_{k}" if k in _RESERVED else str(k)): v for k, v in summary.items()},
            )
        self.stage = None
        self._kinds = None

    def _label_done(self) -> int:
        return sum(b.done for (k, _), b in list(self._bars.items()) if k in _STAGE_KINDS[3])

    def _bar(self, kind: str, tier: str) -> _Bar:
        key = (kind, tier)
        bar = self._bars.get(key)
        if bar is None:
            if kind != "consensus" and tier not in self.tiers:
                self.tiers.append(tier)
            bar = self._bars[key] = _Bar()  # one assignment: safe against the refresh thread
        return bar

    def _log_plain(self, now: float) -> None:
        self._last_plain = now
        kinds = self._kinds
        fields: dict[str, Any] = {}
        for (kind, tier), bar in list(self._bars.items()):
            if kinds is None or kind in kinds:
                fields[tier if kind == "telemetry" else f"{kind}:{tier}"] = bar.brief()
        log.info(
            "progress",
            stage=self.stage[1] if self.stage else None,
            workers_busy=self.running,
            escalations=len(self.escalations),
            **fields,
        )

    # -- rendering ---------------------------------------------------------------------------

    def render(self) -> RenderableType:
        """The live view (also used by tests to render one frame)."""
        now = self.clock()
        header = Text()
        if self.stage is not None:
            header.append(f"Stage {self.stage[0]}/{N_STAGES} ", style="bold")
            header.append(self.stage[1], style="bold cyan")
            if self.stage_started_at is not None:
                header.append(f"  {_duration(now - self.stage_started_at)}", style="dim")
        header.append(f"   workers busy {self.running}")
        header.append(f"   escalations in flight {len(self.escalations)}")
        if self._label_total is not None:
            labelled = self._label_done()
            header.append(f"   label runs {labelled}/{max(labelled, self._label_total)}")
        bars = list(self._bars.items())
        if not any(b.total is not None or b.done for _, b in bars):
            return header  # nothing planned yet (stage 1): no empty bars

        rows = sorted(
            bars, key=lambda kv: (_KIND_ORDER.get(kv[0][0], 3), self._tier_index(kv[0][1]))
        )
        names = [t if k == "telemetry" else f"{k} · {t}" for (k, t), _ in rows]
        cells = [
            (
                str(bar.done) if bar.total is None else f"{bar.done}/{bar.total}",
                "–" if (rate := bar.rate(now)) is None else _rate(rate),
                "–" if (eta := bar.eta(now)) is None else _duration(eta),
            )
            for _, bar in rows
        ]
        # fit the terminal: the name, done/total and ETA always; then the bar, the outcome
        # counts and the rate as room allows (short outcome headers on narrow screens)
        width = self.console.width
        heads = [h for h, _, _ in OUTCOME_COLUMNS]
        if width < 120:
            heads = [_SHORT_HEADERS.get(h, h) for h in heads]
        outcome_w = [max(len(h), *(len(str(b.outcomes[o])) for _, b in rows)) for h, (_, o, _) in
                     zip(heads, OUTCOME_COLUMNS, strict=True)]  # fmt: skip
        name_w = max(len(n) for n in [*names, "tier"])
        text_w = [max(len(h), *(len(c[i]) for c in cells)) for i, h in
                  enumerate(("done", "rate", "ETA"))]  # fmt: skip
        show_rate, n_outcomes = True, len(heads)

        def needed(bar: int) -> int:
            cols = [name_w, text_w[0], text_w[2], *outcome_w[:n_outcomes]]
            if show_rate:
                cols.append(text_w[1])
            if bar:
                cols.append(bar)
            return sum(cols) + 2 * (len(cols) - 1)

        while needed(8) > width - 1 and (show_rate or n_outcomes):
            if n_outcomes > 2 or not show_rate:
                n_outcomes -= 1
            else:
                show_rate = False
        bar_width = max(0, min(30, width - 1 - needed(0) - 2))
        if bar_width < 4:
            bar_width = 0

        table = Table(box=None, pad_edge=False, show_edge=False, expand=False)
        table.add_column("tier", style="bold", no_wrap=True)
        if bar_width:
            table.add_column("progress", width=bar_width, no_wrap=True)
        table.add_column("done", justify="right", no_wrap=True)
        if show_rate:
            table.add_column("rate", justify="right", no_wrap=True)
        table.add_column("ETA", justify="right", no_wrap=True)
        shown = list(zip(heads, OUTCOME_COLUMNS, strict=True))[:n_outcomes]
        for head, (_, _, style) in shown:
            table.add_column(head, justify="right", style=style, no_wrap=True)
        for name, ((_, _), bar), (done, rate_text, eta_text) in zip(
            names, rows, cells, strict=True
        ):
            row: list[RenderableType] = [Text(name)]
            if bar_width:
                row.append(
                    ProgressBar(
                        total=bar.total if bar.total else None,
                        completed=bar.done,
                        width=bar_width,
                        pulse=bar.total is None and bar.done > 0,
                        animation_time=now,
                    )
                )
            row.append(done)
            if show_rate:
                row.append(rate_text)
            row.append(eta_text)
            row += [str(bar.outcomes[o]) for _, (_, o, _) in shown]
            table.add_row(*row)
        return Group(header, table)

    def _tier_index(self, tier: str) -> int:
        return self.tiers.index(tier) if tier in self.tiers else len(self.tiers)

    # -- final summary -----------------------------------------------------------------------

    def print_summary(self, export: Mapping[str, Any]) -> None:
        """Print a per-tier table of rates with CIs and recommended timeouts from the export."""
        print_summary(self.console, export, tiers=self.tiers, log_lines=not self.enabled)
