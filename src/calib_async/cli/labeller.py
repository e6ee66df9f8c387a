"""``calibrate_noise label --output-dir DIR``: label undetermined items by hand, interactively.

For each item the calibration left UNDETERMINED (``DIR/labels.json``) and not yet labelled
(``DIR/manual_labels.jsonl``), it shows the item, its outcome at every tier (from
``DIR/telemetry.jsonl``), the first error and the tail of the checker's output, and asks for
a verdict. Each answer is appended and fsynced at once, so the session can be interrupted
(q, Ctrl-D, Ctrl-C) and resumed. A resumed calibration merges DIR/manual_labels.jsonl (any
other file: ``--manual-labels FILE``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.table import Table
from rich.text import Text

from calib_async.cli.visible import visible, visible_line
from calib_async.errors import CalibError
from calib_async.labels.manual import ManualLabel, append_manual_label, load_manual_labels
from calib_async.records import Truth

log = structlog.get_logger(__name__)

TELEMETRY_NAME = "telemetry.jsonl"
LABELS_NAME = "labels.json"
MANUAL_NAME = "manual_labels.jsonl"
TAIL_LINES = 15
_ANSWERS = {
    "v": Truth.VERIFIED,
    "verified": Truth.VERIFIED,
    "i": Truth.INVALID,
    "invalid": Truth.INVALID,
    "s": "skip",
    "skip": "skip",
    "q": "quit",
    "quit": "quit",
}
PROMPT = "Label: [v]erified / [i]nvalid / [s]kip / [q]uit > "


def run_labeler(
    output_dir: Path,
    *,
    console: Console | None = None,
    input_fn: Callable[[str], str] | None = None,
    telemetry_log: Path | None = None,
    labels_file: Path | None = None,
) -> int:
    """Ask for a label for every undetermined, not yet labelled item; return how many were saved.

    ``telemetry_log`` defaults to ``output_dir/telemetry.jsonl`` and ``labels_file`` (where
    answers go) to ``output_dir/manual_labels.jsonl``. ``input_fn`` replaces the prompt (tests).
    """
    output_dir = Path(output_dir)
    console = console or Console(highlight=False)
    ask = input_fn or (lambda prompt: console.input(Text(prompt, style="bold")))
    telemetry_path = telemetry_log or output_dir / TELEMETRY_NAME
    labels_path = output_dir / LABELS_NAME
    manual_path = labels_file or output_dir / MANUAL_NAME
    for needed in (telemetry_path, labels_path):
        if not needed.is_file():
            raise CalibError(
                f"{needed} not found; run the calibration first "
                f"(calibrate_noise --output-dir {output_dir} ...)"
            )
    labels = _read_labels(labels_path)
    runs = _read_runs(telemetry_path)
    done = {m.item_id for m in load_manual_labels(manual_path)} if manual_path.exists() else set()
    undetermined = [i for i, e in labels.items() if e["truth"] == Truth.UNDETERMINED.value]
    todo = [i for i in undetermined if i not in done]
    if not todo:
        console.print(Text(_nothing_to_label(len(undetermined), manual_path)))
        return 0
    console.print(
        Text(
            f"{len(todo)} item(s) to label ({len(undetermined) - len(todo)} already labelled). "
            f"Answers are saved to {manual_path} as you go."
        )
    )
    saved = 0
    for index, item_id in enumerate(todo, start=1):
        _show(console, item_id, index, len(todo), runs.get(item_id, []), labels[item_id])
        answer = _ask(console, ask)
        if answer == "quit":
            break
        if answer == "skip":
            continue
        assert isinstance(answer, Truth)
        append_manual_label(manual_path, ManualLabel(item_id=item_id, tier=None, truth=answer))
        log.debug("label.saved", item=item_id, truth=answer.value, path=str(manual_path))
        saved += 1
    left = len(todo) - saved
    console.print(
        Text(f"Saved {saved} label(s) to {manual_path}; {left} item(s) left undetermined.")
    )
    return saved


def _ask(console: Console, ask: Callable[[str], str]) -> Truth | str:
    while True:
        try:
            raw = ask(PROMPT)
        except EOFError:
            console.print()
            return "quit"
        answer = _ANSWERS.get(raw.strip().lower())
        if answer is not None:
            return answer
        console.print(Text("Please answer v, i, s or q."))


def _show(
    console: Console,
    item_id: str,
    index: int,
    count: int,
    runs: list[dict[str, Any]],
    label: Mapping[str, Any],
) -> None:
    module = next((r.get("module_name") for r in runs if r.get("module_name")), None)
    title = f"Item {index}/{count}: {visible_line(item_id)}" + (
        f" ({visible_line(module)})" if module not in (None, item_id) else ""
    )
    console.rule(Text(title, style="bold"))
    evidence = [f"method {label.get('method', '?')}"]
    votes = label.get("votes")
    if isinstance(votes, Mapping) and votes:
        evidence.append("votes " + ", ".join(f"{k} {v}" for k, v in votes.items()))
    conflicts = label.get("conflicts")
    if isinstance(conflicts, list) and conflicts:
        evidence.append("conflicts " + ", ".join(map(str, conflicts)))
    console.print(
        Text.assemble(
            ("automatic label: ", "bold"),
            "UNDETERMINED (" + visible_line("; ".join(evidence)) + ")",
        )
    )
    if not runs:
        console.print(Text("No runs of this item in the telemetry log.", style="dim"))
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for head in ("tier", "phase", "#", "timeout", "outcome", "duration"):
        table.add_column(head, no_wrap=head != "tier", overflow="fold")
    ordered = sorted(
        runs,
        key=lambda r: (str(r.get("tier")), r.get("phase") != "telemetry", _int(r.get("attempt"))),
    )
    for r in ordered:
        table.add_row(
            Text(visible_line(r.get("tier", "?"))),
            Text(visible_line(r.get("phase", "?"))),
            Text(visible_line(r.get("attempt", "?"))),
            Text(_seconds(r.get("timeout_s"))),
            Text(visible_line(r.get("outcome", "?")), style=_style(str(r.get("outcome")))),
            Text(_duration(r.get("duration_ms"))),
        )
    console.print(table)
    first_error = next((r["first_error"] for r in ordered if r.get("first_error")), None)
    console.print(Text.assemble(("first error: ", "bold"), visible_line(first_error or "none")))
    tail = _best_tail(ordered)
    if tail:
        lines = [visible(line) for line in tail.rstrip("\n").split("\n")[-TAIL_LINES:]]
        console.print(Text(f"output tail (last {len(lines)} lines):", style="bold"))
        console.print(Text("\n".join("  | " + line for line in lines), style="dim"))


def _best_tail(runs: list[dict[str, Any]]) -> str:
    """The output of the most telling run: one that finished by itself, latest attempt."""
    with_tail = [r for r in runs if r.get("output_tail")]
    if not with_tail:
        return ""
    with_tail.sort(key=lambda r: (r.get("outcome") != "VERIFIER_TIMEOUT", _int(r.get("attempt"))))
    return str(with_tail[-1]["output_tail"])


def _read_labels(path: Path) -> dict[str, dict[str, Any]]:
    """item id -> its labels.json entry, with ``truth`` upper-cased."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalibError(
            f"cannot read {path} ({exc}); re-run the calibration to rewrite it"
        ) from None
    items = data.get("items") if isinstance(data, Mapping) else None
    if isinstance(items, Mapping):
        entries = [(str(k), v) for k, v in items.items()]
    elif isinstance(items, list):
        entries = [(str(v.get("item_id")), v) for v in items if isinstance(v, Mapping)]
    else:
        raise CalibError(f"{path}: no 'items' mapping; re-run the calibration to rewrite it")
    out: dict[str, dict[str, Any]] = {}
    for item_id, entry in entries:
        entry = dict(entry) if isinstance(entry, Mapping) else {"truth": entry}
        entry["truth"] = str(entry.get("truth")).upper()
        out[item_id] = entry
    return out


def _read_runs(path: Path) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    skipped = 0
    for obj in _json_lines(path):
        if obj is None:
            skipped += 1
            continue
        if obj.get("kind") == "header" or "item_id" not in obj:
            continue
        runs.setdefault(str(obj["item_id"]), []).append(obj)
    if skipped:
        log.warning("telemetry.unreadable_lines", path=str(path), count=skipped)
    return runs


def _json_lines(path: Path) -> Iterator[dict[str, Any] | None]:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                yield None  # a line cut short by a crash: the rest is still usable
                continue
            yield obj if isinstance(obj, dict) else None


def _style(outcome: str) -> str:
    return {
        "VERIFIED": "green",
        "PROOF_INVALID": "red",
        "VERIFIER_TIMEOUT": "yellow",
        "MEMORY_LIMIT_EXCEEDED": "magenta",
        "VERIFIER_ERROR": "bright_red",
    }.get(outcome, "")


def _seconds(value: Any) -> str:
    return f"{value:g} s" if isinstance(value, int | float) else "?"


def _duration(ms: Any) -> str:
    return f"{ms / 1000:.2f} s" if isinstance(ms, int | float) else "?"


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _nothing_to_label(undetermined: int, manual_path: Path) -> str:
    """Why there is nothing to ask: no undetermined item, or all answered already."""
    if undetermined == 0:
        return "Nothing to label: the calibration left no item undetermined."
    return f"Nothing to label: all {undetermined} undetermined item(s) are in {manual_path}."
