"""The designs' checkpoint: one JSON line per finished measurement, appended and fsynced at once,
so that ``--resume`` after a kill (``kill -9`` included) repeats none of them and loses none."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Journal:
    """Measurements by (design, key); a torn last line (a kill mid-write) is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[tuple[str, str], Any] = {}
        if path.is_file():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):  # torn by a kill: drop the partial line
                data = data[: data.rfind(b"\n") + 1]
                with open(path, "r+b") as f:
                    f.truncate(len(data))
            for line in data.decode("utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    self.done[(row["design"], row["key"])] = row["value"]
                except (ValueError, KeyError, TypeError):
                    continue

    def get(self, design: str, key: str) -> Any:
        return self.done.get((design, key))

    def put(self, design: str, key: str, value: Any) -> None:
        self.done[(design, key)] = value
        line = json.dumps({"design": design, "key": key, "value": value}, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
