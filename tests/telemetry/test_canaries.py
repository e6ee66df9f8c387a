"""The canary phase end to end: the Lean classes against the stand-in ``lean`` (the README
table), a generic YAML profile with a shell checker, and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from calib_async.checkers.lean import TIER_PRECISION
from calib_async.events import Event, RunFinished, RunStarted
from calib_async.pipeline import RunConfig, run_calibration
from calib_async.records import Phase
from helpers import FIXTURES
from helpers.custom_runs import custom_run_config

ATTEMPTS = [
    {
        "id": "t1",
        "header": "import Mathlib\n",
        "formal_statement": "theorem t1 (x : Nat) : x + 0 = x := by",
        "proof": "\n  simp\n",
    },
    {
        "id": "t2",
        "formal_statement": "/-- swap -/\ntheorem t2 (a b : Nat) : a + b = b + a := by",
        "proof": "\n  omega\n",
    },
    {"id": "t3", "formal_statement": "theorem t3 : 2 + 2 = 4 := by", "proof": " decide\n"},
]
#: What each tier passes (1) and rejects (0), by class: the README's table.
EXPECTED = {
    "FAST": dict.fromkeys(
        ["sorry", "admit", "axiom", "native_decide", "skip_kernel", "statement", "fake_axioms"], 1
    ),
    "BALANCED": {"sorry": 0, "admit": 0, "axiom": 1, "native_decide": 1, "skip_kernel": 1,
                 "statement": 1, "fake_axioms": 1},
    "SLOW": {"sorry": 0, "admit": 0, "axiom": 0, "native_decide": 0, "skip_kernel": 1,
             "statement": 1, "fake_axioms": 0},
    "STRICT": dict.fromkeys(
        ["sorry", "admit", "axiom", "native_decide", "skip_kernel", "statement", "fake_axioms"], 0
    ),
}  # fmt: skip


def lean_config(tmp_path: Path, *, as_json: bool, spelling: str) -> Path:
    strict = {**TIER_PRECISION["SLOW"], "check_statement": True, "reject_skip_kernel": True}
    options = {name: dict(TIER_PRECISION[name]) for name in ("FAST", "BALANCED", "SLOW")}
    options["STRICT"] = strict
    doc = {
        "verifiers": {
            "lean": {
                "kind": "lean",
                "options": {
                    "lean": str(FIXTURES / "lean"),
                    "json": as_json,
                    "work_dir": str(tmp_path / "audit"),
                },
                "env": {"LEAN_STANDIN_SORRY": spelling},
            }
        },
        "tiers": {
            name: {"timeout_s": 30, "verifier": "lean", "options": opts, "grace_s": 0.2}
            for name, opts in options.items()
        },
        "consensus_verifiers": ["lean"],
    }
    path = tmp_path / "lean.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def rates(export: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    return {
        tier.upper(): {c: e["spurious_pass_rate"] for c, e in model["canaries"].items()}
        for tier, model in export["noise_models"].items()
    }


def markdown_table(export: dict[str, Any]) -> str:
    """The README's table: one row per tier, one column per class, ``passed/run``."""
    table = rates(export)
    classes = list(next(iter(table.values())))
    lines = ["| tier | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    for tier, model in export["noise_models"].items():
        cells = [f"{e['passed']}/{e['run']}" for e in model["canaries"].values()]
        lines.append(f"| {tier.upper()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    ("as_json", "spelling"), [(True, "quote"), (False, "backtick")], ids=["json", "text"]
)
async def test_lean_classes_pass_the_tiers_that_do_not_defend_against_them(
    tmp_path: Path, as_json: bool, spelling: str
) -> None:
    corpus = tmp_path / "attempts.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in ATTEMPTS))
    user_bytes = corpus.read_bytes()
    config = RunConfig(
        tiers=tuple(EXPECTED),
        n=3,
        export=tmp_path / "c.yaml",
        corpus="custom",
        corpus_path=corpus,
        config_path=lean_config(tmp_path, as_json=as_json, spelling=spelling),
        output_dir=tmp_path / "out",
        workers=4,
        label_sample=0,
        bootstrap=0,
        report=False,
        canaries=("all",),
        canary_sample=3,
    )
    result = await run_calibration(config)
    got = rates(result.export)
    assert got == {t: {c: float(v) for c, v in row.items()} for t, row in EXPECTED.items()}, (
        markdown_table(result.export)
    )
    for model in result.export["noise_models"].values():
        for entry in model["canaries"].values():
            assert (entry["run"], entry["not_applicable"]) == (3, 0)
    assert len(result.canary_runs) == 3 * 7 * 4
    assert {r.phase for r in result.canary_runs} == {Phase.CANARY.value}
    # canaries are new files under the output dir; the user's corpus is untouched
    assert corpus.read_bytes() == user_bytes
    canary_dir = (tmp_path / "out" / "canaries").resolve()
    paths = {Path(r.item_id) for r in result.canary_runs}
    assert all(".canary-" in str(p) for p in paths)
    assert len(list(canary_dir.rglob("*.lean"))) == 3 * 7


CHECKER = """#!/bin/sh
# accepts a file unless it says Admitted (as an exit-code-only reward would, it misses axioms)
if grep -q Admitted "$1"; then echo "Error: proof admitted" >&2; exit 1; fi
exit 0
"""


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_generic_profile_rates_match_the_checker(tmp_path: Path) -> None:
    files = {
        "A.v": "Lemma a : True.\nProof. exact I. Qed.\n",
        "B.v": "Lemma b : 1 = 1.\nProof. reflexivity. Qed.\nLemma c : True.\nQed.\n",
        "C.v": "Definition c := 1.\n",  # nothing for the regex class to rewrite
    }
    script = tmp_path / "check.sh"
    script.write_text(CHECKER)
    doc = {
        "verifiers": {
            "sh": {
                "command": [shutil.which("sh") or "/bin/sh", str(script), "{file}"],
                "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
                "canaries": [
                    {"name": "admitted", "find": r"Qed\.", "replace": "Admitted.", "count": "all"},
                    {"name": "cheat", "append": "Axiom cheat : False.\nLemma x : False.\n"
                     "Proof. exact cheat. Qed.\n"},
                ],
            }
        },
        "tiers": {"QUICK": {"timeout_s": 20, "verifier": "sh", "grace_s": 0.2}},
        "consensus_verifiers": ["sh"],
    }  # fmt: skip
    config = custom_run_config(tmp_path, files, doc, canaries=("all",), canary_sample=3)
    result = await run_calibration(config)
    canaries = result.export["noise_models"]["quick"]["canaries"]
    admitted, cheat = canaries["admitted"], canaries["cheat"]
    assert (admitted["run"], admitted["passed"], admitted["not_applicable"]) == (2, 0, 1)
    assert (cheat["run"], cheat["passed"], cheat["not_applicable"]) == (3, 3, 0)
    assert admitted["spurious_pass_rate"] == 0.0 and cheat["spurious_pass_rate"] == 1.0
    low, high = cheat["spurious_pass_rate_ci"]
    assert 0.0 < low < 1.0 and high == pytest.approx(1.0)
    # the regex rewrote every match in the canary file, and the source file is untouched
    written = next((tmp_path / "out" / "canaries" / "admitted").rglob("B.v")).read_text()
    assert written.count("Admitted.") == 2 and "Qed." not in written
    assert (tmp_path / "src" / "B.v").read_text().count("Qed.") == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_interrupted_run_resumes_without_repeating_a_canary_run(
    tmp_path: Path, anyio_backend: str
) -> None:
    config = RunConfig(
        tiers=("FAST", "SLOW"),
        n=6,
        export=tmp_path / "c.yaml",
        corpus="synthetic",
        output_dir=tmp_path / "out",
        workers=3,
        label_sample=4,
        bootstrap=0,
        report=False,
        canaries=("sorry", "axiom", "fake_axioms"),
        canary_sample=3,
    )
    finished: list[str] = []
    with anyio.CancelScope() as scope:

        def stop_after_some_canaries(event: Event) -> None:
            if isinstance(event, RunFinished) and event.task.phase is Phase.CANARY:
                finished.append(event.task.key)
                if len(finished) == 4:
                    scope.cancel()

        await run_calibration(config, listeners=[stop_after_some_canaries])
    assert scope.cancelled_caught and len(finished) >= 4
    # what the log holds (a record whose event was seen may not have been appended yet)
    saved = {k for k in log_keys(tmp_path / "out") if "|canary|" in k}
    assert saved

    started: list[str] = []
    replayed: list[str] = []

    def watch(event: Event) -> None:
        if isinstance(event, RunStarted) and event.task.phase is Phase.CANARY:
            started.append(event.task.key)
        if isinstance(event, RunFinished) and event.task.phase is Phase.CANARY and event.resumed:
            replayed.append(event.task.key)

    from dataclasses import replace

    result = await run_calibration(replace(config, resume=True), listeners=[watch])
    assert saved <= set(replayed)
    assert not set(started) & saved, "a finished canary run was run again"
    keys = [r.task_key for r in result.canary_runs]
    assert len(keys) == len(set(keys)) == len(set(started) | set(replayed)) == 2 * 3 * 3
    every = log_keys(tmp_path / "out")
    assert len(every) == len(set(every))


def log_keys(out: Path) -> list[str]:
    lines = (out / "telemetry.jsonl").read_text().splitlines()[1:]
    return [json.loads(line)["task_key"] for line in lines if line.strip()]


COQ_PROOFS = {
    "A.v": "Lemma a : True.\nProof. exact I. Qed.\nPrint Assumptions a.\n",
    "B.v": "Lemma b : 1 = 1.\nProof.\n  reflexivity.\nQed.\nPrint Assumptions b.\n",
}


@pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed (apt: coq)")
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_coq_canaries_pass_an_exit_code_profile_and_fail_an_auditing_one(
    tmp_path: Path,
) -> None:
    """Real coqc: ``Admitted.`` and a proof from an injected ``Axiom`` both compile (exit 0),
    so only a profile that reads ``Print Assumptions`` catches them."""
    src = tmp_path / "src"
    src.mkdir()
    for name, text in COQ_PROOFS.items():
        (src / name).write_text(text)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"src/{name}\n" for name in COQ_PROOFS))
    canaries = [
        {"name": "admitted", "find": r"Qed\.", "replace": "Admitted.", "count": "all"},
        {"name": "cheat", "find": r"(Lemma [^.]*\.)\s*Proof\.[\s\S]*?Qed\.",
         "replace": "Axiom cheat : False.\n\\1\nProof. exact (False_ind _ cheat). Qed."},
    ]  # fmt: skip
    coqc = shutil.which("coqc") or "coqc"
    doc = {
        "verifiers": {
            "naive": {"command": [coqc, "-q", "{file}"], "canaries": canaries,
                      "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]},
            "audit": {"command": [coqc, "-q", "{file}"], "canaries": canaries,
                      "rules": [{"exit_code": 0, "output": "(?m)^Axioms:",
                                 "outcome": "PROOF_INVALID"},
                                {"exit_code": 0, "outcome": "VERIFIED"}]},
        },
        "tiers": {"EXIT_CODE": {"timeout_s": 60, "verifier": "naive", "grace_s": 0.2},
                  "ASSUMPTIONS": {"timeout_s": 60, "verifier": "audit", "grace_s": 0.2}},
        "consensus_verifiers": ["audit"],
    }  # fmt: skip
    cfg = tmp_path / "coq.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    config = RunConfig(
        tiers=("EXIT_CODE", "ASSUMPTIONS"),
        n=2,
        export=tmp_path / "c.yaml",
        corpus="custom",
        corpus_path=listing,
        config_path=cfg,
        output_dir=tmp_path / "out",
        workers=2,
        label_sample=0,
        bootstrap=0,
        report=False,
        canaries=("all",),
        canary_sample=2,
    )
    result = await run_calibration(config)
    got = {
        tier: {c: (e["passed"], e["run"]) for c, e in model["canaries"].items()}
        for tier, model in result.export["noise_models"].items()
    }
    assert got == {
        "exit_code": {"admitted": (2, 2), "cheat": (2, 2)},
        "assumptions": {"admitted": (0, 2), "cheat": (0, 2)},
    }, [r.output_tail for r in result.canary_runs]
