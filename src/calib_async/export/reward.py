"""A checker's verdict as a noisy binary reward, and its unbiased correction.

A reward of 1 when the checker says VERIFIED and 0 otherwise is a noisy copy of the proof's
validity Y. With

- ``false_pass`` = P(reward 1 | invalid) = the spurious-pass rate, and
- ``false_fail`` = P(reward 0 | valid) = the spurious-fail rate, plus the timeout rate given
  valid when a timeout earns no reward (the default),

E[reward | Y] = false_pass + J · Y with J = 1 − false_pass − false_fail (Youden's J). So

    debiased = (reward − false_pass) / J

has E[debiased | Y] = Y exactly (Natarajan et al., NeurIPS 2013, for label noise): a
policy-gradient estimate built on it is unbiased for the true validity. The price is variance:
the debiased reward takes the values −false_pass / J and (1 − false_pass) / J, so its spread
grows like 1 / J; at J ≤ 0 the verdict carries no signal and no correction exists.

**The rates' uncertainty.** The rates are estimates. Plugging in the point estimates leaves a
bias of order (rate error) / J; :meth:`RewardNoise.debiased_bounds` gives the range of the
debiased reward over the rates' intervals (each interval at the export's confidence level, so
the box of both covers the pair with probability at least 1 − 2α). Prefer a tier whose J
interval stays well above 0, and re-calibrate when the checker, its version or the load
changes (``calibrate_noise compare`` says when they did).
"""

from __future__ import annotations

from dataclasses import dataclass

from calib_async.errors import CalibError


@dataclass(frozen=True, slots=True)
class RewardNoise:
    """The two error rates of a binary reward, with their intervals when known."""

    tier: str
    false_pass: float
    false_fail: float
    false_pass_ci: tuple[float, float] | None = None
    false_fail_ci: tuple[float, float] | None = None

    @property
    def youden_j(self) -> float:
        """1 − false_pass − false_fail: the share of the reward that is signal."""
        return 1.0 - self.false_pass - self.false_fail

    def debiased(self, verified: bool) -> float:
        """The unbiased reward for one verdict: (reward − false_pass) / J."""
        return _debias(float(verified), self.false_pass, self.false_fail, self.tier)

    def debiased_bounds(self, verified: bool) -> tuple[float, float]:
        """The debiased reward's range over the rates' intervals (the point value when a rate
        has none). The correction is monotone in each rate, so the corners give the range."""
        fp = self.false_pass_ci or (self.false_pass, self.false_pass)
        ff = self.false_fail_ci or (self.false_fail, self.false_fail)
        values = [_debias(float(verified), p, f, self.tier) for p in fp for f in ff]
        return min(values), max(values)

    def expected(self, valid: bool) -> float:
        """E[raw reward | validity]: what a training run sees on average."""
        return self.false_pass + self.youden_j * float(valid)


def _debias(reward: float, false_pass: float, false_fail: float, tier: str) -> float:
    j = 1.0 - false_pass - false_fail
    if j <= 0.0:
        raise CalibError(
            f"tier {tier}: Youden's J = {j:.3f} <= 0, its verdict carries no signal about "
            "validity; no unbiased correction exists: use a stricter or longer tier"
        )
    return (reward - false_pass) / j
