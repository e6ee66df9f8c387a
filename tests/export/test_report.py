from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from calib_async.errors import CalibError
from calib_async.export.report import write_report
from calib_async.records import LabeledRecord, LabelMethod, TelemetryRecord, Truth
from calib_async.stats.survival import SurvivalModel
from helpers import make_record as base_record

TIERS = {"FAST": 0.5, "BALANCED": 1.0, "SLOW": 2.0}


def make_record(
    item: str,
    tier: str,
    *,
    duration_ms: float,
    timeout_s: float,
    outcome: str,
    phase: str = "telemetry",
    attempt: int = 0,
) -> TelemetryRecord:
    return base_record(
        item,
        tier,
        outcome,
        phase=phase,
        attempt=attempt,
        module_name=f"M.{item}",
        timeout_s=timeout_s,
        duration_ms=duration_ms,
        cpu_time_ms=duration_ms,
        memory_peak_mb=10.0,
        memory_final_mb=5.0,
        timed_out=outcome == "VERIFIER_TIMEOUT",
        first_error="M.lean:3:4: error: unsolved goals" if outcome == "PROOF_INVALID" else None,
        output_tail="line 1\nline 2\nerror: unsolved goals\n",
    )


def synthetic_run(
    n: int = 120, seed: int = 0
) -> tuple[dict[str, Any], list[TelemetryRecord], list[LabeledRecord]]:
    """Weibull durations censored at each tier's timeout, a censored fit, labels for a sample."""
    rng = np.random.default_rng(seed)
    telemetry: list[TelemetryRecord] = []
    labeled: list[LabeledRecord] = []
    models: dict[str, Any] = {}
    for tier, timeout_s in TIERS.items():
        durations = stats.weibull_min(1.5, scale=400.0).rvs(size=n, random_state=rng)
        records = []
        for i, d in enumerate(durations):
            timed_out = d >= timeout_s * 1000
            valid = rng.random() < 0.7
            outcome = "VERIFIER_TIMEOUT" if timed_out else "VERIFIED" if valid else "PROOF_INVALID"
            rec = make_record(
                f"i{i}",
                tier,
                duration_ms=min(d, timeout_s * 1000.0),
                timeout_s=timeout_s,
                outcome=outcome,
            )
            records.append(rec)
            if i % 4 == 0:
                truth = Truth.VERIFIED if valid else Truth.INVALID
                labeled.append(
                    LabeledRecord(rec, truth, LabelMethod.CONSENSUS, 0.9, f"{tier}|{outcome}", 4.0)
                )
        telemetry += records
        cens = np.array([r.timed_out for r in records])
        dur = np.array([r.duration_ms for r in records])
        data = stats.CensoredData(uncensored=dur[~cens], right=dur[cens])
        c, _, scale = stats.weibull_min.fit(data, floc=0)
        rate = float(cens.mean())
        ci = stats.binomtest(int(cens.sum()), n).proportion_ci(method="wilson")
        models[tier.lower()] = {
            "timeout_rate": rate,
            "timeout_rate_ci": [float(ci.low), float(ci.high)],
            "spurious_fail_rate": 0.05,
            "spurious_fail_rate_ci": [0.02, 0.1],
            "spurious_pass_rate": None,
            "spurious_pass_rate_ci": None,
            "timeout_distribution": {
                "type": "weibull_min",
                "params": {"shape": float(c), "scale": float(scale)},
                "goodness_of_fit": {"ks_sup": 0.04, "p_value": 0.5},
                "units": "ms",
            },
            "timeout_for_rate": {
                "0.05": float(stats.weibull_min(c, scale=scale).isf(0.05)) / 1e3,
                0.01: float(stats.weibull_min(c, scale=scale).isf(0.01)) / 1e3,
            },
            "training_samples": n,
            "timeout_s": timeout_s,
        }
    export = {
        "calibration_metadata": {
            "schema_version": "calib-async/1",
            "date": "2024-01-01",
            "corpus": "synthetic",
            "total_samples": n * 3,
            "seed": 0,
            "validation_passed": True,
            "tiers": {t: {"timeout_s": s, "verifier": "sim"} for t, s in TIERS.items()},
        },
        "validation_report": {
            "summary": "PASSED",
            "passed": True,
            "tier_monotonicity": {"FAST>BALANCED": {"z": 2.1, "p": 0.02}},
            "calibration_error": {"fast": 0.01},
            "coverage": {"fast": True},
        },
        "noise_models": models,
    }
    return export, telemetry, labeled


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "figure":
            self.figures.append(a)
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key] or "")


def parse(path: Path) -> tuple[str, _Collector]:
    text = path.read_text(encoding="utf-8")
    collector = _Collector()
    collector.feed(text)
    return text, collector


def test_report_holds_one_survival_plot_per_tier_and_needs_no_network(tmp_path: Path) -> None:
    export, telemetry, labeled = synthetic_run()
    out = write_report(tmp_path, export=export, telemetry=telemetry, labeled=labeled)
    assert out == tmp_path / "report.html"
    text, doc = parse(out)
    survival = [f["data-tier"] for f in doc.figures if f.get("data-kind") == "survival"]
    assert survival == list(TIERS)
    assert sorted(f["data-tier"] for f in doc.figures if f.get("data-kind") == "budget") == sorted(
        TIERS
    )
    assert any(f.get("data-kind") == "rates" for f in doc.figures)
    # self-contained: every resource is inline, nothing could be fetched
    assert all(u.startswith("data:image/png;base64,") for u in doc.urls)
    assert not re.search(r"https?://", text)
    assert "script" not in doc.tags and "link" not in doc.tags
    assert "@import" not in text and "url(" not in text
    assert "PASSED" in text


def test_confusion_matrix_counts_labelled_runs(tmp_path: Path) -> None:
    export, telemetry, labeled = synthetic_run(n=40)
    rec = telemetry[0]
    extra = [LabeledRecord(rec, Truth.INVALID, LabelMethod.MANUAL, 1.0, "s", 1.0)] * 3
    out = write_report(
        tmp_path / "r.html", export=export, telemetry=telemetry, labeled=[*labeled, *extra]
    )
    text, _ = parse(out)
    fast = text.split('id="tier-FAST"')[1].split("</section>")[0]
    rows = dict(re.findall(r"<tr><th>(\w+)</th>(.*?)</tr>", fast))
    expected_total = sum(1 for lr in labeled if lr.record.tier == "FAST") + 3
    assert re.findall(r">(\d+)</td>", rows["total"])[-1] == str(expected_total)


def test_report_tolerates_missing_fits_rates_and_records(tmp_path: Path) -> None:
    export = {
        "noise_models": {
            "fast": {
                "timeout_rate": 1.0,
                "timeout_rate_ci": [0.9, 1.0],
                "timeout_distribution": {"type": None, "reason": "every run timed out"},
            },
            "slow": {"timeout_distribution": None, "spurious_pass_rate": None},
            "odd": {"timeout_distribution": {"type": "cauchy", "params": {}}},
        }
    }
    records = [
        make_record(f"i{i}", "FAST", duration_ms=500, timeout_s=0.5, outcome="VERIFIER_TIMEOUT")
        for i in range(5)
    ]
    out = write_report(tmp_path / "r.html", export=export, telemetry=records, labeled=[])
    text, doc = parse(out)
    assert [f["data-tier"] for f in doc.figures if f.get("data-kind") == "survival"] == [
        "fast",
        "slow",
        "odd",
    ]
    assert "Fitted distribution not usable" in text
    assert "No validation report" in text


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"type": "weibull_min", "params": {"shape": 1.5, "scale": 300}},
            stats.weibull_min(1.5, scale=300),
        ),
        (
            {"type": "weibull_min", "params": {"c": 1.5, "scale": 300}},
            stats.weibull_min(1.5, scale=300),
        ),
        (
            {"type": "gamma", "params": {"a": 2.0, "scale": 100, "loc": 0}},
            stats.gamma(2.0, scale=100),
        ),
        ({"type": "gamma", "params": {"shape": 2.0, "scale": 100}}, stats.gamma(2.0, scale=100)),
        (
            {"type": "lognorm", "params": {"sigma": 0.7, "scale": 250}},
            stats.lognorm(0.7, scale=250),
        ),
        ({"type": "lognorm", "params": {"s": 0.7, "scale": 250}}, stats.lognorm(0.7, scale=250)),
        ({"type": "expon", "params": {"scale": 200}}, stats.expon(scale=200)),
        (
            {"type": "expon", "unit": "ms", "params": {"scale": 200}, "loc": 5.0},
            stats.expon(loc=5.0, scale=200),
        ),
        ({"type": "expon", "units": "s", "params": {"scale": 0.2}}, stats.expon(scale=200)),
    ],
)
def test_distribution_adapter_accepts_param_aliases(spec: dict[str, Any], expected: Any) -> None:
    model = SurvivalModel.from_export(spec)
    assert model is not None
    for t_s in (0.05, 0.3, 1.0):
        assert model.survival_at_seconds(t_s) == pytest.approx(float(expected.sf(t_s * 1000)))


@pytest.mark.parametrize("spec", [None, {"type": None}, {"type": "none"}, {"type": "gamma"}])
def test_distribution_adapter_no_fit(spec: Any) -> None:
    assert SurvivalModel.from_export(spec) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "cauchy", "params": {}}, r"^timeout_distribution\.type: unknown distribution"),
        (
            {"type": "gamma", "params": {"scale": 1}},
            r"^timeout_distribution\.params: missing shape or a",
        ),
        (
            {"type": "expon", "params": {"scale": -1}},
            r"^timeout_distribution\.params\.scale: expected a positive",
        ),
        ({"type": "expon", "params": {"scale": 1}, "units": "h"}, r"^timeout_distribution\.units"),
    ],
)
def test_distribution_adapter_rejects_malformed(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(CalibError, match=message):
        SurvivalModel.from_export(spec)


def test_sibling_results_sharing_keys_render_as_one_table() -> None:
    from calib_async.export.report_html import value_html

    coverage = {"FAST": {"timeout_rate": True, "p": 0.5}, "SLOW": {"timeout_rate": False}, "n": 3}
    html = value_html(coverage)
    assert html.startswith("<table><thead><tr><th></th><th>timeout_<wbr>rate</th><th>p</th></tr>")
    assert "<tr><th>SLOW</th><td>no</td><td></td></tr>" in html
    assert '<table class="kv"><tbody><tr><th>n</th><td>3</td></tr>' in html
    unrelated = {"by_method": {"consensus": 3}, "by_truth": {"VERIFIED": 2, "INVALID": 1}}
    assert value_html(unrelated).startswith('<table class="kv">')  # no made-up matrix
    assert (
        value_html({"x": "<b>"})
        == '<table class="kv"><tbody><tr><th>x</th><td>&lt;b&gt;</td></tr></tbody></table>'
    )


class _Landmarks(HTMLParser):
    """Where the report's landmarks start, in document order, and the headline cells."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.cells: list[dict[str, str | None]] = []
        self.depth = 0
        self.top_level_after_details: list[str] = []
        self._in_body = False
        self._details_closed = False
        self._table_tier: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self._in_body = True
            return
        if self._in_body and self.depth == 0 and self._details_closed:
            self.top_level_after_details.append(tag)
        if tag == "section" and a.get("id") in ("answer", "headline", "self-check"):
            self.order.append(str(a["id"]))
        elif tag == "table" and "headline" in (a.get("class") or ""):
            self.order.append("headline-table")
            self._table_tier = a.get("data-tier")
        elif tag == "figure":
            self.order.append(f"plot:{a.get('data-kind')}")
        elif tag == "section" and "tier" in (a.get("class") or "").split():
            self.order.append("tier-section")
        elif tag == "details" and a.get("id") == "details":
            self.order.append("details")
        elif tag == "td" and a.get("data-key"):
            self.cells.append({**a, "tier": self._table_tier})
        if self._in_body and tag not in ("img", "br", "meta"):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self._in_body = False
        elif self._in_body and tag not in ("img", "br", "meta"):
            self.depth -= 1
            if tag == "details" and self.depth == 0:
                self._details_closed = True


def test_report_answers_first_and_its_headline_numbers_are_the_yamls(tmp_path: Path) -> None:
    import yaml

    from calib_async.export.document import write_export

    export, telemetry, labeled = synthetic_run(n=60)
    fast = export["noise_models"]["fast"]
    fast["timeout_for_rate"] = {0.05: fast["timeout_for_rate"]["0.05"], 0.01: None}  # unreachable
    write_export(tmp_path / "c.yaml", export)
    out = write_report(tmp_path, export=export, telemetry=telemetry, labeled=labeled)
    text = out.read_text(encoding="utf-8")
    doc = _Landmarks()
    doc.feed(text)
    order = doc.order
    # the answer, then the headline tables, then the plots, then the tier sections, the
    # statistical self-check; details last
    assert order[:2] == ["answer", "headline"]
    assert order[2:5] == ["headline-table"] * 3
    assert order[5] == "plot:rates"
    assert order.index("tier-section") > order.index("plot:rates")
    assert order.index("self-check") > max(i for i, o in enumerate(order) if o == "tier-section")
    assert order[-1] == "details" and order.count("details") == 1
    assert doc.top_level_after_details in ([], ["p"])  # at most the generated-by footer
    answer = text.split('id="headline"')[0]
    assert all(f'data-tier="{t}"' in answer for t in TIERS) and "→" in answer
    assert "PASSED" not in answer  # the self-check is not the answer
    # every headline number is the YAML's, shown to 3 decimals (rates) or in seconds
    data = yaml.safe_load((tmp_path / "c.yaml").read_text())
    models = data["noise_models"]
    seen = set()
    for cell in doc.cells:
        tier, key, value = str(cell["tier"]).lower(), cell["data-key"], float(cell["data-value"])
        if key == "timeout_for_rate":
            targets = {float(k): v for k, v in models[tier]["timeout_for_rate"].items()}
            assert value == targets[float(cell["data-rate"])]
        elif key != "status":
            assert value == models[tier][key]
        seen.add((tier, key))
    assert {(t.lower(), "timeout_rate") for t in TIERS} <= seen
    assert ("fast", "spurious_fail_rate") in seen and ("fast", "spurious_pass_rate") not in seen
    fast_table = text.split('data-tier="FAST"><caption>')[1].split("</table>")[0]
    assert fast_table.startswith(f"FAST · timeout 0.5 s · n = {fast['training_samples']} ")
    assert f">{fast['timeout_rate']:.3f}</td>" in fast_table
    assert "unreachable" in fast_table


def test_titles_and_tables_count_the_same_training_runs(tmp_path: Path) -> None:
    export, telemetry, labeled = synthetic_run(n=50)
    held = {f"i{i}" for i in range(10)}  # the fit's held-out items
    for model in export["noise_models"].values():
        model["training_samples"] = 40
    export["validation_report"]["held_out"] = {"items": 10, "records": 30, "labelled": 9}
    export["calibration_metadata"].update(n=50, validation_split=0.2)
    out = write_report(
        tmp_path, export=export, telemetry=telemetry, labeled=labeled, held_out=held
    )
    text = out.read_text(encoding="utf-8")
    fast = text.split('id="tier-FAST"')[1].split("</section>")[0]
    assert "<tr><th>training runs plotted</th><td>40</td></tr>" in fast
    assert "n = 40 training runs" in text.split('id="headline"')[1].split("</table>")[0]
    note = text.split('class="held-out">')[1].split("</p>")[0]
    assert note.startswith("Validation held out 10 items of 50 (30 records, 9 labelled); ")
    assert "labels.json does not list them yet" in note and "--seed 0" in note
    details = text.split('id="details"')[1]
    assert "Held-out items (10)" in details and "i0, i1, i2" in details
