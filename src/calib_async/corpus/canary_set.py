"""The run's canaries: which classes, which source items (seeded), and the files written.

Canaries are new files under ``<output-dir>/canaries/<class>/<item id>/<file name>`` (the
source's file name is kept, since some checkers, coqc for one, tie module names to it); the
user's corpus is only read. Writing is idempotent: the same sources and classes give the same
bytes, hence the same content hashes and task keys, so a resumed run replays its canaries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from calib_async.checkers.registry import kind_for
from calib_async.corpus.canaries import LEAN_CLASSES, generic_canary, lean_canary
from calib_async.errors import CalibError
from calib_async.profiles import GenericCanary, VerifierConfig
from calib_async.records import CorpusItem

CANARY_DIR = "canaries"


@dataclass(frozen=True, slots=True)
class CanaryClass:
    """An exploit class: built in (Lean) when ``generic`` is None, else profile-declared."""

    name: str
    generic: GenericCanary | None = None

    def rewrite(self, source: str) -> str | None:
        """The canary text made from ``source``, or None when the class does not apply."""
        if self.generic is None:
            return lean_canary(self.name, source)
        return generic_canary(self.generic, source)


@dataclass(frozen=True, slots=True)
class Canary:
    """One canary file, as a corpus item, with its class and the item it was made from."""

    item: CorpusItem
    exploit: str
    source_id: str


@dataclass(frozen=True, slots=True)
class CanarySet:
    """Everything stage 2's canary phase runs, and what it could not make."""

    classes: tuple[str, ...]
    canaries: tuple[Canary, ...]
    not_applicable: dict[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # ids of the items drawn
    eligible: int = 0  # items the draw could choose from


def resolve_classes(
    requested: Sequence[str], profiles: Iterable[VerifierConfig]
) -> list[CanaryClass]:
    """The classes named by ``--canaries`` (``["all"]`` for every available one).

    Available: the built-in (Lean) classes that a profile's kind declares
    (:attr:`~calib_async.checkers.api.CheckerKind.canary_classes`: ``lean`` and ``simulated``
    declare them all), plus the classes every profile declares. Raises CalibError for an
    unknown or ambiguous name.
    """
    profiles = list(profiles)
    generic: dict[str, GenericCanary] = {}
    for profile in profiles:
        for spec in profile.canaries:
            if spec.name in generic and generic[spec.name] != spec:
                raise CalibError(
                    f"canary class {spec.name!r} is declared differently by two profiles; "
                    "rename one in --config"
                )
            generic[spec.name] = spec
    declared = {c for p in profiles for c in kind_for(p.kind).canary_classes}
    builtin = [c for c in LEAN_CLASSES if c in declared]
    available = [CanaryClass(c) for c in builtin] + [CanaryClass(n, g) for n, g in generic.items()]
    if list(requested) == ["all"]:
        if not available:
            raise CalibError(
                "--canaries all: no class is available; the tiers' profiles are not Lean and "
                "declare no 'canaries' (see README, Canaries)"
            )
        return available
    by_name = {c.name: c for c in available}
    every = set(LEAN_CLASSES) | set(generic)
    out: list[CanaryClass] = []
    for name in requested:
        if name not in by_name:
            hint = " (a Lean class, but no tier uses a Lean profile)" if name in every else ""
            raise CalibError(
                f"--canaries: unknown class {name!r}{hint}; available: "
                f"{', '.join(by_name) or 'none'}"
            )
        if by_name[name] not in out:
            out.append(by_name[name])
    return out


def draw_sources(
    items: Sequence[CorpusItem], eligible_ids: set[str], *, n: int, seed: int
) -> list[CorpusItem]:
    """Up to ``n`` items among the eligible ones, drawn with ``seed`` (sorted by id)."""
    pool = sorted((i for i in items if i.item_id in eligible_ids), key=lambda i: i.item_id)
    if len(pool) > n:
        pool = sorted(
            random.Random(f"calib-async-canaries-{seed}").sample(pool, n), key=lambda i: i.item_id
        )
    return pool


def write_canaries(
    sources: Sequence[CorpusItem], classes: Sequence[CanaryClass], out_dir: Path, *, eligible: int
) -> CanarySet:
    """Write one canary per (source, applicable class) under ``out_dir/canaries``.

    Blocking (file I/O). A source that cannot be read as UTF-8 counts as not applicable.
    """
    root = out_dir.resolve() / CANARY_DIR
    canaries: list[Canary] = []
    not_applicable = {c.name: 0 for c in classes}
    for source in sources:
        try:
            text = Path(source.path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
        for cls in classes:
            canary = cls.rewrite(text) if text is not None else None
            if canary is None:
                not_applicable[cls.name] += 1
                continue
            target = root / cls.name / source.item_id / Path(source.path).name
            if root not in target.parents:  # ids are file-name safe; a last line of defence
                raise CalibError(f"canary path {target} would leave {root}")
            data = canary.encode("utf-8")
            try:
                write_no_follow(
                    out_dir.resolve(), (CANARY_DIR, cls.name, source.item_id), target.name, data
                )
            except OSError as exc:
                raise CalibError(
                    f"cannot write canary {target}: {exc.strerror or exc}; free space or "
                    "choose another --output-dir"
                ) from None
            item = CorpusItem(
                item_id=f"{source.item_id}.canary-{cls.name}",
                module_name=source.module_name,
                path=str(target),
                content_hash=hashlib.sha256(data).hexdigest(),
                formal_statement=source.formal_statement,
            )
            canaries.append(Canary(item=item, exploit=cls.name, source_id=source.item_id))
    return CanarySet(
        classes=tuple(c.name for c in classes),
        canaries=tuple(canaries),
        not_applicable=not_applicable,
        sources=tuple(s.item_id for s in sources),
        eligible=eligible,
    )


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def write_no_follow(base: Path, dirs: Sequence[str], name: str, data: bytes) -> None:
    """Write ``base/dirs.../name`` without following a symlink anywhere below ``base``.

    Each directory is created if missing and opened with O_NOFOLLOW (a symlink planted in the
    output directory, pointing into the corpus, is refused in one line); the file is written to
    a temporary name and renamed over ``name``, which replaces a symlink there instead of
    writing through it. An unchanged file is left alone (idempotent, as before).
    """
    base.mkdir(parents=True, exist_ok=True)  # the output dir itself is the user's to place
    fd = os.open(base, _DIR_FLAGS)
    try:
        for part in dirs:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise CalibError(
                    f"{base / CANARY_DIR} holds {part!r} that is not a plain directory "
                    f"({exc.strerror}; a symlink?); remove {base / CANARY_DIR} and rerun"
                ) from None
            os.close(fd)
            fd = child
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_size == len(data):
                current = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                with os.fdopen(current, "rb") as fh:
                    if fh.read() == data:
                        return
        except FileNotFoundError:
            pass
        tmp = f".{name}.{os.getpid()}.tmp"
        out = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=fd,
        )
        try:
            with os.fdopen(out, "wb") as fh:
                fh.write(data)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise
    finally:
        os.close(fd)
