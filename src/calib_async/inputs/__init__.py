"""Boundary validation: every value from a flag, YAML file, corpus, label file or log record.

Pure functions that either return the value (sometimes normalised) or raise one
:class:`~calib_async.errors.CalibError` whose message is one line that names where the value came
from and what to do. Each takes ``error=`` to raise a subclass instead (``ConfigError`` ...).
Nothing here prints, and nothing opens a file before :func:`os.stat` has shown it is regular.

Modules: :mod:`.values` (numbers, text, names, placeholders), :mod:`.files` (stat before open,
distinct outputs), :mod:`.regex` (RE2), :mod:`.jsonl` (bounded JSON lines), :mod:`.yaml_doc`
(bounded YAML). They import only the standard library, yaml, re2, orjson and
:mod:`calib_async.errors`, so any layer may use them.

Decisions, with reasons:

- **YAML** (:func:`load_yaml_text`) is read as JSON values only: mappings with text keys, lists,
  text, integers that fit 64 bits, finite floats, booleans and null. Dates, sets, binary,
  ordered maps and unknown tags are refused with the line and key path, because the log, the
  fingerprint and the export are JSON. Merge keys (``<<: *base``) work. Aliases are capped at
  ``max_aliases`` uses in the text and the expanded document at ``max_nodes`` values, so an alias
  bomb stops after ``max_nodes`` steps instead of expanding 10^9 values; an alias that contains
  itself is refused. Each alias expands to a fresh copy, so nothing downstream shares state.
- **Integers** must fit the kernel type they end up in (:data:`INT64_MAX`, :data:`INT32_MAX`,
  exit statuses 0..255): a value that does not fit is refused here, not as an ``OverflowError``
  deep in ``setrlimit`` or ``orjson``.
- **Non-UTF-8 file names are refused** (:func:`safe_path_name`) rather than recorded with
  surrogateescape. A name travels into the JSON log, the YAML export and Lean's module name;
  orjson and YAML cannot hold a lone surrogate, a byte-safe encoding would make ``item_id``
  differ from the file name everywhere, and Lean cannot import such a module anyway. The one
  line shows the raw bytes and says to rename the file.
- **User regexes use RE2** (:func:`compile_user_regex`): matching is linear in the text, so no
  pattern can hang the run (Python's ``re`` takes 2^n steps on ``(a+)+$``). The price: RE2 has no
  backreferences, lookaround, possessive or atomic groups, and spells end-of-text ``\\z``
  (Python's ``\\Z``). ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only and ``$`` matches only at
  the very end (without ``(?m)``), where Python's also match before a final newline.
- **JSON lines** (:func:`parse_json_line`) go through orjson, which refuses lone surrogates,
  invalid UTF-8, ``NaN`` and ``Infinity`` and stops at depth 1024 without recursion; we then
  check a lower depth iteratively, because Python code that walks a value 1000 deep recurses out.
  orjson reads an integer outside -2^63..2^64-1 as a float (precision lost): ids should be text.
"""

from __future__ import annotations

from calib_async.inputs.files import (
    check_distinct_paths,
    open_regular_file,
    output_file_target,
    regular_file,
)
from calib_async.inputs.jsonl import JSON_MAX_DEPTH, parse_json_line
from calib_async.inputs.regex import UserRegex, compile_user_regex
from calib_async.inputs.values import (
    EXIT_STATUS_MAX,
    INT32_MAX,
    INT64_MAX,
    Err,
    check_placeholders,
    describe,
    exit_status,
    finite_float,
    kernel_int,
    no_nul,
    safe_path_name,
    writable_text,
)
from calib_async.inputs.yaml_doc import load_yaml_text

__all__ = [
    "EXIT_STATUS_MAX",
    "INT32_MAX",
    "INT64_MAX",
    "JSON_MAX_DEPTH",
    "Err",
    "UserRegex",
    "check_distinct_paths",
    "check_placeholders",
    "compile_user_regex",
    "describe",
    "exit_status",
    "finite_float",
    "kernel_int",
    "load_yaml_text",
    "no_nul",
    "open_regular_file",
    "output_file_target",
    "parse_json_line",
    "regular_file",
    "safe_path_name",
    "writable_text",
]
