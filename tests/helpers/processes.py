"""Processes a test left behind: the children of this process that outlive a bound."""

from __future__ import annotations

from collections.abc import Iterable

import psutil


def leftover_children(
    baseline: Iterable[psutil.Process] = (), *, timeout_s: float = 10.0
) -> list[str]:
    """Command lines of this process's descendants, other than ``baseline``, still alive after
    ``timeout_s`` (empty when none).

    Waiting (and reaping) rather than looking once: a child that is already exiting, such as a
    previous run's leftover watcher finishing its last pass under load, is not a leak; a checker
    left running (every test's checker sleeps far longer than the bound) still is.
    """
    known = {p.pid for p in baseline}
    new = [p for p in psutil.Process().children(recursive=True) if p.pid not in known]
    _, alive = psutil.wait_procs(new, timeout=timeout_s)
    out = []
    for p in alive:
        try:
            out.append(" ".join(p.cmdline()) or p.name())
        except psutil.Error:
            continue  # gone between the wait and the look
    return out
