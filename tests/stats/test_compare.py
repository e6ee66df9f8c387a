"""``calibrate_noise compare``: calibration regression gate (issue 18, compare half).

Synthetic exports are built from binomial draws with known true rates (``_synthetic``); the
two demo exports in ``fixtures/compare`` were written by the real pipeline (synthetic corpus,
n = 60, seeds 12345 and 777). The end-to-end study with stratified labels fitted by the real
stage 4 is ``scripts/compare_study.py``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from calib_async.cli.compare import run_compare
from calib_async.cli.main import main as cli_main
from calib_async.errors import CalibError
from calib_async.stats.compare import (
    RATES,
    SUPPORTED_SCHEMA,
    FailOn,
    Verdict,
    compare_calibrations,
)
from calib_async.version import SCHEMA_VERSION
from helpers import FIXTURES as HELPER_FIXTURES

FIXTURES = HELPER_FIXTURES / "compare"
DEMO_A = FIXTURES / "demo_seed12345.yaml"
DEMO_B = FIXTURES / "demo_seed777.yaml"
TIERS = ("fast", "balanced", "slow")
#: per tier: (P(valid), P(timeout), P(spurious fail | valid, finished),
#: P(spurious pass | invalid, finished))
BASE = {"fast": (0.6, 0.10, 0.08, 0.20), "balanced": (0.6, 0.05, 0.05, 0.10),
        "slow": (0.6, 0.02, 0.03, 0.05)}  # fmt: skip


def _jeffreys(x: int, n: int) -> list[float]:
    lo = 0.0 if x == 0 else float(stats.beta.ppf(0.025, x + 0.5, n - x + 0.5))
    hi = 1.0 if x == n else float(stats.beta.ppf(0.975, x + 0.5, n - x + 0.5))
    return [lo, hi]


def _tier(rng: np.random.Generator, p: tuple[float, ...], n: int, labelled: int | None) -> dict:
    """One tier's export entry from binomial draws (keys as stats.tier_fit.TierFit.to_export)."""
    p_valid, p_to, p_fail, p_pass = p
    valid = rng.random(n) < p_valid
    timeout = rng.random(n) < p_to
    u = rng.random(n)
    fail = valid & ~timeout & (u < p_fail)
    passed = ~valid & ~timeout & (u < p_pass)
    k_to = int(timeout.sum())
    lo, hi = stats.binomtest(k_to, n).proportion_ci(method="wilson")
    out: dict[str, Any] = {"timeout_rate": k_to / n, "timeout_rate_ci": [float(lo), float(hi)]}
    counts: dict[str, Any] = {"records": n, "timeout_rate": {"status": "ok", "n": n, "k": k_to}}
    # census (every run labelled) or a simple random sample of ``labelled`` runs
    seen = np.arange(n) if labelled is None else rng.choice(n, labelled, replace=False)
    weight = 1.0 if labelled is None else n / labelled
    for name, cls, event in (
        ("spurious_fail_rate", valid, fail),
        ("timeout_given_valid", valid, timeout),
        ("spurious_pass_rate", ~valid, passed),
        ("timeout_given_invalid", ~valid, timeout),
    ):
        m, x = int(cls[seen].sum()), int((cls & event)[seen].sum())
        out[name] = x / m
        out[f"{name}_ci"] = _jeffreys(x, m)
        counts[name] = {
            "status": "ok", "method": "stratified_ratio_jeffreys_mc", "n_labelled": m,
            "n_events": x, "n_determined": len(seen), "n_undetermined": 0,
            "weighted_events": weight * x, "weighted_total": weight * m, "unlabelled_strata": [],
        }  # fmt: skip
    out["counts"] = counts
    return out


def _synthetic(
    seed: int,
    *,
    n: int = 300,
    labelled: int | None = None,
    rates: dict[str, tuple[float, ...]] | None = None,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    rates = rates or BASE
    return {
        "calibration_metadata": {"schema_version": SCHEMA_VERSION, "run_id": str(seed)},
        "validation_report": {"coverage": {"nominal": 0.95}},
        "noise_models": {t: _tier(rng, p, n, labelled) for t, p in rates.items()},
    }


def _write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _false_alarms(reps: int, labelled: int | None) -> float:
    alarms = 0
    for r in range(reps):
        a, b = _synthetic(2 * r, labelled=labelled), _synthetic(2 * r + 1, labelled=labelled)
        alarms += bool(compare_calibrations(a, b).failures(FailOn.ANY))
    return alarms / reps


def test_the_schema_compare_reads_is_the_one_export_writes() -> None:
    assert SUPPORTED_SCHEMA == SCHEMA_VERSION


def test_demo_export_compared_with_itself_exits_0_with_no_rejection(capsys) -> None:
    assert run_compare([str(DEMO_A), str(DEMO_A)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "spurious_pass_rate" in out and "balanced" in out
    result = compare_calibrations(*[yaml.safe_load(DEMO_A.read_text())] * 2)
    tested = [r for r in result.rows if r.p_holm is not None]
    assert {(r.tier, r.rate) for r in tested} == {(t, n) for t in TIERS for n in RATES}
    assert all(
        r.verdict is Verdict.NOT_SIGNIFICANT and r.p_holm == 1.0 and r.diff == 0 for r in tested
    )


def test_two_demo_runs_use_exact_counts_when_labelling_is_complete_else_the_intervals() -> None:
    a, b = (yaml.safe_load(p.read_text()) for p in (DEMO_A, DEMO_B))
    rows = {(r.tier, r.rate): r for r in compare_calibrations(a, b).rows}
    # seed 12345 labelled every run; seed 777 a stratified sample
    assert rows["fast", "timeout_rate"].method == "score_2indep+newcombe"
    assert rows["fast", "spurious_pass_rate"].method == "wald_from_ci(mover)"
    assert rows["slow", "timeout_model@2s"].verdict is Verdict.DESCRIPTIVE
    assert rows["slow", "timeout_model@2s"].p_value is None
    census = {(r.tier, r.rate): r for r in compare_calibrations(a, a).rows}
    assert census["fast", "spurious_pass_rate"].method == "score_2indep+newcombe"


@pytest.mark.parametrize(("labelled", "label"), [(None, "census"), (120, "sampled")])
def test_same_true_rates_raise_an_alarm_in_at_most_8_percent_of_200_repetitions(
    labelled: int | None, label: str
) -> None:
    # measured with these seeds: census 0.020, sampled 0.055; over 1000 repetitions 0.034 and
    # 0.047 (Holm over 15 rates, alpha 0.05)
    rate = _false_alarms(200, labelled)
    assert rate <= 0.08, (label, rate)


def test_a_doubled_spurious_pass_rate_exits_1_and_names_tier_and_rate(tmp_path, capsys) -> None:
    worse = dict(BASE, slow=(0.6, 0.02, 0.03, 0.10))
    a = _write(tmp_path / "a.yaml", _synthetic(1, n=3000))
    b = _write(tmp_path / "b.yaml", _synthetic(2, n=3000, rates=worse))
    assert run_compare([str(a), str(b)]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        line for line in err.splitlines() if line.startswith("calibrate_noise compare: worse:")
    ]
    assert "tier slow spurious_pass_rate:" in err
    assert "worse" in out


def test_doubled_spurious_pass_rate_is_found_in_most_repetitions_at_3000_runs() -> None:
    # slow: 0.05 -> 0.10 given a finished invalid run, 40 % invalid, census labels; power
    # measured over 100 repetitions: 0.34 at 1000 runs per tier, 0.82 at 2000, 0.95 at 3000
    worse = dict(BASE, slow=(0.6, 0.02, 0.03, 0.10))
    hits = 0
    for r in range(50):
        result = compare_calibrations(
            _synthetic(2 * r, n=3000), _synthetic(2 * r + 1, n=3000, rates=worse)
        )
        hits += ("slow", "spurious_pass_rate") in {
            (f.tier, f.rate) for f in result.failures(FailOn.WORSE)
        }
    assert hits >= 40


def test_fail_on_decides_whether_a_better_rate_fails(tmp_path, capsys) -> None:
    better = dict(BASE, fast=(0.6, 0.10, 0.08, 0.05))
    a = _write(tmp_path / "a.yaml", _synthetic(3, n=2000))
    b = _write(tmp_path / "b.yaml", _synthetic(4, n=2000, rates=better))
    assert run_compare([str(a), str(b)]) == 0
    assert run_compare([str(a), str(b), "--fail-on", "any"]) == 1
    assert "better: tier fast spurious_pass_rate:" in capsys.readouterr().err
    assert run_compare([str(b), str(a), "--fail-on", "never"]) == 0
    assert run_compare([str(b), str(a)]) == 1


def test_tiers_in_only_one_file_are_reported_and_not_fatal(tmp_path, capsys) -> None:
    doc_a, doc_b = _synthetic(5), _synthetic(5)
    doc_a["noise_models"]["extra"] = doc_a["noise_models"]["fast"]
    del doc_b["noise_models"]["slow"]
    a, b = _write(tmp_path / "a.yaml", doc_a), _write(tmp_path / "b.yaml", doc_b)
    assert run_compare([str(a), str(b), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["only_in_a"] == ["slow", "extra"]
    assert report["only_in_b"] == []
    assert {row["tier"] for row in report["rows"]} == {"fast", "balanced"}


def test_a_rate_without_data_is_not_comparable_and_not_fatal(tmp_path) -> None:
    doc_b = _synthetic(6)
    slow = doc_b["noise_models"]["slow"]
    slow["spurious_pass_rate"] = slow["spurious_pass_rate_ci"] = None
    slow["counts"]["spurious_pass_rate"]["status"] = "insufficient_data"
    rows = {(r.tier, r.rate): r for r in compare_calibrations(_synthetic(7), doc_b).rows}
    row = rows["slow", "spurious_pass_rate"]
    assert (row.verdict, row.p_value) == (Verdict.NOT_COMPARABLE, None)
    assert row.note == "B: status insufficient_data"


def test_markdown_output_is_a_table(tmp_path, capsys) -> None:
    assert run_compare([str(DEMO_A), str(DEMO_B), "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| tier | rate | A | B | B-A [CI] | p (Holm) | verdict | note |"
    assert lines[4].startswith("| fast | timeout_rate | 0.0833 | 0.1250 | +0.0417 [")


def test_cli_main_dispatches_compare(capsys) -> None:
    assert cli_main(["compare", str(DEMO_A), str(DEMO_A), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["difference"] == "B - A"


def test_canary_and_flip_rates_are_compared_when_present() -> None:
    doc_a, doc_b = _synthetic(8), _synthetic(9)
    for doc, passed in ((doc_a, 10), (doc_b, 60)):
        fast = doc["noise_models"]["fast"]
        lo, hi = stats.binomtest(passed, 200).proportion_ci(method="wilson")
        fast["canaries"] = {"sorry": {"spurious_pass_rate": passed / 200,
                                      "spurious_pass_rate_ci": [float(lo), float(hi)], "run": 200,
                                      "passed": passed}}  # fmt: skip
        fast["flips"] = {"flip_rate": 0.1, "flip_rate_ci": [0.05, 0.18]}
    rows = {(r.tier, r.rate): r for r in compare_calibrations(doc_a, doc_b).rows}
    canary, flip = rows["fast", "canary.sorry"], rows["fast", "flip_rate"]
    assert (canary.verdict, canary.method) == (Verdict.WORSE, "score_2indep+newcombe")
    assert (flip.verdict, flip.method, flip.p_value) == (
        Verdict.NOT_SIGNIFICANT,
        "wald_from_ci(mover)",
        1.0,
    )


@settings(max_examples=80, deadline=None)
@given(
    st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.001, 0.3), st.floats(0.001, 0.3),
    st.floats(0.001, 0.3), st.floats(0.001, 0.3),
)  # fmt: skip
def test_interval_of_the_difference_excludes_0_exactly_when_the_ci_based_test_rejects(
    pa: float, pb: float, la: float, ua: float, lb: float, ub: float
) -> None:
    def doc(p: float, lo: float, hi: float) -> dict:
        tier = {"timeout_rate": p, "timeout_rate_ci": [max(0.0, p - lo), min(1.0, p + hi)]}
        return {"calibration_metadata": {"schema_version": SCHEMA_VERSION},
                "noise_models": {"t": tier}}  # fmt: skip

    result = compare_calibrations(doc(pa, la, ua), doc(pb, lb, ub), alpha=0.05)
    row = result.rows[0]
    assert row.method == "wald_from_ci(mover)"
    if row.p_value is not None and row.ci is not None and not math.isclose(row.p_value, 0.05):
        assert (row.p_value < 0.05) == (not row.ci[0] <= 0.0 <= row.ci[1])


# --- bad input: exit 2, one line on stderr ---------------------------------------------------


def _schema(doc: dict) -> dict:
    doc["calibration_metadata"]["schema_version"] = "calib-async/0"
    return doc


def _bad_rate(doc: dict) -> dict:
    doc["noise_models"]["fast"]["timeout_rate"] = "high"
    return doc


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- just\n- a list\n", r"B is not a calibration file \(no calibration_metadata\); pass"),
        ("calibration_metadata: {}\n", r"B is not a calibration file \(no noise_models mapping\)"),
        ("key: [unclosed\n", r"B \(.*\):2: not valid YAML .*; fix its syntax$"),
        (_schema, r"B has schema_version 'calib-async/0', this tool reads 'calib-async/1'; re-"),
        (_bad_rate, r"B: noise_models\.fast\.timeout_rate: expected a finite number, got 'high'"),
        (None, r"B .* does not exist; check the path$"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, content, message) -> None:
    b = tmp_path / "b.yaml"
    if isinstance(content, str):
        b.write_text(content)
    elif content is not None:
        _write(b, content(_synthetic(10)))
    assert run_compare([str(DEMO_A), str(b)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("calibrate_noise compare: error: ")
    assert re.match(message, err.removeprefix("calibrate_noise compare: error: ").rstrip("\n"))


@pytest.mark.parametrize("argv", [["only-one.yaml"], ["a", "b", "--alpha", "1.5"],
                                  ["a", "b", "--fail-on", "sometimes"]])  # fmt: skip
def test_usage_errors_exit_2_with_one_line(capsys, argv: list[str]) -> None:
    assert run_compare(argv) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


_DEMO = yaml.safe_load(DEMO_A.read_text())
_DEMO_PATHS = _paths(_DEMO)[1:]
_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_DEMO_PATHS), _JUNK)
def test_any_corrupted_value_gives_a_result_or_a_calib_error(path: tuple, junk: Any) -> None:
    doc = copy.deepcopy(_DEMO)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    try:
        result = compare_calibrations(_DEMO, doc)
    except CalibError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(r.p_holm is None or 0.0 <= r.p_holm <= 1.0 for r in result.rows)


def test_a_missed_doubling_prints_its_detectable_difference_never_same() -> None:
    # issue 27: 500 items, SLOW's spurious-pass rate doubled; power is low, so it is missed
    doubled = {**BASE, "slow": (0.6, 0.02, 0.03, 0.10)}
    a, b = _synthetic(1, n=500), _synthetic(2, n=500, rates=doubled)
    rows = {(r.tier, r.rate): r for r in compare_calibrations(a, b).rows}
    row = rows["slow", "spurious_pass_rate"]
    assert "same" not in {r.verdict.value for r in rows.values()}
    assert row.verdict in (Verdict.NOT_SIGNIFICANT, Verdict.WORSE)
    if row.verdict is Verdict.NOT_SIGNIFICANT:
        assert row.mdd is not None and row.mdd > 0.05  # it could not have seen +0.05
        assert row.note.startswith(
            f"not significant (smallest detectable difference {row.mdd:.3g})"
        )


def test_a_row_that_cannot_fail_is_left_out_of_the_holm_family() -> None:
    tiny = {"slow": (0.6, 0.02, 0.03, 0.05)}
    a, b = _synthetic(3, n=4, rates=tiny), _synthetic(4, n=4, rates=tiny)
    rows = compare_calibrations(a, b).rows
    out = [r for r in rows if "left out of the Holm family" in r.note]
    assert out and all(r.p_holm is None and r.verdict is Verdict.NOT_SIGNIFICANT for r in out)
