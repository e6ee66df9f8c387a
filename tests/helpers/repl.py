"""The stand-in Lean REPL (tests/fixtures/repl/standin_repl.py) and a tiny blocking client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

STANDIN = Path(__file__).resolve().parent.parent / "fixtures" / "repl" / "standin_repl.py"


def standin_argv(*extra: str) -> list[str]:
    """argv that starts one stand-in REPL with this interpreter."""
    return [sys.executable, str(STANDIN), *extra]


class BlockingRepl:
    """One stand-in process driven synchronously (tests of the protocol itself)."""

    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            standin_argv(*extra),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def send_raw(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def send(self, request: dict[str, Any]) -> None:
        self.send_raw(json.dumps(request) + "\n\n")

    def reply_text(self) -> str:
        """The lines of one reply up to (not including) its blank line; '' at end of output."""
        assert self.proc.stdout is not None
        lines: list[str] = []
        while True:
            line = self.proc.stdout.readline()
            if not line or (not line.strip() and lines):
                return "".join(lines)
            if line.strip():
                lines.append(line)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(request)
        text = self.reply_text()
        reply: dict[str, Any] = json.loads(text)
        return reply

    def close(self) -> int:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode

    def __enter__(self) -> BlockingRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.close()


# ---------------------------------------------------------------------------------------------
# Builders for the lean_repl checker over the stand-in


def repl_profile(name: str = "repl", *extra: str, **options: Any) -> Any:
    """A ``lean_repl`` profile running the stand-in (``extra``: its command-line options)."""
    from calib_async.profiles import VerifierConfig

    options.setdefault("header", "import Mathlib")
    return VerifierConfig(
        name=name, kind="lean_repl", command=tuple(standin_argv(*extra)), options=options
    )


def lean_item(directory: Path, name: str, text: str) -> Any:
    """A corpus item whose file holds ``text``."""
    import hashlib

    from calib_async.records import CorpusItem

    path = directory / f"{name}.lean"
    path.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return CorpusItem(item_id=name, module_name=name, path=str(path), content_hash=digest)


def repl_task(
    item: Any, *, timeout_s: float = 20.0, memory_limit_mb: int | None = None, **options: Any
) -> Any:
    """A task at a tier of the ``repl`` profile."""
    from calib_async.records import Task, Tier

    tier = Tier(
        name="T",
        timeout_s=timeout_s,
        verifier="repl",
        memory_limit_mb=memory_limit_mb,
        options=options,
    )
    return Task(item=item, tier=tier, verifier="repl")


def open_repl(config: Any, tmp: Path) -> Any:
    """The checker for ``config`` (close it with ``await checker.aclose()``)."""
    from calib_async.backends.local import LocalBackend
    from calib_async.checkers.api import OpenContext
    from calib_async.checkers.lean_repl import KIND

    ctx = OpenContext(work_dir=tmp, backend=LocalBackend(), sample_interval_s=0.05)
    return KIND.open(config, ctx)
