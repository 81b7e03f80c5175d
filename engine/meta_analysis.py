"""Meta-analysis of single proportions (events / total per study).

Reviews of proportions often pool single-arm case series, most of them tiny and
many of them all-event (n/n) studies.  That drives three design decisions:

* the **primary model is a binomial-logit GLMM** (random intercept), because it
  uses the exact binomial likelihood and needs no continuity correction;
* the inverse-variance models on the **logit** and **Freeman-Tukey** scales are
  reported as sensitivity analyses, following metafor's conventions so that the
  numbers can be cross-checked against ``metafor::rma`` / ``rma.glmm``;
* the **crude pooled proportion** (sum of events / sum of totals) is given
  with Clopper-Pearson and Wilson intervals as a model-free reference.

Public API (all results are frozen dataclasses; proportions are in [0, 1])
--------------------------------------------------------------------------
Intervals for one proportion
    ``clopper_pearson(x, n, level=0.95) -> ProportionCI``   exact (beta quantiles)
    ``wilson(x, n, level=0.95) -> ProportionCI``            Wilson score interval
    ``crude_proportion(events, totals, level=0.95) -> CrudeResult``
        sum(events)/sum(totals) with both intervals.

Per-study effect sizes
    ``logit_transform(events, totals, add=0.5) -> EffectSizes``    measure "PLO"
    ``freeman_tukey_transform(events, totals) -> EffectSizes``      measure "PFT"

Back-transformations
    ``inverse_logit(y)``                         expit, element-wise
    ``freeman_tukey(p, n)``                      metafor ``transf.pft`` (proportion -> PFT)
    ``inverse_freeman_tukey(y, n)``              Miller (1978), per study (``transf.ipft``)
    ``inverse_freeman_tukey_hm(y, totals)``      Miller at the harmonic mean of n
                                                 (``transf.ipft.hm``)

Inverse-variance pooling
    ``pool(effects, method="REML", level=0.95) -> PooledResult``
        method in {"EE" (common effect), "DL", "REML"}.
    ``pool_proportions(events, totals, measure="PLO"|"PFT", method=..., level=...)
        -> PooledResult``   transform + pool in one call.

Binomial-logit GLMM (primary model)
    ``glmm_logit(events, totals, n_nodes=21, level=0.95) -> GLMMResult``

Everything at once
    ``analyse_proportions(events, totals, method="REML", level=0.95, n_nodes=21)
        -> MetaAnalysis``   crude, GLMM, common-effect and random-effects models
        on the logit and Freeman-Tukey scales.

Subgroups
    ``subgroup_test(events, totals, groups, model="GLMM"|"PLO"|"PFT",
                    method="REML", tau2_structure="separate"|"common")
        -> SubgroupTest``
    ``subgroup_analysis(events, totals, groups, method="REML",
                        tau2_structure="separate", n_nodes=21, level=0.95)
        -> SubgroupAnalysis``   one ``MetaAnalysis`` per subgroup plus a
        ``SubgroupTest`` per model.

Conventions (chosen to match metafor; see each function for details)
--------------------------------------------------------------------
* Freeman-Tukey: y = 1/2 [asin sqrt(x/(n+1)) + asin sqrt((x+1)/(n+1))],
  v = 1/(4n + 2) (metafor ``escalc(measure="PFT")``; the classical,
  un-halved transform is exactly 2y with variance 4v = 1/(n + 1/2)).
* Confidence intervals of pooled estimates are Wald intervals with normal
  quantiles (metafor's default ``test="z"``).
* Prediction intervals are mu +/- z * sqrt(tau^2 + SE(mu)^2), i.e. metafor's
  default ``predict.rma`` with normal quantiles.  Higgins et al. (2009)
  propose a t(k-2) quantile instead, which is wider for small k; we keep the
  metafor convention so that the reference values are directly comparable.
* I^2 and H^2 for random-effects models are metafor's
  I^2 = tau^2 / (tau^2 + s^2), H^2 = (tau^2 + s^2) / s^2 with the "typical"
  within-study variance s^2 = (k-1) sum(w) / ((sum w)^2 - sum(w^2)).  For DL
  this equals the familiar (Q - df) / Q; for REML it uses the REML tau^2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

__all__ = [
    "ProportionCI",
    "CrudeResult",
    "EffectSizes",
    "PooledResult",
    "GLMMResult",
    "MetaAnalysis",
    "SubgroupTest",
    "SubgroupAnalysis",
    "clopper_pearson",
    "wilson",
    "crude_proportion",
    "logit_transform",
    "freeman_tukey_transform",
    "inverse_logit",
    "freeman_tukey",
    "inverse_freeman_tukey",
    "inverse_freeman_tukey_hm",
    "pool",
    "pool_proportions",
    "glmm_logit",
    "analyse_proportions",
    "subgroup_test",
    "subgroup_analysis",
]

Measure = Literal["PLO", "PFT"]
Method = Literal["EE", "DL", "REML"]
Model = Literal["GLMM", "PLO", "PFT"]
Tau2Structure = Literal["separate", "common"]

FloatArray = NDArray[np.float64]

# Upper bound for the GLMM between-study SD on the logit scale.  An SD of 10
# logits means proportions spread over essentially all of (0, 1); reaching it
# signals a degenerate fit, which is flagged rather than silently reported.
_TAU_MAX = 10.0


# --------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProportionCI:
    """A proportion with a two-sided confidence interval."""

    estimate: float
    lower: float
    upper: float
    level: float
    method: str


@dataclass(frozen=True)
class CrudeResult:
    """Crude pooled proportion: all patients treated as one sample."""

    events: int
    total: int
    proportion: float
    clopper_pearson: ProportionCI
    wilson: ProportionCI


@dataclass(frozen=True)
class EffectSizes:
    """Per-study transformed proportions and their sampling variances.

    ``corrected`` marks studies that received a continuity correction.
    """

    measure: Measure
    yi: tuple[float, ...]
    vi: tuple[float, ...]
    events: tuple[int, ...]
    totals: tuple[int, ...]
    corrected: tuple[bool, ...]


@dataclass(frozen=True)
class PooledResult:
    """Inverse-variance pooled estimate.

    ``estimate``/``se``/``ci_*``/``pi_*`` are on the transformed scale
    (``measure``); ``proportion*`` are the back-transformed values.
    ``weights`` are the model's percentage weights per study.
    """

    measure: Measure
    method: Method
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    q: float
    q_df: int
    q_p: float
    i2: float
    h2: float
    weights: tuple[float, ...]
    proportion: float
    proportion_ci_lower: float
    proportion_ci_upper: float
    proportion_pi_lower: float
    proportion_pi_upper: float
    level: float

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))


@dataclass(frozen=True)
class GLMMResult:
    """Binomial-logit random-intercept model fitted by maximum likelihood.

    ``mu``/``se``/``ci_*``/``pi_*`` are on the logit scale.  ``estimable`` is
    False when the MLE of mu does not exist (all studies 0/n or all n/n); then
    the logit-scale quantities are +/-inf or NaN and only ``proportion`` (0 or
    1) is meaningful.  ``at_tau_bound`` flags tau hitting the lower bound 0
    (common with all-event data) -- that is a valid ML estimate, not an
    error.  ``at_tau_upper_bound`` flags tau stuck at its upper bound (10 on
    the logit scale): the likelihood keeps rising with tau (e.g. studies at
    both 0% and 100%) and the fit should not be reported.  ``lrt_tau2_*`` is the likelihood-ratio test of tau^2 = 0 with the
    50:50 chi-square(0)/chi-square(1) boundary mixture (Self & Liang 1987).
    ``qe_lrt*`` is metafor's "LRT" heterogeneity test of rma.glmm: the
    common-effect logistic model against the saturated model, df = k - 1.
    """

    k: int
    mu: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    loglik: float
    loglik_tau0: float
    lrt_tau2_stat: float
    lrt_tau2_p: float
    qe_lrt: float
    qe_lrt_df: int
    qe_lrt_p: float
    proportion: float
    proportion_ci_lower: float
    proportion_ci_upper: float
    proportion_pi_lower: float
    proportion_pi_upper: float
    n_nodes: int
    estimable: bool
    at_tau_bound: bool
    at_tau_upper_bound: bool
    level: float

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))


@dataclass(frozen=True)
class MetaAnalysis:
    """All models of the review for one set of studies."""

    crude: CrudeResult
    glmm: GLMMResult
    re_logit: PooledResult
    re_ft: PooledResult
    ce_logit: PooledResult
    ce_ft: PooledResult


@dataclass(frozen=True)
class SubgroupTest:
    """Test for subgroup differences (chi-square with ``df`` = groups - 1).

    ``model`` is "GLMM", "PLO" or "PFT"; ``method`` the tau^2 estimator of
    the inverse-variance models (ignored for the GLMM, which is ML).
    ``note`` explains why the statistic is NaN when it is.
    """

    model: Model
    method: Method
    tau2_structure: Tau2Structure
    q_between: float
    df: int
    p_value: float
    note: str = ""


@dataclass(frozen=True)
class SubgroupAnalysis:
    """Per-subgroup analyses (in ``labels`` order) and subgroup tests."""

    labels: tuple[str, ...]
    within: tuple[MetaAnalysis, ...]
    tests: tuple[SubgroupTest, ...]

    def test(self, model: Model) -> SubgroupTest:
        """The subgroup test for ``model``."""
        for t in self.tests:
            if t.model == model:
                return t
        raise KeyError(model)


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def check_counts(events: ArrayLike, totals: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    x = np.atleast_1d(np.asarray(events))
    n = np.atleast_1d(np.asarray(totals))
    if x.shape != n.shape or x.ndim != 1:
        raise ValueError("events and totals must be 1-d sequences of equal length")
    if x.size == 0:
        raise ValueError("at least one study is needed")
    # Counts arrive from CSV files, so accept floats that are whole numbers.
    if not (np.all(np.mod(x, 1) == 0) and np.all(np.mod(n, 1) == 0)):
        raise ValueError("events and totals must be whole numbers")
    xi = x.astype(np.int64)
    ni = n.astype(np.int64)
    if np.any(ni < 1) or np.any(xi < 0) or np.any(xi > ni):
        raise ValueError("need 0 <= events <= totals and totals >= 1")
    return xi, ni


def normal_quantile(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    return float(stats.norm.ppf(0.5 + level / 2.0))


# --------------------------------------------------------------------------
# Single-proportion intervals
# --------------------------------------------------------------------------


def clopper_pearson(x: int, n: int, level: float = 0.95) -> ProportionCI:
    """Clopper-Pearson "exact" interval from beta quantiles.

    The bounds are by definition 0 for x = 0 and 1 for x = n; the beta
    quantile is undefined there, hence the explicit branches.
    """
    xi, ni = (int(v[0]) for v in check_counts([x], [n]))
    alpha = 1.0 - level
    normal_quantile(level)
    lower = 0.0 if xi == 0 else float(stats.beta.ppf(alpha / 2, xi, ni - xi + 1))
    upper = 1.0 if xi == ni else float(stats.beta.ppf(1 - alpha / 2, xi + 1, ni - xi))
    return ProportionCI(xi / ni, lower, upper, level, "Clopper-Pearson")


def wilson(x: int, n: int, level: float = 0.95) -> ProportionCI:
    """Wilson score interval (no continuity correction)."""
    xi, ni = (int(v[0]) for v in check_counts([x], [n]))
    z = normal_quantile(level)
    p = xi / ni
    denom = 1.0 + z * z / ni
    centre = (p + z * z / (2 * ni)) / denom
    half = z * np.sqrt(p * (1 - p) / ni + z * z / (4 * ni * ni)) / denom
    # At x = 0 (x = n) the exact lower (upper) bound is 0 (1), but
    # centre - half cancels to a rounding residue like 5e-17 that would put
    # the estimate outside its own interval; set the bounds exactly.
    lower = 0.0 if xi == 0 else max(0.0, float(centre - half))
    upper = 1.0 if xi == ni else min(1.0, float(centre + half))
    return ProportionCI(p, lower, upper, level, "Wilson")


def crude_proportion(events: ArrayLike, totals: ArrayLike, level: float = 0.95) -> CrudeResult:
    """Pool all patients as if they were one sample.

    Ignores between-study heterogeneity, so its intervals are too narrow when
    studies differ; it is a descriptive reference, not an inferential model.
    """
    x, n = check_counts(events, totals)
    sx, sn = int(x.sum()), int(n.sum())
    return CrudeResult(sx, sn, sx / sn, clopper_pearson(sx, sn, level), wilson(sx, sn, level))


# --------------------------------------------------------------------------
# Transformations
# --------------------------------------------------------------------------


def logit_transform(events: ArrayLike, totals: ArrayLike, add: float = 0.5) -> EffectSizes:
    """Logit of each study's proportion and its delta-method variance.

    The logit of 0/n or n/n is infinite, so -- as metafor's default
    ``escalc(measure="PLO", add=1/2, to="only0")`` -- ``add`` is added to the
    events and the non-events of those studies only; other studies are left
    untouched so that the correction does not shift every estimate.  With
    many tiny n/n studies the correction is far from innocuous (1/1 becomes
    1.5/2 = 75%), which is why the GLMM is the primary model.
    """
    x, n = check_counts(events, totals)
    corrected = (x == 0) | (x == n)
    a = x + np.where(corrected, add, 0.0)
    b = (n - x) + np.where(corrected, add, 0.0)
    with np.errstate(divide="ignore"):
        yi = np.log(a) - np.log(b)
        vi = 1.0 / a + 1.0 / b
    return EffectSizes(
        "PLO",
        tuple(map(float, yi)),
        tuple(map(float, vi)),
        tuple(map(int, x)),
        tuple(map(int, n)),
        tuple(map(bool, corrected)),
    )


def freeman_tukey_transform(events: ArrayLike, totals: ArrayLike) -> EffectSizes:
    """Freeman-Tukey double arcsine, metafor ``escalc(measure="PFT")``.

    y = 1/2 [asin sqrt(x/(n+1)) + asin sqrt((x+1)/(n+1))], v = 1/(4n + 2).
    This is half of the classical Freeman-Tukey (1950) statistic (variance
    1/(n + 1/2)); the halving puts y on the scale of asin(sqrt(p)), so the
    Miller back-transformation applies directly.  The transform is finite
    at 0 and n, so no continuity correction is used.
    """
    x, n = check_counts(events, totals)
    yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))
    vi = 1.0 / (4.0 * n + 2.0)
    return EffectSizes(
        "PFT",
        tuple(map(float, yi)),
        tuple(map(float, vi)),
        tuple(map(int, x)),
        tuple(map(int, n)),
        tuple(False for _ in x),
    )


def inverse_logit(y: ArrayLike) -> FloatArray:
    """expit(y) = 1 / (1 + exp(-y)), element-wise (inf maps to 0 or 1)."""
    return np.asarray(special.expit(np.asarray(y, dtype=float)), dtype=float)


def freeman_tukey(p: ArrayLike, n: ArrayLike) -> FloatArray:
    """Transform a proportion p with sample size n to the (halved) PFT scale.

    Equivalent to ``freeman_tukey_transform`` with x = p n, but defined for
    non-integer n as needed for the harmonic mean (metafor ``transf.pft``).
    """
    pa = np.asarray(p, dtype=float)
    na = np.asarray(n, dtype=float)
    xa = pa * na
    return 0.5 * (np.arcsin(np.sqrt(xa / (na + 1.0))) + np.arcsin(np.sqrt((xa + 1.0) / (na + 1.0))))


def _miller(y: FloatArray, n: FloatArray) -> FloatArray:
    """Miller (1978) inverse with metafor's clipping rule (``transf.ipft``).

    The closed form is only valid between the transforms of p = 0 and p = 1
    for the given n; pooled estimates and CI bounds can fall outside, and
    are then mapped to 0 or 1 rather than to a spurious interior value.
    """
    y, n = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(n, dtype=float))
    s = np.sin(2.0 * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1.0 - (s + (s - 1.0 / s) / n) ** 2
        p = 0.5 * (1.0 - np.sign(np.cos(2.0 * y)) * np.sqrt(inner))
    p = np.where(y > freeman_tukey(1.0, n), 1.0, p)
    p = np.where(y < freeman_tukey(0.0, n), 0.0, p)
    return np.asarray(p, dtype=float)


def inverse_freeman_tukey(y: ArrayLike, n: ArrayLike) -> FloatArray:
    """Back-transform per-study PFT values with their own n (Miller 1978)."""
    return _miller(np.asarray(y, dtype=float), np.asarray(n, dtype=float))


def inverse_freeman_tukey_hm(y: ArrayLike, totals: ArrayLike) -> FloatArray:
    """Back-transform pooled PFT values at the harmonic mean of the n's.

    A pooled estimate has no sample size of its own; Miller (1978) suggests
    the harmonic mean, as does metafor's ``transf.ipft.hm``.
    """
    na = np.asarray(totals, dtype=float)
    n_hm = 1.0 / np.mean(1.0 / na)
    return _miller(np.asarray(y, dtype=float), np.asarray(n_hm))


def _back_transform(measure: Measure, y: ArrayLike, totals: Sequence[int]) -> FloatArray:
    if measure == "PLO":
        return inverse_logit(y)
    return inverse_freeman_tukey_hm(y, totals)


# --------------------------------------------------------------------------
# Inverse-variance pooling
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _WLSFit:
    """A weighted least-squares fit with weights 1 / (v + tau^2), and what the tau^2 estimators need of
    the matrix P = W - W X (X'WX)^-1 X'W: P y and the trace of P.

    P is k x k (a review of 100,000 studies would need 75 GiB for it); both are computed from p-sized
    sums instead: P y = W (y - X b), and tr(P) = sum(w) - tr((X'WX)^-1 X'W^2 X). Memory grows
    linearly with the studies.
    """

    b: FloatArray
    vb: FloatArray
    py: FloatArray
    trace_p: float


def _fe_fit(y: FloatArray, v: FloatArray, X: FloatArray, tau2: float) -> _WLSFit:
    """Weighted least squares: coefficients, their covariance, P y and tr(P) (see _WLSFit)."""
    w = 1.0 / (v + tau2)
    XtW = X.T * w
    vb = np.linalg.inv(XtW @ X)
    b = vb @ (XtW @ y)
    py = w * (y - X @ b)
    # tr(vb A) for symmetric vb and A = X'W^2X is the sum of their elementwise product.
    trace_p = float(np.sum(w) - np.sum(vb * ((X.T * w**2) @ X)))
    return _WLSFit(b, vb, py, trace_p)


def _tau2_dl(y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    """DerSimonian-Laird (method of moments), generalised to meta-regression
    as in metafor: (Q_E - (k - p)) / tr(P), truncated at 0."""
    k, p = X.shape
    if k <= p:
        return 0.0
    fit = _fe_fit(y, v, X, 0.0)
    qe = float(y @ fit.py)
    return max(0.0, (qe - (k - p)) / fit.trace_p)


def _tau2_reml(y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    """REML tau^2 as the root of the restricted score, tau^2 >= 0.

    Root-finding on the score (rather than maximising the likelihood with an
    optimiser that never evaluates the bound) returns exactly 0 when the
    score is non-positive at the boundary, and a bracketed root otherwise.
    """
    k, p = X.shape
    if k <= p:
        return 0.0

    def score(t2: float) -> float:
        fit = _fe_fit(y, v, X, t2)
        return 0.5 * (float(fit.py @ fit.py) - fit.trace_p)

    if score(0.0) <= 0.0:
        return 0.0
    hi = max(1.0, 10.0 * float(np.var(y)))
    while score(hi) > 0.0:
        hi *= 10.0
        if hi > 1e12:  # pragma: no cover - needs absurd data
            raise RuntimeError("REML tau^2 did not bracket")
    return float(optimize.brentq(score, 0.0, hi, xtol=1e-14, rtol=1e-13, maxiter=500))


def _tau2(method: Method, y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    if method == "EE":
        return 0.0
    if method == "DL":
        return _tau2_dl(y, v, X)
    if method == "REML":
        return _tau2_reml(y, v, X)
    raise ValueError(f"unknown method {method!r}")


def pool(effects: EffectSizes, method: Method = "REML", level: float = 0.95) -> PooledResult:
    """Inverse-variance pooling of transformed proportions.

    ``method="EE"`` is the common-effect (fixed-effect) model; "DL" and "REML"
    are random-effects models differing in the tau^2 estimator, both with
    tau^2 >= 0.  Q is always the common-effect Cochran Q.
    """
    z = normal_quantile(level)
    y = np.asarray(effects.yi, dtype=float)
    v = np.asarray(effects.vi, dtype=float)
    k = y.size
    X = np.ones((k, 1))
    w_fe = 1.0 / v
    mu_fe = float(np.sum(w_fe * y) / np.sum(w_fe))
    q = float(np.sum(w_fe * (y - mu_fe) ** 2))
    df = k - 1
    q_p = float(stats.chi2.sf(q, df)) if df > 0 else float("nan")

    tau2 = _tau2(method, y, v, X)
    fit = _fe_fit(y, v, X, tau2)
    mu, se = float(fit.b[0]), float(np.sqrt(fit.vb[0, 0]))
    w = 1.0 / (v + tau2)

    if df == 0:
        i2 = h2 = float("nan")
    elif method == "EE":
        # metafor's EE convention: I^2 and H^2 from Q directly.
        i2 = max(0.0, 100.0 * (q - df) / q) if q > 0 else 0.0
        h2 = q / df
    else:
        s2 = df * np.sum(w_fe) / (np.sum(w_fe) ** 2 - np.sum(w_fe**2))
        i2 = float(100.0 * tau2 / (tau2 + s2))
        h2 = float((tau2 + s2) / s2)

    ci = (mu - z * se, mu + z * se)
    pi_half = z * np.sqrt(tau2 + se * se)
    pi = (mu - pi_half, mu + pi_half)
    back = _back_transform(effects.measure, [mu, *ci, *pi], effects.totals)
    return PooledResult(
        measure=effects.measure,
        method=method,
        k=k,
        estimate=mu,
        se=se,
        ci_lower=ci[0],
        ci_upper=ci[1],
        pi_lower=float(pi[0]),
        pi_upper=float(pi[1]),
        tau2=tau2,
        q=q,
        q_df=df,
        q_p=q_p,
        i2=float(i2),
        h2=float(h2),
        weights=tuple(map(float, 100.0 * w / np.sum(w))),
        proportion=float(back[0]),
        proportion_ci_lower=float(back[1]),
        proportion_ci_upper=float(back[2]),
        proportion_pi_lower=float(back[3]),
        proportion_pi_upper=float(back[4]),
        level=level,
    )


def _effects(measure: Measure, events: ArrayLike, totals: ArrayLike) -> EffectSizes:
    if measure == "PLO":
        return logit_transform(events, totals)
    if measure == "PFT":
        return freeman_tukey_transform(events, totals)
    raise ValueError(f"unknown measure {measure!r}")


def pool_proportions(
    events: ArrayLike,
    totals: ArrayLike,
    measure: Measure = "PLO",
    method: Method = "REML",
    level: float = 0.95,
) -> PooledResult:
    """Transform (``measure`` "PLO" or "PFT") and pool in one call."""
    return pool(_effects(measure, events, totals), method=method, level=level)


# --------------------------------------------------------------------------
# GLMM
# --------------------------------------------------------------------------


def _glmm_loglik_terms(
    beta: FloatArray,
    tau: float,
    x: FloatArray,
    n: FloatArray,
    X: FloatArray,
    log_binom: FloatArray,
    t_nodes: FloatArray,
    log_w: FloatArray,
) -> FloatArray:
    """Per-study marginal log-likelihood by adaptive Gauss-Hermite quadrature.

    The random effect is written u = tau * z with z ~ N(0, 1), so the
    integrand stays well-defined at tau = 0 (then the quadrature is exact)
    and the likelihood is an even, smooth function of tau: the boundary
    tau = 0 needs no special treatment in the optimiser.  Each study's
    integrand is centred at its mode and scaled by its curvature, which keeps
    a modest number of nodes accurate even for extreme (n/n) studies.
    """
    eta = X @ beta

    def g(z: FloatArray) -> FloatArray:
        e = eta[:, None] + tau * z if z.ndim == 2 else eta + tau * z
        xx = x[:, None] if z.ndim == 2 else x
        nn = n[:, None] if z.ndim == 2 else n
        return xx * e - nn * np.logaddexp(0.0, e) - 0.5 * z * z

    # The integrand is log-concave in z, so its mode is the unique root of
    # g'(z) = tau (x - n p) - z, which lies in [tau (x - n), tau x]; Newton
    # steps are safeguarded by bisection on that bracket.
    lo = np.minimum(tau * (x - n), tau * x)
    hi = np.maximum(tau * (x - n), tau * x)
    zm = np.zeros_like(x)
    zm = np.clip(zm, lo, hi)
    for _ in range(200):
        p = special.expit(eta + tau * zm)
        d1 = tau * (x - n * p) - zm
        d2 = -(tau * tau) * n * p * (1.0 - p) - 1.0
        lo = np.where(d1 > 0, zm, lo)
        hi = np.where(d1 <= 0, zm, hi)
        step = -d1 / d2
        znew = zm + step
        outside = (znew <= lo) | (znew >= hi)
        znew = np.where(outside & (hi > lo), 0.5 * (lo + hi), znew)
        done = np.max(np.abs(znew - zm)) < 1e-13
        zm = znew
        if done:
            break
    p = special.expit(eta + tau * zm)
    scale = 1.0 / np.sqrt(tau * tau * n * p * (1.0 - p) + 1.0)
    nodes = zm[:, None] + np.sqrt(2.0) * scale[:, None] * t_nodes[None, :]
    log_terms = log_w[None, :] + t_nodes[None, :] ** 2 + g(nodes)
    return (
        log_binom
        - 0.5 * np.log(2.0 * np.pi)
        + np.log(np.sqrt(2.0) * scale)
        + special.logsumexp(log_terms, axis=1)
    )


@dataclass(frozen=True)
class GLMMFit:
    beta: FloatArray
    tau: float
    loglik: float
    cov: FloatArray  # covariance of beta
    at_tau_bound: bool
    at_tau_max: bool


def glmm_loglik(x: FloatArray, n: FloatArray, X: FloatArray, n_nodes: int) -> Callable[[FloatArray], float]:
    """The GLMM's marginal log-likelihood as a function of theta = (beta, tau)."""
    if n_nodes < 7:
        raise ValueError("use at least 7 quadrature nodes")
    t_nodes, w_nodes = np.polynomial.hermite.hermgauss(n_nodes)
    log_w = np.log(w_nodes)
    log_binom = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    p_dim = X.shape[1]

    def loglik(theta: FloatArray) -> float:
        return float(np.sum(_glmm_loglik_terms(theta[:p_dim], abs(theta[p_dim]), x, n, X, log_binom, t_nodes, log_w)))

    return loglik


def fit_glmm(x: FloatArray, n: FloatArray, X: FloatArray, n_nodes: int) -> GLMMFit:
    """ML fit of logit(p_i) = X_i beta + u_i, u_i ~ N(0, tau^2)."""
    loglik = glmm_loglik(x, n, X, n_nodes)
    p_dim = X.shape[1]

    def negll(theta: FloatArray) -> float:
        return -loglik(theta)

    # Start from the common-effect logistic fit (tau = 0), itself an ML fit.
    beta0 = fit_logistic(x, n, X)
    best: optimize.OptimizeResult | None = None
    # Several tau starts: the likelihood is flat near tau = 0 (even in tau),
    # and L-BFGS-B started at tau = 0 would never leave it.
    for tau_start in (0.1, 0.5, 1.5):
        res = optimize.minimize(
            negll,
            np.append(beta0, tau_start),
            method="L-BFGS-B",
            bounds=[(-50.0, 50.0)] * p_dim + [(0.0, _TAU_MAX)],
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    theta = _newton_polish(loglik, np.asarray(best.x, dtype=float))
    if abs(theta[p_dim]) > _TAU_MAX:
        # The likelihood still rises towards tau = infinity (e.g. studies at
        # 0% and 100%); keep the bounded solution and flag it.
        theta = np.asarray(best.x, dtype=float)
    # The tau = 0 model is nested: never report a worse likelihood than it,
    # and prefer it when it is as good -- with Bernoulli (n = 1) studies the
    # likelihood has a flat ridge in (mu, tau) and tau is not identified.
    theta0 = np.append(beta0, 0.0)
    if loglik(theta0) >= loglik(theta) - 1e-9:
        theta = theta0
    theta[p_dim] = abs(theta[p_dim])
    tau = float(theta[p_dim])

    H = _hessian(loglik, theta)
    info = -H
    cov_beta: FloatArray
    try:
        # Joint inverse so that SE(beta) accounts for the estimated tau.
        if np.all(np.linalg.eigvalsh(info) > 0):
            cov_beta = np.linalg.inv(info)[:p_dim, :p_dim]
        else:
            cov_beta = np.linalg.inv(info[:p_dim, :p_dim])
    except np.linalg.LinAlgError:
        cov_beta = np.full((p_dim, p_dim), np.nan)
    return GLMMFit(
        beta=theta[:p_dim].copy(),
        tau=tau,
        loglik=loglik(theta),
        cov=cov_beta,
        at_tau_bound=tau < 1e-4,
        at_tau_max=tau > _TAU_MAX - 1e-3,
    )


def fit_logistic(x: FloatArray, n: FloatArray, X: FloatArray) -> FloatArray:
    """Binomial GLM (tau = 0) by Newton-Raphson; requires no separation."""
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        p = special.expit(X @ beta)
        grad = X.T @ (x - n * p)
        info = (X.T * (n * p * (1 - p))) @ X
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return beta


def _gradient(f: Callable[[FloatArray], float], theta: FloatArray) -> FloatArray:
    h = 1e-5 * np.maximum(1.0, np.abs(theta))
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h[i]
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h[i])
    return g


def _hessian(f: Callable[[FloatArray], float], theta: FloatArray) -> FloatArray:
    """Central-difference Hessian.  At tau = 0 the tau-steps straddle the
    boundary; that is valid because the likelihood is even in tau."""
    h = 1e-4 * np.maximum(1.0, np.abs(theta))
    m = theta.size
    H = np.empty((m, m))
    f0 = f(theta)
    for i in range(m):
        ei = np.zeros(m)
        ei[i] = h[i]
        H[i, i] = (f(theta + ei) - 2 * f0 + f(theta - ei)) / h[i] ** 2
        for j in range(i + 1, m):
            ej = np.zeros(m)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / (4 * h[i] * h[j])
    return H


def _newton_polish(f: Callable[[FloatArray], float], theta: FloatArray) -> FloatArray:
    """A few damped Newton steps from the quasi-Newton solution.

    L-BFGS-B with finite-difference gradients stops around 1e-5 from the
    optimum; Newton on the (smooth, even-in-tau) likelihood sharpens that.
    It stops, keeping the current point, as soon as the Hessian is not
    negative definite or no step increases the likelihood.
    """
    theta = theta.copy()
    for _ in range(20):
        H = _hessian(f, theta)
        if not np.all(np.linalg.eigvalsh(H) < 0):
            break
        step = -np.linalg.solve(H, _gradient(f, theta))
        f_old = f(theta)
        for _ in range(30):
            if f(theta + step) >= f_old:
                break
            step /= 2.0
        else:
            break
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta


def glmm_logit(
    events: ArrayLike,
    totals: ArrayLike,
    n_nodes: int = 21,
    level: float = 0.95,
) -> GLMMResult:
    """Binomial-logit random-intercept GLMM by ML (adaptive Gauss-Hermite).

    Model: x_i ~ Binomial(n_i, expit(mu + u_i)), u_i ~ N(0, tau^2) -- as
    ``metafor::rma.glmm(measure="PLO")`` (which calls lme4's glmer with
    7-point adaptive quadrature by default).  Estimation maximises the
    marginal likelihood over (mu, tau) with tau in [0, 10]; tau = 0 is an
    admissible estimate.  SE(mu) comes from the inverse observed information
    (numerical Hessian in (mu, tau)); intervals are Wald intervals on the
    logit scale, back-transformed with expit.  The prediction interval is
    mu +/- z sqrt(tau^2 + SE^2).
    """
    xi, ni = check_counts(events, totals)
    k = xi.size
    z = normal_quantile(level)
    x = xi.astype(float)
    n = ni.astype(float)
    X = np.ones((k, 1))

    # With no failures (or no successes) at all the likelihood increases
    # without bound in mu: the MLE does not exist.  Report that explicitly.
    if x.sum() in (0.0, n.sum()):
        p_hat = float(x.sum() / n.sum())
        inf = np.inf if p_hat == 1.0 else -np.inf
        nan = float("nan")
        return GLMMResult(
            k=k, mu=inf, se=nan, ci_lower=nan, ci_upper=nan, pi_lower=nan, pi_upper=nan,
            tau2=nan, loglik=0.0, loglik_tau0=0.0, lrt_tau2_stat=nan, lrt_tau2_p=nan,
            qe_lrt=0.0, qe_lrt_df=k - 1, qe_lrt_p=nan,
            proportion=p_hat, proportion_ci_lower=nan, proportion_ci_upper=nan,
            proportion_pi_lower=nan, proportion_pi_upper=nan,
            n_nodes=n_nodes, estimable=False, at_tau_bound=False, at_tau_upper_bound=False,
            level=level,
        )

    fit = fit_glmm(x, n, X, n_nodes)
    mu = float(fit.beta[0])
    se = float(np.sqrt(fit.cov[0, 0]))
    tau2 = fit.tau**2

    beta0 = fit_logistic(x, n, X)
    p0 = special.expit(X @ beta0)
    log_binom = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    ll0 = float(np.sum(log_binom + x * np.log(p0) + (n - x) * np.log1p(-p0)))
    lrt = 2.0 * (fit.loglik - ll0)
    # Under the boundary mixture the statistic 0 has p = 1 while 0+ has
    # p = 0.5; round optimiser noise to 0 so that the jump is not random.
    lrt = 0.0 if lrt < 1e-8 else lrt
    lrt_p = 0.5 * float(stats.chi2.sf(lrt, 1)) if lrt > 0 else 1.0

    # Binomial deviance of the common-effect model (0 log 0 = 0).
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2.0 * np.sum(
            special.xlogy(x, x / (n * p0)) + special.xlogy(n - x, (n - x) / (n * (1 - p0)))
        )
    qe_df = k - 1
    qe_p = float(stats.chi2.sf(dev, qe_df)) if qe_df > 0 else float("nan")

    ci = (mu - z * se, mu + z * se)
    half = z * np.sqrt(tau2 + se * se)
    pi = (mu - half, mu + half)
    back = inverse_logit([mu, *ci, *pi])
    return GLMMResult(
        k=k,
        mu=mu,
        se=se,
        ci_lower=ci[0],
        ci_upper=ci[1],
        pi_lower=float(pi[0]),
        pi_upper=float(pi[1]),
        tau2=tau2,
        loglik=fit.loglik,
        loglik_tau0=ll0,
        lrt_tau2_stat=lrt,
        lrt_tau2_p=lrt_p,
        qe_lrt=float(dev),
        qe_lrt_df=qe_df,
        qe_lrt_p=qe_p,
        proportion=float(back[0]),
        proportion_ci_lower=float(back[1]),
        proportion_ci_upper=float(back[2]),
        proportion_pi_lower=float(back[3]),
        proportion_pi_upper=float(back[4]),
        n_nodes=n_nodes,
        estimable=True,
        at_tau_bound=fit.at_tau_bound,
        at_tau_upper_bound=fit.at_tau_max,
        level=level,
    )


# --------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------


def analyse_proportions(
    events: ArrayLike,
    totals: ArrayLike,
    method: Method = "REML",
    level: float = 0.95,
    n_nodes: int = 21,
) -> MetaAnalysis:
    """Crude, GLMM, common-effect and random-effects (``method``) models."""
    return MetaAnalysis(
        crude=crude_proportion(events, totals, level),
        glmm=glmm_logit(events, totals, n_nodes=n_nodes, level=level),
        re_logit=pool_proportions(events, totals, "PLO", method, level),
        re_ft=pool_proportions(events, totals, "PFT", method, level),
        ce_logit=pool_proportions(events, totals, "PLO", "EE", level),
        ce_ft=pool_proportions(events, totals, "PFT", "EE", level),
    )


# --------------------------------------------------------------------------
# Subgroups
# --------------------------------------------------------------------------


def _group_labels(groups: Sequence[object], k: int) -> tuple[list[str], NDArray[np.int64]]:
    g = [str(v) for v in groups]
    if len(g) != k:
        raise ValueError("groups must have one entry per study")
    # Order of first appearance, so tables and plots follow the data file.
    labels = list(dict.fromkeys(g))
    idx = np.array([labels.index(v) for v in g], dtype=np.int64)
    return labels, idx


def _q_between(est: FloatArray, se: FloatArray) -> float:
    w = 1.0 / se**2
    mean = np.sum(w * est) / np.sum(w)
    return float(np.sum(w * (est - mean) ** 2))


def subgroup_test(
    events: ArrayLike,
    totals: ArrayLike,
    groups: Sequence[object],
    model: Model = "GLMM",
    method: Method = "REML",
    tau2_structure: Tau2Structure = "separate",
    n_nodes: int = 21,
) -> SubgroupTest:
    """Test for subgroup differences, chi-square on (groups - 1) df.

    ``tau2_structure="separate"`` (RevMan / meta's default): each subgroup
    gets its own model and tau^2, and Q_between = sum w_g (mu_g - mu_w)^2
    with w_g = 1/SE(mu_g)^2.  ``"common"``: one model with group
    indicators and a single tau^2, tested by the Wald statistic of the group
    effects -- metafor's QM of ``rma(yi, vi, mods = ~ group)`` (or
    ``rma.glmm(..., mods = ~ group)`` for the GLMM).  With tiny subgroups
    the common tau^2 borrows strength; separate tau^2 is robust to
    heterogeneity that differs between groups.
    """
    xi, ni = check_counts(events, totals)
    labels, idx = _group_labels(groups, xi.size)
    G = len(labels)
    df = G - 1
    nan = float("nan")
    if G < 2:
        return SubgroupTest(model, method, tau2_structure, nan, df, nan, "fewer than two subgroups")

    if model == "GLMM":
        separated = [
            lab for j, lab in enumerate(labels) if xi[idx == j].sum() in (0, ni[idx == j].sum())
        ]
        if separated:
            # An all-event subgroup has no finite logit estimate, so no
            # Wald statistic exists; say so instead of returning a number
            # driven by the optimiser's bounds.
            note = "GLMM not estimable in subgroup(s) with all or no events: " + ", ".join(separated)
            return SubgroupTest(model, method, tau2_structure, nan, df, nan, note)

    if tau2_structure == "separate":
        est = np.empty(G)
        se = np.empty(G)
        for j in range(G):
            sel = idx == j
            if model == "GLMM":
                r = glmm_logit(xi[sel], ni[sel], n_nodes=n_nodes)
                est[j], se[j] = r.mu, r.se
            else:
                pr = pool_proportions(xi[sel], ni[sel], model, method)
                est[j], se[j] = pr.estimate, pr.se
        q = _q_between(est, se)
    elif tau2_structure == "common":
        X = np.zeros((xi.size, G))
        X[:, 0] = 1.0
        for j in range(1, G):
            X[idx == j, j] = 1.0
        if model == "GLMM":
            fit = fit_glmm(xi.astype(float), ni.astype(float), X, n_nodes)
            b, vb = fit.beta, fit.cov
        else:
            es = _effects(model, xi, ni)
            y = np.asarray(es.yi)
            v = np.asarray(es.vi)
            tau2 = _tau2(method, y, v, X)
            fit = _fe_fit(y, v, X, tau2)
            b, vb = fit.b, fit.vb
        bg = b[1:]
        q = float(bg @ np.linalg.solve(vb[1:, 1:], bg))
    else:
        raise ValueError(f"unknown tau2_structure {tau2_structure!r}")
    return SubgroupTest(model, method, tau2_structure, q, df, float(stats.chi2.sf(q, df)))


def subgroup_analysis(
    events: ArrayLike,
    totals: ArrayLike,
    groups: Sequence[object],
    method: Method = "REML",
    tau2_structure: Tau2Structure = "separate",
    n_nodes: int = 21,
    level: float = 0.95,
) -> SubgroupAnalysis:
    """All models within each subgroup, and a subgroup test for each of the
    GLMM, random-effects logit and random-effects Freeman-Tukey models."""
    xi, ni = check_counts(events, totals)
    labels, idx = _group_labels(groups, xi.size)
    within = tuple(
        analyse_proportions(xi[idx == j], ni[idx == j], method, level, n_nodes) for j in range(len(labels))
    )
    tests = tuple(
        subgroup_test(xi, ni, groups, model, method, tau2_structure, n_nodes)
        for model in ("GLMM", "PLO", "PFT")
    )
    return SubgroupAnalysis(tuple(labels), within, tests)
