"""The fingerprint of a run: what a resumed run must match, and what differs when it does not.

A fingerprint is a canonical (see :mod:`calib_async.checkpoint.canonical`) dict::

    {"corpus": {"count": 3, "digest": "<sha256>", "items": {"<item_id>": "<content_hash>", ...}},
     "tiers": {"FAST": Tier.identity(), ...},
     "verifiers": {"simulated": VerifierConfig.identity(), ...},
     "seed": 12345, "n": 100, "label_sample": 50, "tool_version": "0.1.0", "extra": {...}}

The corpus is kept item by item (not only as a digest) so that a refusal can say what changed
("corpus differs: 3 items added, 2 changed"). For 100,000 items that is a header of about 12 MB,
which orjson reads in a few tens of milliseconds. Tier order does not matter (``--tiers FAST SLOW``
and ``--tiers SLOW FAST`` are the same run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from calib_async.checkpoint.canonical import canonicalize
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Tier

#: Top-level scalar keys and how diff messages name them (after the CLI flags that set them).
_FLAGS = {
    "seed": "--seed",
    "n": "--n",
    "label_sample": "--label-sample",
    "tool_version": "tool version",
}
_ABSENT = object()
_MAX_VALUE_CHARS = 80
_MAX_EXAMPLES = 3


def make_fingerprint(
    *,
    items: Sequence[CorpusItem],
    tiers: Mapping[str, Tier],
    verifiers: Mapping[str, VerifierConfig],
    seed: int,
    n: int,
    label_sample: int | None = None,
    tool_version: str,
    extra: Mapping[str, Any] | None = None,
    labelling: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The canonical fingerprint of a run (see the module docstring).

    ``verifiers`` should hold every profile the run uses (the tiers' and the consensus ones);
    ``extra`` holds anything else a resume must match (e.g. ``--corpus``); ``labelling``
    the labelling-defining settings (see :mod:`calib_async.checkpoint.fingerprint_parts`;
    when given, ``label_sample`` belongs there and is left out of the top level).
    Raises ValueError when a tier names a verifier profile that is not in ``verifiers``.
    """
    corpus: dict[str, str] = {}
    for item in items:
        corpus[item.item_id] = item.content_hash
    digest = hashlib.sha256()
    for item_id in sorted(corpus):
        digest.update(f"{item_id}\0{corpus[item_id]}\n".encode())
    for tier in tiers.values():
        if tier.verifier not in verifiers:
            raise ValueError(f"tier {tier.name} uses verifier {tier.verifier!r}, not given")
    fp: dict[str, Any] = {
        "corpus": {"count": len(corpus), "digest": digest.hexdigest(), "items": corpus},
        "tiers": {name: tier.identity() for name, tier in tiers.items()},
        "verifiers": {name: v.identity() for name, v in verifiers.items()},
        "seed": seed,
        "n": n,
        "tool_version": tool_version,
        "extra": dict(extra or {}),
    }
    if labelling is not None:
        fp["labelling"] = dict(labelling)
    else:
        fp["label_sample"] = label_sample
    return canonicalize(fp)


def diff_fingerprints(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two fingerprints; empty when they match.

    Both sides are canonicalized first, so a fingerprint read back from a log compares equal
    to the one it was made from. Messages name the flag where there is one::

        corpus differs: 3 items added, 2 changed (e.g. changed: Foo.bar, Foo.baz)
        --tiers: ['FAST'] -> ['FAST', 'SLOW']
        tier FAST: timeout_s: 0.5 -> 1.0
        verifier simulated: options.precision: 'fast' -> 'exact'
        --seed: 1 -> 2
    """
    a, b = canonicalize(old), canonicalize(new)
    out: list[str] = []
    if a.get("corpus") != b.get("corpus"):
        out.append(_corpus_diff(a.get("corpus"), b.get("corpus")))
    out += _named_diff("--tiers", "tier", a.get("tiers"), b.get("tiers"))
    out += _named_diff("verifier profiles", "verifier", a.get("verifiers"), b.get("verifiers"))
    for key, flag in _FLAGS.items():
        if a.get(key, _ABSENT) != b.get(key, _ABSENT):
            out.append(f"{flag}: {_show(a.get(key, _ABSENT))} -> {_show(b.get(key, _ABSENT))}")
    out += [f"extra {d}" for d in _value_diff(a.get("extra", {}), b.get("extra", {}), "")]
    known = {"corpus", "tiers", "verifiers", "extra", "labelling", *_FLAGS}
    for key in sorted((set(a) | set(b)) - known):
        out += _value_diff(a.get(key, _ABSENT), b.get(key, _ABSENT), key)
    return out


def _corpus_diff(old: Any, new: Any) -> str:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return "corpus differs"
    a, b = old.get("items"), new.get("items")
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return f"corpus differs: {old.get('count')} -> {new.get('count')} items"
    added = sorted(set(b) - set(a))
    removed = sorted(set(a) - set(b))
    changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    parts, examples = [], []
    for label, keys in (("added", added), ("removed", removed), ("changed", changed)):
        if keys:
            parts.append(f"{len(keys)} item{'s' if len(keys) != 1 else ''} {label}")
            examples.append(f"{label}: {', '.join(keys[:_MAX_EXAMPLES])}")
    if not parts:  # same items, other count/digest: a hand-edited header
        return "corpus differs: count or digest does not match its items"
    return f"corpus differs: {', '.join(parts)} (e.g. {'; '.join(examples)})"


def _named_diff(flag: str, label: str, old: Any, new: Any) -> list[str]:
    """Diff two ``{name: identity}`` maps: the set of names first, then each common entry."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [f"{flag}: {_show(old)} -> {_show(new)}"]
    out = []
    if sorted(old) != sorted(new):
        out.append(f"{flag}: {sorted(old)} -> {sorted(new)}")
    for name in sorted(set(old) & set(new)):
        out += [f"{label} {name}: {d}" for d in _value_diff(old[name], new[name], "")]
    return out


def _value_diff(old: Any, new: Any, path: str) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            out += _value_diff(old.get(key, _ABSENT), new.get(key, _ABSENT), sub)
        return out
    return [f"{path or 'value'}: {_show(old)} -> {_show(new)}"]


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text
