"""--sandbox bwrap keeps verdicts of a real checker that writes next to its input: ``coqc``
writes ``X.glob`` beside ``X.v``, so a read-only input directory would turn every run into a
"Read-only file system" failure. The input's directory is private and writable in the sandbox:
an exit-code-only tier gives the same canary outcomes with and without bwrap, and the corpus
and the canary files are left as they were."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from calib_async.errors import CalibError
from calib_async.pipeline import run_calibration
from calib_async.runner.sandbox import find_bwrap
from helpers.custom_runs import custom_run_config

COQ_PROOFS = {
    "A.v": "Lemma a : True.\nProof. exact I. Qed.\n",
    "B.v": "Lemma b : 1 = 1.\nProof.\n  reflexivity.\nQed.\n",
}


def _bwrap_usable() -> bool:
    try:
        find_bwrap()
    except CalibError:
        return False
    return True


def _tree(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


@pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed (apt: coq)")
@pytest.mark.skipif(not _bwrap_usable(), reason="bwrap missing or cannot create namespaces")
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_coq_canaries_give_the_same_outcomes_with_and_without_bwrap(tmp_path: Path) -> None:
    canaries = [{"name": "admitted", "find": r"Qed\.", "replace": "Admitted.", "count": "all"}]
    coqc = shutil.which("coqc") or "coqc"
    doc = {
        "verifiers": {
            "naive": {"command": [coqc, "-q", "{file}"], "canaries": canaries,
                      "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]},
        },
        "tiers": {"EXIT_CODE": {"timeout_s": 60, "verifier": "naive", "grace_s": 0.2}},
        "consensus_verifiers": ["naive"],
    }  # fmt: skip
    base = custom_run_config(tmp_path, COQ_PROOFS, doc, canaries=("all",), canary_sample=2)
    src = tmp_path / "src"
    src_before = _tree(src)
    outcomes = {}
    for sandbox in ("bwrap", "none"):  # bwrap first: the corpus is still untouched by coqc
        out = tmp_path / f"out-{sandbox}"
        config = replace(base, sandbox=sandbox, export=tmp_path / f"{sandbox}.yaml", output_dir=out)
        result = await run_calibration(config)
        tails = [r.output_tail for r in result.canary_runs]
        outcomes[sandbox] = sorted(
            (r.item_id, str(r.outcome)) for r in [*result.canary_runs, *result.telemetry]
        )
        model = result.export["noise_models"]["exit_code"]
        assert model["canaries"]["admitted"]["passed"] == 2, (sandbox, tails)
        if sandbox == "bwrap":  # coqc wrote its .glob into a private copy that is gone
            assert _tree(src) == src_before
            assert not [p for p in out.rglob("*") if p.suffix in (".glob", ".vo")]
    assert outcomes["bwrap"] == outcomes["none"]
    assert {o for _, o in outcomes["bwrap"]} == {"VERIFIED"}
