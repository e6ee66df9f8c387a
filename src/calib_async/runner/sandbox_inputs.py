"""The input's directory inside the sandbox: writable, private to the run, gone after it.

Checkers such as ``coqc`` write build products next to their input (``X.glob``, ``X.vo``).
Outside the sandbox that works; inside, the file system is read-only, and the run would fail
for a reason that has nothing to do with the proof ("Read-only file system"), changing its
verdict. So the item's directory is covered with a fresh tmpfs (of the tier's file size
limit), and the files the run reads are bound into it read-only at their own paths: the item
itself, every other needed path there, and, unless the directory is hidden (it lies in the
output directory, where other attempts must stay unseen), its other entries, up to
:data:`MAX_SIBLINGS` of them (imports of a sibling file keep working). What the checker writes
there is private to the run and vanishes when the run ends: the corpus is never written.

bwrap 0.8 has no overlay mounts; with a newer bwrap an overlay would keep every sibling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

#: The most entries of the input's directory re-exposed inside its private copy.
MAX_SIBLINGS = 512


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def private_input_dir(
    item_path: str,
    needed: Sequence[str],
    *,
    hidden: Sequence[str],
    keep: Sequence[str],
    size: Sequence[str],
    workdir: str | None,
) -> list[str]:
    """bwrap flags that make the item's directory writable and private (see the module).

    ``hidden``: directories the sandbox hides (no sibling of the item there is shown);
    ``keep``: paths whose directory must not be covered (Python's prefix, /tmp, /run);
    ``size``: the ``--size`` flags of the tmpfs. Returns no flags when the directory cannot be
    covered safely (the root, a directory that holds ``keep`` or the workdir).
    """
    directory = os.path.dirname(os.path.realpath(item_path))
    if directory == "/" or not os.path.isdir(directory):
        return []
    if workdir is not None and _inside(workdir, directory):
        return []
    if any(_inside(k, directory) for k in keep):
        return []
    flags = [*size, "--tmpfs", directory]
    shown: list[str] = []
    if not any(_inside(directory, d) for d in hidden):
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if len(shown) >= MAX_SIBLINGS:
                        break
                    path = entry.path
                    if os.path.exists(path) and not any(_inside(d, path) for d in hidden):
                        shown.append(path)  # dangling links would fail bwrap; hidden stay so
        except OSError:
            pass
    shown += [p for p in needed if _inside(p, directory) and p != directory and p not in shown]
    for path in shown:
        flags += ["--ro-bind", path, path]
    return flags
