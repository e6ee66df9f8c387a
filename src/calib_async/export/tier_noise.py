"""One tier of a loaded calibration: the rates and timeout model a simulator samples from."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from calib_async.errors import CalibError
from calib_async.export.canary_model import CanaryRate
from calib_async.export.load_curve import LoadCurve
from calib_async.export.reward import RewardNoise
from calib_async.model import RateStatus, TierStatus
from calib_async.records import Outcome, Truth
from calib_async.stats.survival import (
    SurvivalModel,
    beyond,
    warn_if_extrapolated,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RateStatusWarning", "TierNoise"]


class RateStatusWarning(UserWarning):
    """Sampling from a rate whose status is not ``ok`` (few labels, unverified labels...)."""


@dataclass(frozen=True, slots=True)
class TierNoise:
    """The calibrated noise of one tier. Rates are probabilities; ``None`` means no estimate."""

    name: str
    timeout_rate: float | None
    timeout_rate_ci: tuple[float, float] | None = None
    spurious_fail_rate: float | None = None
    spurious_fail_rate_ci: tuple[float, float] | None = None
    spurious_pass_rate: float | None = None
    spurious_pass_rate_ci: tuple[float, float] | None = None
    timeout_given_valid: float | None = None
    timeout_given_valid_ci: tuple[float, float] | None = None
    timeout_given_invalid: float | None = None
    timeout_given_invalid_ci: tuple[float, float] | None = None
    #: identification intervals of the conditional rates (``<rate>_bounds``; newer files)
    spurious_fail_rate_bounds: tuple[float, float] | None = None
    spurious_pass_rate_bounds: tuple[float, float] | None = None
    timeout_given_valid_bounds: tuple[float, float] | None = None
    timeout_given_invalid_bounds: tuple[float, float] | None = None
    distribution: SurvivalModel | None = None
    #: {target rate: budget in s, or None when the export says the target is unreachable}
    timeout_for_rate: Mapping[float, float | None] = field(default_factory=dict)
    training_samples: int | None = None
    timeout_s: float | None = None
    load: LoadCurve | None = None  # the load experiment's fit (--load-levels)
    canaries: Mapping[str, CanaryRate] = field(default_factory=dict)  # by exploit class
    #: the tier's status and each conditional rate's (``counts.<rate>.status``; newer files)
    status: TierStatus | None = None
    rate_status: Mapping[str, RateStatus] = field(default_factory=dict)

    def canary(self, exploit: str) -> CanaryRate:
        """The canary rate of ``exploit`` (e.g. ``"axiom"``); CalibError if it was not run."""
        if exploit not in self.canaries:
            have = ", ".join(self.canaries) or "none (run with --canaries)"
            raise CalibError(f"tier {self.name} has no canary class {exploit!r}; it has {have}")
        return self.canaries[exploit]

    #: {target rate: ``{timeout_s, method, extrapolated, reason, ...}``} (newer files)
    timeout_recommendations: Mapping[float, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def max_observed_budget_s(self) -> float | None:
        """The largest budget any calibration run had (the tier's timeout for older files)."""
        d = self.distribution
        return d.max_observed_budget_s if d and d.max_observed_budget_s else self.timeout_s

    def timeout_probability(self, timeout_s: float, *, concurrency: float | None = None) -> float:
        """P(a run of this tier times out at a budget of ``timeout_s`` seconds).

        With ``concurrency`` (checkers in flight), from the load experiment's fit (see
        :mod:`calib_async.export.load_curve`); a tier without one raises CalibError.

        ``h + (1 - h) S(t)`` (h: timeouts the checker reports itself; S with its runaway
        share). A ``misfit`` model: Kaplan–Meier up to the largest observed budget, CalibError
        beyond. Without a fit, ``timeout_rate`` (true at the tier's own timeout only). Beyond
        the largest observed budget an :class:`ExtrapolationWarning` is issued.
        """
        if not timeout_s >= 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s!r}")
        if concurrency is not None:
            return self._timeout_probability_under_load(timeout_s, concurrency)
        if self.distribution is not None:
            value = self.distribution.timeout_probability(timeout_s)
            if value is None:
                raise CalibError(
                    f"tier {self.name}: the duration model is {self.distribution.status}, so "
                    f"P(timeout) beyond the largest observed budget "
                    f"{self.max_observed_budget_s} s is not identified; ask for a budget "
                    "within it or recalibrate with a longer timeout"
                )
            warn_if_extrapolated(
                self.name, "timeout_probability", timeout_s, self.max_observed_budget_s
            )
            return value
        if self.timeout_rate is not None:
            return self.timeout_rate
        raise CalibError(
            f"tier {self.name} has neither a duration fit nor a timeout rate; "
            "recalibrate it with more samples"
        )

    def _timeout_probability_under_load(self, timeout_s: float, concurrency: float) -> float:
        if self.load is None:
            raise CalibError(
                f"tier {self.name} has no load fit; recalibrate with --load-levels to predict "
                "the timeout rate at a concurrency"
            )
        base = self.load.timeout_s if self.load.timeout_s is not None else self.timeout_s
        if base is not None and math.isclose(timeout_s, base, rel_tol=1e-9):
            return self.load.rate_at(concurrency)
        at_t = self.timeout_probability(timeout_s) if self.distribution is not None else None
        at_base = self.timeout_probability(base) if at_t is not None and base else None
        if at_t is None or at_base is None:
            raise CalibError(
                f"tier {self.name}: the load fit holds at its own timeout ({base} s) only; "
                "without a duration fit it cannot predict another budget"
            )
        return self.load.shift(at_t, at_base, concurrency)

    def recommended_timeout_s(self, target_rate: float) -> float | None:
        """The smallest timeout (s) whose predicted timeout rate is at most ``target_rate``.

        Uses the exported ``timeout_for_rate`` entry when there is one (None there means
        unreachable: see :meth:`timeout_recommendation` for the reason), else the fitted
        distribution (None below its floor); ``None`` without either. A budget beyond the
        largest observed one issues an :class:`ExtrapolationWarning`.
        """
        if not 0 < target_rate < 1:
            raise ValueError(f"target_rate must be in (0, 1), got {target_rate!r}")
        seconds = self.timeout_recommendation(target_rate).get("timeout_s")
        if seconds is not None:
            warn_if_extrapolated(
                self.name, "recommended_timeout_s", seconds, self.max_observed_budget_s
            )
        return seconds

    def timeout_recommendation(self, target_rate: float) -> dict[str, Any]:
        """``{timeout_s, extrapolated, reason, ...}`` for ``target_rate`` (never warns)."""
        for rate, rec in self.timeout_recommendations.items():
            if math.isclose(rate, target_rate, rel_tol=1e-9):
                return dict(rec)
        exported = [s for r, s in self.timeout_for_rate.items() if math.isclose(r, target_rate)]
        d = self.distribution
        seconds = exported[0] if exported else d.seconds_for_rate(target_rate) if d else None
        reason = None if seconds is not None else "unreachable or not identified"
        return {"timeout_s": seconds, "extrapolated": self._beyond(seconds), "reason": reason}

    def _beyond(self, seconds: float | None) -> bool:
        return beyond(seconds, self.max_observed_budget_s)

    def outcome_probabilities(self, truth: Truth) -> dict[Outcome, float]:
        """The distribution :meth:`sample_outcome` draws from for a given truth.

        Fallbacks for rates the calibration could not point-estimate (documented in
        :meth:`sample_outcome`): see :meth:`timeout_given` and :meth:`spurious`.
        """
        if truth is Truth.VERIFIED:
            right, wrong = Outcome.VERIFIED, Outcome.PROOF_INVALID
        elif truth is Truth.INVALID:
            right, wrong = Outcome.PROOF_INVALID, Outcome.VERIFIED
        else:
            raise ValueError(f"cannot sample an outcome for truth {truth.value}")
        p_timeout, p_wrong = self.timeout_given(truth), self.spurious(truth)
        total = p_timeout + p_wrong
        if total > 1.0:  # inconsistent estimates: keep their ratio
            p_timeout, p_wrong = p_timeout / total, p_wrong / total
        return {
            Outcome.VERIFIER_TIMEOUT: p_timeout,
            wrong: p_wrong,
            right: max(0.0, 1.0 - p_timeout - p_wrong),
        }

    def timeout_given(self, truth: Truth) -> float:
        """P(VERIFIER_TIMEOUT | truth) as sampled: the conditional rate, else ``timeout_rate``.

        ``timeout_rate`` stands in when the conditional rate is missing (None: the labels
        could not estimate it, e.g. every sampled timeout stayed UNDETERMINED), and for both
        classes when the tier has timeouts (``timeout_rate`` > 0) but every conditional
        timeout rate present is 0 (older files exported 0.0 for lack of labels; timeouts
        must come from some class). A tier with timeouts therefore never samples a zero
        timeout probability because a conditional rate is missing. A rate that is only
        partially identified (``_bounds`` wider than a point) is sampled at the midpoint of
        its bounds instead, as :meth:`sampling_source` says.
        """
        name = "timeout_given_valid" if truth is Truth.VERIFIED else "timeout_given_invalid"
        identified = self._identified(name)
        if identified is not None:
            return identified
        own = self.timeout_given_valid if truth is Truth.VERIFIED else self.timeout_given_invalid
        both = (self.timeout_given_valid, self.timeout_given_invalid)
        rate = self.timeout_rate
        if rate is not None and rate > 0 and all(v is None or v == 0.0 for v in both):
            return rate
        return _first(own, rate)

    def spurious(self, truth: Truth) -> float:
        """The spurious fail (truth VERIFIED) or pass (INVALID) probability as sampled.

        The midpoint of its ``_bounds`` when they are wider than a point (partially identified:
        the exported rate assumes the undetermined labels are missing at random, which the
        data cannot check); else the exported rate; without either, 0.
        """
        identified = self._identified(
            "spurious_fail_rate" if truth is Truth.VERIFIED else "spurious_pass_rate"
        )
        if identified is not None:
            return identified
        if truth is Truth.VERIFIED:
            rate, bounds = self.spurious_fail_rate, self.spurious_fail_rate_bounds
        else:
            rate, bounds = self.spurious_pass_rate, self.spurious_pass_rate_bounds
        return _first(rate, (bounds[0] + bounds[1]) / 2 if bounds else None)

    def _identified(self, name: str) -> float | None:
        """The midpoint of ``<name>_bounds`` when the rate is partially identified, else None."""
        bounds: tuple[float, float] | None = getattr(self, f"{name}_bounds")
        if bounds is None or bounds[1] - bounds[0] <= 1e-12:
            return None
        return (bounds[0] + bounds[1]) / 2

    def sampling_source(self, name: str) -> str:
        """Which value :meth:`sample_outcome` uses for the conditional rate ``name``."""
        if name not in _CONDITIONAL:
            raise ValueError(f"{name!r} is not one of {', '.join(_CONDITIONAL)}")
        bounds = getattr(self, f"{name}_bounds")
        if self._identified(name) is not None:
            return (
                f"midpoint of the identification region [{bounds[0]:.3g}, {bounds[1]:.3g}] "
                "(partially identified: undetermined labels)"
            )
        if getattr(self, name) is not None:
            return "point estimate"
        return "fallback (timeout_rate for a timeout rate, else 0)"

    def sample_outcome(
        self, true_outcome: Truth | Outcome | str, rng: np.random.Generator
    ) -> Outcome:
        """Draw what this tier's checker would report for a proof whose truth is given.

        True VERIFIED: VERIFIER_TIMEOUT with ``timeout_given_valid`` (else ``timeout_rate``),
        PROOF_INVALID with ``spurious_fail_rate``, otherwise VERIFIED. True INVALID (or
        PROOF_INVALID): VERIFIED with ``spurious_pass_rate``, VERIFIER_TIMEOUT with
        ``timeout_given_invalid`` (else ``timeout_rate``), otherwise PROOF_INVALID. Rates
        the calibration could not point-estimate fall back as :meth:`timeout_given` and
        :meth:`spurious` say: a tier with timeouts never samples zero timeouts for lack of
        labels; a partially identified rate is drawn at the midpoint of its bounds (never
        the point estimate that assumes undetermined labels are missing at random).
        """
        truth = _truth(true_outcome)
        self._warn_if_not_ok(truth)
        probs = self.outcome_probabilities(truth)
        u = float(rng.random())
        acc = 0.0
        last = Outcome.VERIFIED
        for outcome, p in probs.items():
            acc += p
            last = outcome
            if u < acc:
                return outcome
        return last

    def reward_noise(self, *, timeouts_fail: bool = True) -> RewardNoise:
        """This tier's verdict as a noisy binary reward (VERIFIED = 1): its false-pass and
        false-fail rates with intervals, Youden's J and the unbiased correction
        (:mod:`calib_async.export.reward`). ``timeouts_fail``: a timeout earns no reward, so
        ``timeout_given_valid`` joins the false fails (its interval too)."""
        if self.spurious_pass_rate is None or self.spurious_fail_rate is None:
            raise CalibError(
                f"tier {self.name}: spurious pass or fail rate not estimated; label more "
                "items (--label-sample) or resolve undetermined ones (calibrate_noise label)"
            )
        fail, fail_ci = self.spurious_fail_rate, self.spurious_fail_rate_ci
        if timeouts_fail and self.timeout_given_valid is not None:
            fail += self.timeout_given_valid
            tv = self.timeout_given_valid_ci
            fail_ci = (fail_ci[0] + tv[0], min(1.0, fail_ci[1] + tv[1])) if fail_ci and tv else None
        return RewardNoise(
            self.name, self.spurious_pass_rate, fail, self.spurious_pass_rate_ci, fail_ci
        )

    def _warn_if_not_ok(self, truth: Truth) -> None:
        """A RateStatusWarning when a rate sampled for ``truth`` is not ``ok``."""
        if self.status is TierStatus.FAILED:
            warnings.warn(
                f"tier {self.name} failed (most runs VERIFIER_ERROR): its rates measure nothing",
                RateStatusWarning,
                stacklevel=3,
            )
            return
        names = (
            ("spurious_fail_rate", "timeout_given_valid")
            if truth is Truth.VERIFIED
            else ("spurious_pass_rate", "timeout_given_invalid")
        )
        ok = RateStatus.OK
        bad = {n: self.rate_status[n] for n in names if self.rate_status.get(n, ok) != ok}
        if bad:
            shown = ", ".join(f"{n} is {s}" for n, s in bad.items())
            warnings.warn(
                f"tier {self.name}: sampling rates that are not ok ({shown}); see the "
                "calibration summary for why",
                RateStatusWarning,
                stacklevel=3,
            )

    def to_noise_config(self) -> dict[str, Any]:
        """This tier's part of :meth:`NoiseModel.to_noise_config`."""
        return {
            "timeout_s": self.timeout_s,
            "timeout_rate": self.timeout_rate,
            "timeout_given_valid": self.timeout_given(Truth.VERIFIED),
            "timeout_given_invalid": self.timeout_given(Truth.INVALID),
            "spurious_fail_rate": self.spurious(Truth.VERIFIED),
            "spurious_pass_rate": self.spurious(Truth.INVALID),
            "sampled_from": {name: self.sampling_source(name) for name in _CONDITIONAL},
            "duration_distribution": (
                self.distribution.to_export() if self.distribution is not None else None
            ),
        }


_CONDITIONAL = (
    "spurious_fail_rate",
    "spurious_pass_rate",
    "timeout_given_valid",
    "timeout_given_invalid",
)


def _first(*values: float | None) -> float:
    for v in values:
        if v is not None:
            return v
    return 0.0


def _truth(value: Truth | Outcome | str) -> Truth:
    text = value.value if isinstance(value, Truth | Outcome) else str(value).upper()
    if text in ("VERIFIED",):
        return Truth.VERIFIED
    if text in ("INVALID", "PROOF_INVALID"):
        return Truth.INVALID
    raise ValueError(f"true outcome must be VERIFIED or INVALID (or PROOF_INVALID), got {text}")
