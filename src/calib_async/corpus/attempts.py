"""Proof attempts in JSONL, as theorem-proving models emit them (DeepSeek-Prover, Kimina).

One JSON object per line, either ``{"id": ..., "code": ...}`` or ``{"id": ..., "header": ...,
"formal_statement" | "statement": ..., "proof" | "formal_proof": ...}``; ``custom_id`` or
``name`` stand in for a missing ``id``. The file's text becomes one Lean file per attempt: the
header, the statement, then the proof (a space is inserted where they would otherwise run
together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from calib_async.errors import CorpusError
from calib_async.inputs import parse_json_line, writable_text

ID_KEYS = ("id", "custom_id", "name")
STATEMENT_KEYS = ("formal_statement", "statement")
PROOF_KEYS = ("proof", "formal_proof")


@dataclass(frozen=True, slots=True)
class ProofAttempt:
    """One attempt: its id as written in the file, its Lean source, and its line number."""

    raw_id: str
    code: str
    line: int
    formal_statement: str | None = None  # the intended statement, when the line gives one


def _field(obj: dict[str, object], keys: Sequence[str], where: str) -> str | None:
    for key in keys:
        if obj.get(key) is not None:
            value = obj[key]
            if not isinstance(value, str):
                raise CorpusError(f"{where}: {key!r} must be a string")
            return value
    return None


def attempt_code(obj: dict[str, object], where: str = "attempt") -> str:
    """The Lean source of one attempt object (``where`` prefixes error messages)."""
    code = _field(obj, ("code",), where)
    if code is not None:
        return code
    statement = _field(obj, STATEMENT_KEYS, where)
    proof = _field(obj, PROOF_KEYS, where)
    if statement is None or proof is None:
        raise CorpusError(
            f"{where}: needs 'code', or 'formal_statement' (or 'statement') with 'proof' "
            "(or 'formal_proof')"
        )
    text = _field(obj, ("header",), where) or ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += statement
    if statement and proof and not statement[-1].isspace() and not proof[0].isspace():
        text += " "
    return text + proof


def parse_attempts(text: str, source: str) -> list[ProofAttempt]:
    """Every attempt in a JSONL text, validated; ``source`` names the file in errors.

    Blank lines are skipped. Raises CorpusError (one line, ``FILE:LINE: ...``) for a malformed
    line (lone surrogates and nesting deeper than 64 included), a missing or non-scalar id, a
    duplicate id, or missing code.
    """
    first_line: dict[str, int] = {}
    attempts = []
    text = text.removeprefix("\ufeff")  # a BOM (Windows editors) is not JSON
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{lineno}"
        if not line.strip():
            continue
        obj = parse_json_line(line.encode("utf-8", "surrogatepass"), where, error=CorpusError)
        if not isinstance(obj, dict):
            raise CorpusError(f'{where}: expected a JSON object like {{"id": ..., "code": ...}}')
        raw_id = next((obj[k] for k in ID_KEYS if obj.get(k) is not None), None)
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
            raise CorpusError(f"{where}: needs a string or integer 'id'")
        raw = writable_text(str(raw_id), f"{where}: id", error=CorpusError)
        if raw in first_line:
            raise CorpusError(
                f"{where}: duplicate id {raw!r} (first at line {first_line[raw]}); "
                "give each attempt a unique id"
            )
        first_line[raw] = lineno
        code = writable_text(attempt_code(obj, where), f"{where}: code", error=CorpusError)
        attempts.append(
            ProofAttempt(
                raw_id=raw,
                code=code,
                line=lineno,
                formal_statement=_field(obj, STATEMENT_KEYS, where),
            )
        )
    return attempts
