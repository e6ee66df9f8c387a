"""The real kimina-lean-server over the stand-in REPL: its venv, and one server started and
stopped by pid.

The venv is built once by tests/fixtures/kimina/build_env.py under ``.cache/kimina-venv``
(ignored by git; ``$CALIB_KIMINA_VENV`` overrides the place). Where no Python >= 3.12 exists the
tests that need the server skip with the builder's reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from helpers.repl import STANDIN

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "kimina"
BUILDER = FIXTURE / "build_env.py"
SHIM_DIR = FIXTURE / "bin"
DEFAULT_VENV = ROOT / ".cache" / "kimina-venv"
NO_PYTHON = 3
BUILD_TIMEOUT_S = 1200.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class KiminaEnv:
    """The built venv's python, or why there is none."""

    python: Path | None
    reason: str = ""


def ensure_kimina_env() -> KiminaEnv:
    """Build or reuse the venv (bounded by BUILD_TIMEOUT_S)."""
    venv = Path(os.environ.get("CALIB_KIMINA_VENV", DEFAULT_VENV))
    try:
        done = subprocess.run(
            [sys.executable, str(BUILDER), str(venv)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return KiminaEnv(None, f"building the kimina venv took over {BUILD_TIMEOUT_S:.0f} s")
    if done.returncode == NO_PYTHON:
        return KiminaEnv(None, done.stderr.strip())
    if done.returncode != 0:
        raise RuntimeError(f"kimina venv build failed:\n{done.stderr[-4000:]}")
    return KiminaEnv(Path(done.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class KiminaServer:
    """One running server: its URL, pid and log."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def server_env(
    work: Path, port: int, *, max_repls: int, api_key: str | None, max_wait_s: int
) -> dict[str, str]:
    project = work / "project"
    project.mkdir(exist_ok=True)
    env = {
        "PATH": f"{SHIM_DIR}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "KIMINA_REPL_PYTHON": sys.executable,
        "LEAN_SERVER_HOST": "127.0.0.1",
        "LEAN_SERVER_PORT": str(port),
        "LEAN_SERVER_REPL_PATH": str(STANDIN),
        "LEAN_SERVER_PROJECT_DIR": str(project),
        "LEAN_SERVER_WORKSPACE": str(work),
        "LEAN_SERVER_SKIP_VALIDATION": "1",  # the AST-export paths are not used here
        "LEAN_SERVER_MAX_REPLS": str(max_repls),
        "LEAN_SERVER_MAX_WAIT": str(max_wait_s),
        "LEAN_SERVER_ENVIRONMENT": "dev",  # prod would try Google Cloud logging
        "LEAN_SERVER_LOG_LEVEL": "WARNING",
    }
    if api_key is not None:
        env["LEAN_SERVER_API_KEY"] = api_key
    return env


def wait_ready(server: KiminaServer) -> None:
    """Poll /health until it answers (bounded); fail with the server's log otherwise."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"kimina server exited at start:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"kimina server not ready in {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


def stop_server(server: KiminaServer) -> None:
    """SIGTERM by pid, SIGKILL after STOP_TIMEOUT_S; then its REPLs (they run in their own
    sessions, so they are found as descendants before the server goes) by pid."""
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if server.proc.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.proc.wait(timeout=STOP_TIMEOUT_S)
    for child in children:
        try:
            child.kill()
            child.wait(timeout=STOP_TIMEOUT_S)
        except psutil.NoSuchProcess:
            pass


@contextmanager
def kimina_server(
    python: Path,
    work: Path,
    *,
    max_repls: int = 2,
    api_key: str | None = None,
    max_wait_s: int = 3600,
) -> Iterator[KiminaServer]:
    """A kimina server on 127.0.0.1 over the stand-in REPL, stopped by pid on exit."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(work, port, max_repls=max_repls, api_key=api_key, max_wait_s=max_wait_s)
    log = work / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(python), "-m", "server"],
            cwd=work,  # the server reads ./.env: none here
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = KiminaServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_ready(server)
        yield server
    finally:
        stop_server(server)
