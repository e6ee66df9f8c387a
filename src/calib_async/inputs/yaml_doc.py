"""YAML read as JSON values, with duplicate keys, aliases, depth and size bounded.

PyYAML's ``safe_load`` keeps the last of two equal keys, builds dates and sets, and lets a few
lines of aliases stand for 10^9 values (shared, so the load is quick, but the first thing that
walks the result hangs). Here the pure-Python ``SafeLoader`` composes the node graph, counting
alias uses and nesting as it goes (its composer recurses once per level), and
:func:`load_yaml_text` then builds plain values from the nodes itself: each alias expands to a
copy, the copies are counted, and every node is checked against the JSON types.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from calib_async.errors import CalibError, ConfigError
from calib_async.inputs.values import Err, describe, no_nul, writable_text

MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
_REFUSED = {  # YAML types with no JSON spelling, and what to write instead
    _TAG + "timestamp": "a date/time; quote it to make it text",
    _TAG + "binary": "binary data; use text",
    _TAG + "set": "a set; use a list",
    _TAG + "omap": "an ordered map; use a mapping",
    _TAG + "pairs": "a list of pairs; use a mapping",
    _TAG + "merge": "a merge key '<<' used as a value; use it as a key",
}
_KEY_KINDS = {_TAG + "int": "an integer", _TAG + "float": "a number", _TAG + "bool": "a boolean"}
_INT_RANGE = (-(2**63), 2**64 - 1)  # what the canonical JSON log holds


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer counts alias uses and nesting depth, and stops at the bounds."""

    def __init__(self, text: str, *, source: str, error: Err, max_aliases: int, max_depth: int):
        super().__init__(text)
        self._source, self._error = source, error
        self._aliases_left, self._max_depth, self._depth = max_aliases, max_depth, 0
        self._max_aliases = max_aliases

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._aliases_left -= 1
            if self._aliases_left < 0:
                raise self._error(
                    f"{self._source}:{line}: more than {self._max_aliases} alias uses "
                    f"(*{event.anchor}); write the values out or use fewer aliases"
                )
            return super().compose_node(parent, index)
        if isinstance(event, yaml.ScalarEvent):
            return super().compose_node(parent, index)
        self._depth += 1  # containers open around this one, as the builder counts them
        try:
            if self._depth > self._max_depth:
                raise self._error(
                    f"{self._source}:{line}: nested deeper than {self._max_depth} levels; "
                    "flatten the document"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml_text(
    text: str,
    *,
    source: str,
    max_aliases: int = MAX_ALIASES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    error: Err = ConfigError,
    number_keys: bool = False,
) -> Any:
    """The one YAML document in ``text`` as JSON values (dict, list, str, int, float, bool, None).

    ``source`` names the file in messages (``cfg.yaml:7: ...``). Refused, with the line and key
    path: invalid YAML; more than one document; a duplicate key (naming the first line); a key
    that is not text; a date, set, binary, ordered map or unknown tag; an integer outside 64 bits;
    NaN or ±inf; text with a NUL or a lone surrogate; more than ``max_aliases`` alias uses; an
    alias that contains itself; nesting deeper than ``max_depth``; and a document that expands
    (through aliases) to more than ``max_nodes`` values. An empty document is ``None``.
    ``number_keys`` accepts integer and float keys (an export's ``timeout_for_rate``).
    """
    writable_text(text, source, error=error)
    loader = None
    try:
        loader = _Loader(
            text, source=source, error=error, max_aliases=max_aliases, max_depth=max_depth
        )
        root = loader.get_single_node()
        if root is None:
            return None
        builder = _Builder(loader, source, error, max_depth, max_nodes)
        builder.number_keys = number_keys
        return builder.build(root, "")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        parts = (exc.context, exc.problem)
        problem = " ".join(" ".join(str(p) for p in parts if p).split()) or "invalid YAML"
        raise error(f"{where}: not valid YAML ({problem}); fix its syntax") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, controls)
        raise error(
            f"{source}: character U+{exc.character:04X} at position {exc.position} is not allowed "
            "in YAML; remove it or write it as an escape in a double-quoted string"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Builder:
    """Builds plain values from composed nodes, expanding each alias to a counted copy."""

    def __init__(self, loader: _Loader, source: str, error: Err, max_depth: int, max_nodes: int):
        self.loader, self.source, self.error = loader, source, error
        self.max_depth, self.nodes_left, self.max_nodes = max_depth, max_nodes, max_nodes
        self.active: set[int] = set()  # ids of the nodes being built: an alias cycle revisits one
        self.number_keys = False

    def fail(self, node: Node, path: str, what: str) -> CalibError:
        at = f" at {path}" if path else ""
        return self.error(f"{self.source}:{node.start_mark.line + 1}{at}: {what}")

    def build(self, node: Node, path: str) -> Any:
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise self.error(
                f"{self.source}: expands to more than {self.max_nodes} values through aliases; "
                "use fewer aliases"
            )
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            raise self.fail(node, path, "an alias refers to a value that contains it")
        if len(self.active) >= self.max_depth:
            raise self.fail(node, path, f"nested deeper than {self.max_depth} levels (aliases)")
        self.active.add(id(node))
        try:
            if node.tag in _REFUSED:
                raise self.fail(node, path, f"{_REFUSED[node.tag]}")
            if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
                return [self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode) and node.tag == _TAG + "map":
                return self.mapping(node, path)
            raise self.fail(node, path, f"unsupported tag {describe(node.tag)}; remove it")
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode, path: str) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            where = f"{self.source}:{node.start_mark.line + 1}" + (f" at {path}" if path else "")
            return no_nul(
                writable_text(node.value, where, error=self.error), where, error=self.error
            )
        if tag in _REFUSED:
            raise self.fail(node, path, _REFUSED[tag])
        constructors = {
            _TAG + "null": self.loader.construct_yaml_null,
            _TAG + "bool": self.loader.construct_yaml_bool,
            _TAG + "int": self.loader.construct_yaml_int,
            _TAG + "float": self.loader.construct_yaml_float,
        }
        if tag not in constructors:
            raise self.fail(node, path, f"unsupported tag {describe(tag)}; remove it")
        try:
            value = constructors[tag](node)
        except ValueError:  # e.g. `!!int x`, or more digits than int() reads
            raise self.fail(
                node, path, f"{describe(node.value)} is not a valid {tag[len(_TAG) :]}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(node, path, f"{node.value} is not a finite number; JSON cannot hold it")
        if isinstance(value, int) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise self.fail(node, path, f"{describe(value)} does not fit in 64 bits")
        return value

    def mapping(self, node: MappingNode, path: str) -> dict[Any, Any]:
        own: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:  # the first source wins, as in YAML's merge key
                    value = self.build(source, f"{path}.<<" if path else "<<")
                    if not isinstance(value, dict):
                        raise self.fail(source, path, "'<<' must merge a mapping or a list of them")
                    for k, v in value.items():
                        merged.setdefault(k, v)
                continue
            key = self.key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise self.fail(
                    key_node,
                    path,
                    f"duplicate key {describe(key)} (first at line {first_line[key]}); keep one",
                )
            first_line[key] = line
            own[key] = self.build(value_node, f"{path}.{key}" if path else str(key))
        return {**merged, **own}

    def key(self, node: Node, path: str) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, path, "a key must be text, not a list or mapping")
        if self.number_keys and node.tag in (_TAG + "int", _TAG + "float"):
            return self.scalar(node, path)
        if node.tag in _KEY_KINDS:
            raise self.fail(
                node,
                path,
                f"key {describe(node.value)} is read as {_KEY_KINDS[node.tag]}; "
                "quote it to make it text",
            )
        if node.tag != _TAG + "str":
            raise self.fail(node, path, f"key {describe(node.value)} must be text; quote it")
        value: str = self.scalar(node, path)
        return value
