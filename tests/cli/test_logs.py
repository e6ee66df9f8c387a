from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog
from rich.console import Console

from calib_async.cli.logs import configure_logging, live_console
from calib_async.errors import CalibError

ANSI = "\x1b["

SCRIPT = """
import logging, sys, structlog
from calib_async.cli.logs import configure_logging
configure_logging(fmt=sys.argv[1], level=sys.argv[2], verbose=sys.argv[3] == "1")
log = structlog.get_logger("calib_async.telemetry.scheduler")
log.info("run.finished", run_id="r1", tier="FAST", item="item-7", outcome="VERIFIED")
log.debug("debug.detail", n=3)
logging.getLogger("thirdparty").warning("disk %s nearly full", "/tmp")
structlog.contextvars.bind_contextvars(run_id="r2")
log.warning("bound.context", tier="SLOW", item="x")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("failed", item="y")
print("stdout stays clean")
"""


def run(fmt: str, level: str = "INFO", verbose: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, fmt, level, "1" if verbose else "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_json_format_is_one_object_per_line_on_stderr() -> None:
    proc = run("json")
    assert proc.stdout == "stdout stays clean\n"
    assert ANSI not in proc.stderr
    lines = proc.stderr.splitlines()
    objects = [json.loads(line) for line in lines]  # every line parses on its own
    assert all(isinstance(o, dict) for o in objects)
    by_event = {o["event"]: o for o in objects}
    assert set(by_event) == {"run.finished", "disk /tmp nearly full", "bound.context", "failed"}
    finished = by_event["run.finished"]
    assert (finished["run_id"], finished["tier"], finished["item"]) == ("r1", "FAST", "item-7")
    assert finished["level"] == "info" and finished["logger"] == "calib_async.telemetry.scheduler"
    assert "timestamp" in finished
    assert by_event["disk /tmp nearly full"]["level"] == "warning"
    assert by_event["bound.context"]["run_id"] == "r2"
    assert "ZeroDivisionError" in by_event["failed"]["exception"]


def test_console_format_renders_bound_fields_and_verbose_means_debug() -> None:
    proc = run("console", level="WARNING", verbose=True)
    assert proc.stdout == "stdout stays clean\n"
    assert ANSI not in proc.stderr  # stderr is a pipe: no colours
    finished = next(line for line in proc.stderr.splitlines() if "run.finished" in line)
    for field in ("run_id=r1", "tier=FAST", "item=item-7", "outcome=VERIFIED"):
        assert field in finished
    assert "debug.detail" in proc.stderr
    assert "disk /tmp nearly full" in proc.stderr
    assert "ZeroDivisionError" in proc.stderr


def test_level_filters() -> None:
    proc = run("console", level="WARNING")
    assert "run.finished" not in proc.stderr and "debug.detail" not in proc.stderr
    assert "bound.context" in proc.stderr


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_lines_go_through_the_live_console_while_it_is_active() -> None:
    default = Console(file=io.StringIO(), width=60)
    live = Console(file=io.StringIO(), width=60)
    configure_logging(console=default)
    configure_logging(console=default)  # configuring twice does not duplicate lines
    log = structlog.get_logger("t")
    log.info("before", item="a" * 80)
    with live_console(live):
        log.info("during", tier="FAST")
    log.info("after")
    out_default = default.file.getvalue()  # type: ignore[attr-defined]
    out_live = live.file.getvalue()  # type: ignore[attr-defined]
    assert out_default.count("before") == 1 and "after" in out_default
    assert "during" not in out_default and "during" in out_live and "tier=FAST" in out_live
    assert "item=" + "'" + "a" * 80 in out_default or "item=" + "a" * 80 in out_default  # no wrap


@pytest.mark.usefixtures("restore_logging")
def test_bad_level_or_format_is_a_user_error() -> None:
    with pytest.raises(CalibError, match=r"^--log-level: 'LOUD' is not one of DEBUG, INFO"):
        configure_logging(level="LOUD")
    with pytest.raises(CalibError, match=r"^--log-format: 'xml' is not one of console, json$"):
        configure_logging(fmt="xml")
