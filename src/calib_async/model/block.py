"""The machinery every export block shares: typed fields read and written by their keys.

A block is a frozen dataclass whose fields carry ``metadata={"parse": ...}`` (see :func:`key`).
:meth:`Block.from_dict` checks every field's key with its parser and keeps the keys no field
holds in ``extra``; :meth:`Block.to_dict` writes them back in the order the file had them
(``key_order``), so a document read and written again is unchanged. A block built in code has
no ``key_order``: its fields are written in their declared order, ``None`` left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Self, TypeVar

from calib_async.model.values import at, mapping, ordered, present, rest

T = TypeVar("T")
B = TypeVar("B", bound="Block")

Parser = Callable[[Any, str], Any]


def key(parse: Parser, *, name: str | None = None, default: Any = None) -> Any:
    """A typed field read from key ``name`` (default: the field's name) by ``parse``."""
    return field(default=default, metadata={"parse": parse, "key": name})


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """Base of every block: the keys no field holds, and the order the file had its keys in."""

    #: keys of the file that no typed field holds (a newer writer's additions), kept as read
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the file's key order (empty for a block built in code); not part of equality
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def _fields(cls) -> tuple[tuple[str, str, Parser], ...]:
        return tuple(
            (f.name, f.metadata.get("key") or f.name, f.metadata["parse"])
            for f in fields(cls)
            if "parse" in f.metadata
        )

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Self:
        """Check ``raw`` (the mapping at path ``where``); CalibError names a bad key."""
        raw = mapping(raw, where)
        typed = cls._fields()
        values = {name: parse(raw.get(k), at(where, k)) for name, k, parse in typed}
        known = frozenset(k for _, k, _ in typed)
        instance = cls(extra=rest(raw, known), key_order=tuple(raw), **values)
        instance.check(where)
        return instance

    def check(self, where: str) -> None:
        """Checks across fields (a subclass raises CalibError); none by default."""

    def to_dict(self) -> dict[str, Any]:
        """The block as the YAML has it: plain types, lists for intervals."""
        out: dict[str, Any] = {}
        for name, k, _ in self._fields():
            present(out, k, plain(getattr(self, name)), self.key_order)
        out.update(self.extra)
        return ordered(out, self.key_order)


def plain(value: Any) -> Any:
    """A field's value as YAML writes it: blocks as mappings, tuples as lists."""
    if isinstance(value, Block):
        return value.to_dict()
    if isinstance(value, StrEnum):
        return value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def optional(cls: type[B]) -> Parser:
    """A parser for a nested block that may be absent."""

    def parse(value: Any, where: str) -> B | None:
        return None if value is None else cls.from_dict(value, where)

    return parse


def blocks(cls: type[B]) -> Parser:
    """A parser for a mapping name -> block (absent: None)."""

    def parse(value: Any, where: str) -> dict[str, B] | None:
        if value is None:
            return None
        return {str(k): cls.from_dict(v, at(where, k)) for k, v in mapping(value, where).items()}

    return parse


def anything(value: Any, where: str) -> Any:
    """A key whose value is kept as read (a block not typed yet)."""
    return value


def opaque_mapping(value: Any, where: str) -> Mapping[str, Any] | None:
    """A mapping kept as read (its inner keys are not typed yet)."""
    return None if value is None else mapping(value, where)
