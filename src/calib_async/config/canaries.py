"""Generic canary classes declared in a command profile's YAML (``verifiers.<name>.canaries``).

A canary is an invalid variant of a corpus item, made by a known exploit (see
:mod:`calib_async.corpus.canaries`). A profile declares its own exploit classes as a list::

    canaries:
      - {name: admitted, find: 'Qed\\.', replace: 'Admitted.', count: all}   # regex rewrite
      - {name: cheat_axiom, append: "Axiom cheat : False.\\n"}               # text appended
      - {name: header, prepend: "(* generated *)\\n"}                       # text prepended

``find`` is an RE2 regex (linear-time; see :mod:`calib_async.inputs.regex`); ``replace`` may
use ``\\1``..``\\9`` for its groups; ``count`` is ``first`` (default) or ``all``. A rewrite
whose ``find`` does not match an item is *not applicable* to it (counted, not run).
"""

from __future__ import annotations

import re
from typing import Any

from calib_async.errors import ConfigError
from calib_async.inputs.regex import compile_user_regex
from calib_async.profiles import BUILTIN_CANARY_CLASSES, GenericCanary

CANARY_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_KEYS = {"name", "find", "replace", "count", "append", "prepend"}
_GROUP_REF_RE = re.compile(r"\\(\d)")


def parse_canaries(raw: Any, where: str) -> tuple[GenericCanary, ...]:
    """The ``canaries`` list of a profile, validated (one-line ConfigError otherwise)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'canaries' must be a list of {{name, find, replace}} entries")
    out: list[GenericCanary] = []
    for index, entry in enumerate(raw):
        spec = _parse_one(entry, f"{where} canary {index + 1}")
        if spec.name in {c.name for c in out}:
            raise ConfigError(f"{where}: canary name {spec.name!r} is used twice")
        out.append(spec)
    return tuple(out)


def _parse_one(entry: Any, where: str) -> GenericCanary:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping like {{name: x, find: re, replace: text}}")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not CANARY_NAME_RE.match(name):
        raise ConfigError(
            f"{where}: 'name' must be a letter then letters, digits or _ (at most 40), not {name!r}"
        )
    if name in BUILTIN_CANARY_CLASSES:
        raise ConfigError(f"{where}: {name!r} is a built-in canary class; choose another name")
    kinds = [k for k in ("find", "append", "prepend") if k in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where} ({name}): give exactly one of 'find', 'append', 'prepend'")
    for key in ("replace", "append", "prepend"):
        if key in entry and not isinstance(entry[key], str):
            raise ConfigError(f"{where} ({name}): {key!r} must be a string")
    if kinds[0] != "find":
        if "replace" in entry or "count" in entry:
            raise ConfigError(f"{where} ({name}): 'replace' and 'count' go with 'find' only")
        return GenericCanary(name=name, append=entry.get("append"), prepend=entry.get("prepend"))
    find = compile_user_regex(entry["find"], f"{where} ({name}): find", error=ConfigError)
    if "replace" not in entry:
        raise ConfigError(f"{where} ({name}): 'find' needs 'replace' (the replacement text)")
    replace = entry["replace"]
    groups = find.compiled.groups
    bad = sorted({int(g) for g in _GROUP_REF_RE.findall(replace) if int(g) > groups})
    if bad:
        raise ConfigError(
            f"{where} ({name}): replace refers to group \\{bad[0]} but find has {groups} group(s)"
        )
    count = entry.get("count", "first")
    if count not in ("first", "all"):
        raise ConfigError(f"{where} ({name}): count must be 'first' or 'all', not {count!r}")
    return GenericCanary(name=name, find=find, replace=replace, count=count)
