"""Running ``python -m calib_async`` in a subprocess: one helper for every CLI test that starts
the real command (signals, phases, races, the REPL pool's CLI, the catalogues' batch runner in
helpers/hostile_cli.py uses the same ``CLI``).

- :func:`start` / :func:`run`: the CLI with this venv first on PATH, stdin from /dev/null;
- :func:`wait_for_event`: read JSON log lines from stderr until an event appears;
- :func:`interrupt`: send a signal, wait (bounded) for the exit: (code, seconds, stdout, stderr);
- :func:`alive` and the ``mark`` fixture builder: processes found by a unique argv word.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil

from helpers import run_env

CLI = [sys.executable, "-m", "calib_async"]
#: How long a stopped CLI may take to exit: a bound that holds at load 10, not a speed claim.
STOP_WITHIN_S = 10.0


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The CLI with ``args``, stdout and stderr piped (text)."""
    return subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        env=env or run_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(
    args: list[str], cwd: Path, *, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI to its end (``timeout`` is a hang guard, generous for load 10)."""
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env or run_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def wait_for_event(proc: subprocess.Popen[str], event: str, **fields: object) -> None:
    """Read JSON log lines from stderr until ``event`` with ``fields`` appears."""
    assert proc.stderr is not None
    for line in proc.stderr:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") == event and all(obj.get(k) == v for k, v in fields.items()):
            return
    raise AssertionError(f"the run ended before {event} {fields}")


def interrupt(
    proc: subprocess.Popen[str], sig: int, *, within: float = 60
) -> tuple[int, float, str, str]:
    """Send ``sig``; (exit code, seconds until the exit, rest of stdout, rest of stderr). A CLI
    still running ``within`` s later is killed (the caller's bound check then fails)."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, time.monotonic() - t0, out, err


def alive(mark: str) -> list[psutil.Process]:
    """Live (not zombie) processes with ``mark`` as one of their arguments."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if mark in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


def marked(prefix: str = "") -> Iterator[str]:
    """A unique argv word (a valid ``sleep`` argument unless ``prefix`` is given); whatever
    still carries it at the end is killed. Use as the body of a fixture."""
    value = prefix + (
        uuid.uuid4().hex if prefix else f"{7000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    )
    yield value
    for p in alive(value):
        p.kill()


def wait_until_alive(mark: str, count: int, proc: subprocess.Popen[str], within: float) -> None:
    """Poll until ``count`` processes carry ``mark`` (processes cannot be awaited otherwise)."""
    deadline = time.monotonic() + within
    while len(alive(mark)) < count:
        assert time.monotonic() < deadline and proc.poll() is None, "the checkers never started"
        time.sleep(0.05)


def wait_until_gone(mark: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while alive(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(mark)
