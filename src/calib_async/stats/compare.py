"""Compare two calibrations (A = before, B = after): a regression gate for checker upgrades.

Pure: :func:`compare_calibrations` takes two parsed export documents (dicts from
``yaml.safe_load``) and returns a :class:`CompareResult`; no file, terminal or exit code here.

**What is compared.** Tiers are matched by their ``noise_models`` key; a tier in only one file
is listed in ``only_in_a`` / ``only_in_b``. For each common tier:

* the rates ``timeout_rate``, ``spurious_fail_rate``, ``spurious_pass_rate``,
  ``timeout_given_valid``, ``timeout_given_invalid`` (keys ``<rate>``, ``<rate>_ci``,
  ``counts.<rate>``);
* optional, when either file has them (keys not yet written by the exporter; issues 16/17):
  ``canaries.<class>`` = ``{spurious_pass_rate, spurious_pass_rate_ci, run, passed}`` (row
  ``canary.<class>``; ``n``/``k`` accepted for ``run``/``passed``), and ``flip_rate`` +
  ``flip_rate_ci`` (at the tier level or under ``flips``; clustered, so compared by its CI);
* the duration model, descriptively (below).

**Tests.** The difference is B − A. With exact binomial counts in both files: the score test
(``rates.score_test_2indep``) and the Newcombe hybrid-score interval (from the two Wilson
intervals). Exact counts are ``counts.timeout_rate.{k, n}`` and canary ``passed/run``; a
conditional rate has them only when the tier's training runs were labelled completely
(``n_determined == counts.records``, nothing undetermined or unlabelled, weighted total =
``n_labelled``): then the stratified estimator is ``n_events / n_labelled``, binomial given
the class size. Otherwise (stratified sample, flip rates) only the estimate and its interval
are exported, and a standard error is derived from the interval: the half-width on the side
facing the other estimate divided by ``z_{(1+c)/2}`` (c = the file's confidence,
``validation_report.coverage.nominal``, 0.95 when absent). The Wald statistic is
``z = d / sqrt(se_B^2 + se_A^2)`` with those one-sided errors, and the interval of d uses the
same errors (the MOVER construction of Zou & Donner 2008; with Wilson inputs it is Newcombe's
interval). *Approximation:* it treats each asymmetric Jeffreys interval as two half-normal
sides. It is exact at the file's own level only as far as the interval was.

**Family.** Holm over every tested row of every tier that can fail, at ``alpha``. Verdict
``worse`` / ``better`` when the Holm-adjusted p < alpha (by the sign of B − A: every compared
rate is a noise rate, higher is worse); ``not_significant`` otherwise, never "same": the note
gives the smallest detectable difference (``mdd``: the increase over A's rate the test detects
with probability 0.8 at the level the Holm gate needs for one rejection, alpha / m;
``stats.power``), so "not significant (smallest detectable difference 0.04)" says how much
the comparison could have seen. A row with exact counts whose most extreme possible outcome
(B's rate at 0 or at 1) would still not reach p < alpha cannot fail: it is left out of the
Holm family (it would only dilute the others) and says so. ``not_comparable`` when either
side lacks the rate or an interval (the note says why).

**Duration models: descriptive.** ``timeout_model@<T>s`` gives the timeout probability S(T) of
A's and of B's fitted model at A's budgets T (the tier's ``timeout_s`` and A's
``timeout_for_rate`` budgets). The export has no parameter covariance, so there is no honest
test: these rows have verdict ``descriptive``, no p, and are outside the Holm family; the
observed timeout rate is tested by ``timeout_rate``. A note flags a model whose implied timeout
rate falls outside the observed interval (``goodness_of_fit.implied_inside_ci`` false).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from scipy import stats

from calib_async.errors import CalibError
from calib_async.model import DistributionModel, DistributionStatus, TierModel
from calib_async.stats.compare_read import (
    Side,
    canary_side,
    flip_side,
    read_document,
    standard_side,
)
from calib_async.stats.power import normal_mdd, score_mdd
from calib_async.stats.prediction import predict_timeout_rate
from calib_async.stats.rates import holm, score_test_2indep, wilson_interval
from calib_async.version import SCHEMA_VERSION as SUPPORTED_SCHEMA

__all__ = [
    "RATES",
    "SUPPORTED_SCHEMA",
    "CompareResult",
    "FailOn",
    "RateComparison",
    "Verdict",
    "compare_calibrations",
]

RATES: tuple[str, ...] = (
    "timeout_rate",
    "spurious_fail_rate",
    "spurious_pass_rate",
    "timeout_given_valid",
    "timeout_given_invalid",
)
EXACT = "score_2indep+newcombe"
FROM_CI = "wald_from_ci(mover)"
MODEL = "model_sf"


class Verdict(StrEnum):
    WORSE = "worse"
    BETTER = "better"
    NOT_SIGNIFICANT = "not_significant"
    NOT_COMPARABLE = "not_comparable"
    DESCRIPTIVE = "descriptive"


class FailOn(StrEnum):
    WORSE = "worse"
    ANY = "any"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class RateComparison:
    """One row: a rate of one tier in A and B, the difference B − A, its test and verdict."""

    tier: str
    rate: str
    a: float | None
    b: float | None
    diff: float | None
    ci: tuple[float, float] | None  # of diff, at 1 - alpha (unadjusted)
    p_value: float | None
    p_holm: float | None
    verdict: Verdict
    method: str
    note: str = ""
    mdd: float | None = None  # smallest detectable difference (module docstring)
    #: what the detectable difference needs: ("exact", p_a, n_a, n_b) or ("se", se); private
    power_inputs: tuple[Any, ...] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )


@dataclass(frozen=True, slots=True)
class CompareResult:
    rows: tuple[RateComparison, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    alpha: float
    schema_version: str

    def failures(self, fail_on: FailOn) -> tuple[RateComparison, ...]:
        """Rows that fail the gate: worse ones (``worse``), worse or better (``any``), none."""
        bad = {
            FailOn.WORSE: {Verdict.WORSE},
            FailOn.ANY: {Verdict.WORSE, Verdict.BETTER},
            FailOn.NEVER: set(),
        }[FailOn(fail_on)]
        return tuple(r for r in self.rows if r.verdict in bad)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            row = asdict(r)
            row.pop("power_inputs", None)
            row["verdict"] = r.verdict.value
            row["ci"] = list(r.ci) if r.ci else None
            rows.append(row)
        return {
            "schema_version": self.schema_version,
            "alpha": self.alpha,
            "correction": "holm",
            "difference": "B - A",
            "only_in_a": list(self.only_in_a),
            "only_in_b": list(self.only_in_b),
            "rows": rows,
        }


def compare_calibrations(
    a: Any, b: Any, *, alpha: float = 0.05, names: tuple[str, str] = ("A", "B")
) -> CompareResult:
    """Compare calibration B against A; raises CalibError when either is not a calibration."""
    if not 0.0 < alpha < 1.0:
        raise CalibError(f"--alpha must be between 0 and 1, not {alpha}")
    models_a, conf_a, schema = read_document(a, names[0])
    models_b, conf_b, _ = read_document(b, names[1])
    common = [t for t in models_a if t in models_b]
    rows: list[RateComparison] = []
    for tier in common:
        ta, tb = models_a[tier], models_b[tier]
        for name in RATES:
            sa = standard_side(ta, name, conf_a, f"{names[0]}: noise_models.{tier}")
            sb = standard_side(tb, name, conf_b, f"{names[1]}: noise_models.{tier}")
            rows.append(_compare(tier, name, sa, sb, alpha))
        rows.extend(_optional_rows(tier, ta, tb, conf_a, conf_b, alpha, names))
        rows.extend(_duration_rows(tier, ta, tb))
        rows = _budgets_differ(rows, tier, ta, tb, names)
    tested = [i for i, r in enumerate(rows) if r.p_value is not None]
    family = [i for i in tested if _can_fail(rows[i], alpha)]
    adjusted = holm([rows[i].p_value for i in family])  # type: ignore[misc]
    level = alpha / max(len(family), 1)
    for i, p_adj in zip(family, adjusted, strict=True):
        r = rows[i]
        verdict = Verdict.NOT_SIGNIFICANT
        if p_adj < alpha and r.diff:
            verdict = Verdict.WORSE if r.diff > 0 else Verdict.BETTER
        mdd = _mdd(r, level)
        note = r.note
        if verdict is Verdict.NOT_SIGNIFICANT:
            seen = "none within [0, 1]" if mdd is None else f"{mdd:.3g}"
            note = _join(f"not significant (smallest detectable difference {seen})", note)
        rows[i] = dataclasses.replace(r, p_holm=p_adj, verdict=verdict, mdd=mdd, note=note)
    for i in sorted(set(tested) - set(family)):
        r = rows[i]
        note = _join("cannot fail at these sample sizes: left out of the Holm family", r.note)
        rows[i] = dataclasses.replace(r, verdict=Verdict.NOT_SIGNIFICANT, note=note)
    return CompareResult(
        rows=tuple(rows),
        only_in_a=tuple(t for t in models_a if t not in models_b),
        only_in_b=tuple(t for t in models_b if t not in models_a),
        alpha=alpha,
        schema_version=schema,
    )


def _join(first: str, rest: str) -> str:
    return f"{first}; {rest}" if rest else first


def _can_fail(row: RateComparison, alpha: float) -> bool:
    """Whether the most extreme outcome of B (rate 0 or 1) could reach p < alpha."""
    if row.power_inputs is None or row.power_inputs[0] != "exact":
        return True
    _, ka, na, nb = row.power_inputs
    extremes = [score_test_2indep(k, nb, ka, na).p_value for k in (0, nb)]
    return min((p for p in extremes if p is not None), default=1.0) < alpha


def _mdd(row: RateComparison, level: float) -> float | None:
    if row.power_inputs is None:
        return None
    if row.power_inputs[0] == "exact":
        _, ka, na, nb = row.power_inputs
        return score_mdd(ka / na, na, nb, level=level)
    return normal_mdd(row.power_inputs[1], level=level)


def _budgets_differ(
    rows: list[RateComparison],
    tier: str,
    ta: TierModel,
    tb: TierModel,
    names: tuple[str, str],
) -> list[RateComparison]:
    """Rates measured under different timeouts are not the same quantity: a tier whose
    ``timeout_s`` differs between A and B gets no test and no ``same`` verdict."""
    budget_a, budget_b = ta.timeout_s, tb.timeout_s
    if budget_a == budget_b:
        return rows
    note = f"budgets differ ({names[0]} {budget_a} s, {names[1]} {budget_b} s)"
    return [
        dataclasses.replace(r, p_value=None, verdict=Verdict.NOT_COMPARABLE, note=note)
        if r.tier == tier and r.p_value is not None
        else r
        for r in rows
    ]


def _optional_rows(
    tier: str,
    ta: TierModel,
    tb: TierModel,
    conf_a: float,
    conf_b: float,
    alpha: float,
    names: tuple[str, str],
) -> list[RateComparison]:
    rows: list[RateComparison] = []
    ca, cb = ta.canaries or {}, tb.canaries or {}
    for cls in list(ca) + [c for c in cb if c not in ca]:
        sa, sb = (
            canary_side(doc.get(cls), conf, f"{name}: noise_models.{tier}.canaries.{cls}")
            for doc, conf, name in ((ca, conf_a, names[0]), (cb, conf_b, names[1]))
        )
        rows.append(_compare(tier, f"canary.{cls}", sa, sb, alpha))
    fa = flip_side(ta, conf_a, f"{names[0]}: noise_models.{tier}")
    fb = flip_side(tb, conf_b, f"{names[1]}: noise_models.{tier}")
    if fa is not None or fb is not None:
        missing = Side(None, None, None, conf_a, "no estimate")
        rows.append(_compare(tier, "flip_rate", fa or missing, fb or missing, alpha))
    return rows


# --- one comparison ---------------------------------------------------------------------------


def _compare(tier: str, rate: str, a: Side, b: Side, alpha: float) -> RateComparison:
    note = "; ".join(f"{s}: {x.note}" for s, x in (("A", a), ("B", b)) if x.note)
    row = partial(RateComparison, tier=tier, rate=rate, a=a.value, b=b.value)
    if a.value is None or b.value is None:
        return row(
            note=note, diff=None, ci=None, p_value=None, p_holm=None,
            verdict=Verdict.NOT_COMPARABLE, method="",
        )  # fmt: skip
    diff = b.value - a.value
    if a.counts and b.counts:
        (ka, na), (kb, nb) = a.counts, b.counts
        test = score_test_2indep(kb, nb, ka, na)
        la, ua = wilson_interval(ka, na, 1.0 - alpha)
        lb, ub = wilson_interval(kb, nb, 1.0 - alpha)
        ci = (
            diff - math.hypot(b.value - lb, ua - a.value),
            diff + math.hypot(ub - b.value, a.value - la),
        )
        return row(
            note=note, diff=diff, ci=ci, p_value=test.p_value, p_holm=None,
            verdict=Verdict.NOT_SIGNIFICANT, method=EXACT, power_inputs=("exact", ka, na, nb),
        )  # fmt: skip
    if a.ci is None or b.ci is None:
        return row(
            note=(note + "; " if note else "") + "no interval to test with",
            diff=diff, ci=None, p_value=None, p_holm=None,
            verdict=Verdict.NOT_COMPARABLE, method="",
        )  # fmt: skip
    za, zb = (float(stats.norm.isf((1.0 - s.confidence) / 2)) for s in (a, b))
    # one-sided standard errors: (lower, upper) half-widths over z
    a_lo, a_hi = (a.value - a.ci[0]) / za, (a.ci[1] - a.value) / za
    b_lo, b_hi = (b.value - b.ci[0]) / zb, (b.ci[1] - b.value) / zb
    se_up, se_down = math.hypot(b_lo, a_hi), math.hypot(b_hi, a_lo)
    se = se_up if diff > 0 else se_down
    if diff == 0:
        p = 1.0
    elif se > 0:
        p = float(2 * stats.norm.sf(abs(diff) / se))
    else:
        return row(
            note=(note + "; " if note else "") + "zero-width intervals",
            diff=diff, ci=None, p_value=None, p_holm=None,
            verdict=Verdict.NOT_COMPARABLE, method=FROM_CI,
        )  # fmt: skip
    zq = float(stats.norm.isf(alpha / 2))
    ci = (diff - zq * se_up, diff + zq * se_down)
    return row(
        note=note, diff=diff, ci=ci, p_value=p, p_holm=None, verdict=Verdict.NOT_SIGNIFICANT,
        method=FROM_CI, power_inputs=("se", se_up),
    )  # fmt: skip


def _duration_rows(tier: str, ta: TierModel, tb: TierModel) -> list[RateComparison]:
    da, db = ta.timeout_distribution, tb.timeout_distribution
    budgets: list[float] = []
    for raw in [ta.timeout_s, *(ta.timeout_for_rate or {}).values()]:
        if raw is not None and 0 < raw < math.inf and float(raw) not in budgets:
            budgets.append(float(raw))
    misfit = [
        s
        for s, d in (("A", da), ("B", db))
        if d is not None
        and isinstance(d.extra.get("goodness_of_fit"), Mapping)
        and d.extra["goodness_of_fit"].get("implied_inside_ci") is False
    ]
    note = f"misfit ({', '.join(misfit)}): model-implied timeout rate outside the observed CI"
    rows = []
    for t in budgets:
        pa, pb = _model_sf(da, t), _model_sf(db, t)
        ok = pa is not None and pb is not None
        rows.append(
            RateComparison(
                tier=tier, rate=f"timeout_model@{t:.3g}s", a=pa, b=pb,
                diff=(pb - pa) if ok else None, ci=None, p_value=None, p_holm=None,  # type: ignore[operator]
                verdict=Verdict.DESCRIPTIVE if ok else Verdict.NOT_COMPARABLE, method=MODEL,
                note=(note if misfit else "") if ok else "no fitted duration model on one side",
            )
        )  # fmt: skip
    return rows


def _model_sf(dist: DistributionModel | None, timeout_s: float) -> float | None:
    if dist is None or dist.status is not DistributionStatus.OK or dist.unit != "ms":
        return None
    try:
        p = predict_timeout_rate(dist.to_dict(), timeout_s)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return p if math.isfinite(p) else None
