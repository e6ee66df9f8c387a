"""Logging setup: structlog over the standard library, configured once by the CLI.

- ``fmt="console"``: one human line per event on stderr (colours only on a terminal), with
  every bound field rendered as ``key=value`` (record-level events carry run_id, tier, item).
- ``fmt="json"``: one JSON object per line on stderr, no ANSI.

Records from stdlib loggers (third-party libraries) go through the same renderer. While a
rich Live display is active (:func:`live_console`), lines are printed through the display's
console, which prints them above the display instead of tearing it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog

from calib_async.errors import CalibError

if TYPE_CHECKING:
    from rich.console import Console

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("console", "json")
_QUIET_LOGGERS = ("matplotlib", "PIL", "fontTools", "asyncio")


class _Sink:
    """Where rendered lines go: the live display's console, else the default console or stderr."""

    default: Console | None = None
    live: Console | None = None


class _Handler(logging.Handler):
    """Writes formatted lines to the current sink; rich consoles keep a Live display intact."""

    def __init__(self, *, ansi: bool) -> None:
        super().__init__()
        self.ansi = ansi

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            console = _Sink.live or _Sink.default
            if console is None:
                stream = sys.stderr
                stream.write(line + "\n")
                stream.flush()
                return
            from rich.text import Text

            text = Text.from_ansi(line) if self.ansi else Text(line)
            console.print(text, soft_wrap=True, highlight=False, markup=False, emoji=False)
        except Exception:
            self.handleError(record)


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "console",
    console: Console | None = None,
    verbose: bool = False,
) -> None:
    """Configure structlog and the root stdlib logger. Calling it again replaces the setup.

    ``verbose`` means DEBUG whatever ``level`` says. ``console`` (a stderr rich console, say)
    receives the lines instead of ``sys.stderr``.
    """
    name = "DEBUG" if verbose else str(level).upper()
    if name not in LEVELS:
        raise CalibError(f"--log-level: {level!r} is not one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise CalibError(f"--log-format: {fmt!r} is not one of {', '.join(FORMATS)}")
    json_lines = fmt == "json"
    if json_lines:
        colors = False
    elif console is not None:
        colors = console.is_terminal and not console.no_color
    else:
        colors = sys.stderr.isatty()

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(
            fmt="iso" if json_lines else "%Y-%m-%d %H:%M:%S", utc=json_lines
        ),
    ]
    renderer: Any
    if json_lines:
        final: list[Any] = [structlog.processors.format_exc_info]
        renderer = structlog.processors.JSONRenderer()
    else:
        final = []
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors,
            exception_formatter=(
                structlog.dev.RichTracebackFormatter() if colors else structlog.dev.plain_traceback
            ),
        )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final, renderer],
    )
    handler = _Handler(ansi=colors)
    handler.setFormatter(formatter)
    handler.set_name("calib_async")

    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _Handler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, name))
    for noisy in _QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _Sink.default = console


@contextmanager
def live_console(console: Console) -> Iterator[None]:
    """While inside, log lines are printed through ``console`` (the live display's console)."""
    previous = _Sink.live
    _Sink.live = console
    try:
        yield
    finally:
        _Sink.live = previous
