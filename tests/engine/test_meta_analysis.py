"""Tests for engine/meta_analysis.py.

Reference values come from three independent sources:

* published values: Miller (1978) as reproduced in metafor's own test suite,
  ``tests/testthat/test_analysis_example_miller1978.r`` of
  github.com/wviechtb/metafor (values from page 138 of Miller 1978, and
  metafor's checks of ``transf.ipft`` / ``transf.ipft.hm``);
* hand computations written out in the comments;
* a one-off run of R (metafor 3.8.1, lme4 1.1.31) stored in
  ``tests/engine/reference/metafor_reference.json`` by
  ``tests/engine/reference/metafor_reference.R``.  R is not needed to run these tests.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.meta_analysis import (  # noqa: E402
    EffectSizes,
    analyse_proportions,
    clopper_pearson,
    crude_proportion,
    freeman_tukey,
    freeman_tukey_transform,
    glmm_logit,
    inverse_freeman_tukey,
    inverse_freeman_tukey_hm,
    inverse_logit,
    logit_transform,
    pool,
    pool_proportions,
    subgroup_analysis,
    subgroup_test,
    wilson,
)

REF: dict[str, Any] = json.loads((ROOT / "tests" / "engine" / "reference" / "metafor_reference.json").read_text())

IVIG_X = [2, 1, 2, 1, 8, 1, 1, 4, 10, 7, 1, 1, 9, 2, 1, 24, 1]
IVIG_N = [2, 1, 2, 1, 9, 1, 1, 5, 11, 7, 1, 1, 9, 2, 1, 25, 1]

# Reproducible property tests: the same examples on every run and machine.
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
GLMM_PROPERTY = settings(max_examples=15, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow])


def _effects(yi: list[float], vi: list[float]) -> EffectSizes:
    """Generic effect sizes for testing the pooling arithmetic alone."""
    k = len(yi)
    return EffectSizes("PLO", tuple(yi), tuple(vi), (0,) * k, (1,) * k, (False,) * k)


# --------------------------------------------------------------------------
# Miller (1978) via metafor's test suite
# --------------------------------------------------------------------------


class TestMiller1978:
    """metafor tests/testthat/test_analysis_example_miller1978.r.

    metafor's PFT is half the classical Freeman-Tukey value, hence the test
    values 2*y_i and 4*v_i (Miller 1978, p. 138, uses the un-halved form).
    """

    x = [3, 6, 10, 1]
    n = [11, 17, 21, 6]

    def test_transformed_values(self) -> None:
        es = freeman_tukey_transform(self.x, self.n)
        np.testing.assert_allclose(2 * np.array(es.yi), [1.1391, 1.2888, 1.5253, 0.9515], atol=5e-5)
        np.testing.assert_allclose(4 * np.array(es.vi), [0.0870, 0.0571, 0.0465, 0.1538], atol=5e-5)

    def test_weighted_common_effect(self) -> None:
        res = pool(freeman_tukey_transform(self.x, self.n), method="EE")
        assert 2 * res.estimate == pytest.approx(1.3093, abs=5e-5)
        assert res.proportion == pytest.approx(0.3595, abs=5e-5)

    def test_unweighted_common_effect(self) -> None:
        es = freeman_tukey_transform(self.x, self.n)
        mean = float(np.mean(es.yi))
        assert 2 * mean == pytest.approx(1.2262, abs=5e-5)
        assert float(inverse_freeman_tukey_hm(mean, self.n)) == pytest.approx(0.3164, abs=5e-5)

    def test_per_study_back_transform_is_exact(self) -> None:
        x, n = [0, 4, 9, 16, 20], [10, 10, 15, 20, 20]
        es = freeman_tukey_transform(x, n)
        np.testing.assert_allclose(inverse_freeman_tukey(es.yi, n), [0.0, 0.4, 0.6, 0.8, 1.0], atol=1e-12)

    def test_zero_and_one(self) -> None:
        es = freeman_tukey_transform([0, 10], [10, 10])
        np.testing.assert_array_equal(inverse_freeman_tukey(es.yi, es.totals), [0.0, 1.0])

    def test_pooled_with_zero_and_one(self) -> None:
        res = pool(freeman_tukey_transform([0, 4, 9, 16, 20], [10, 10, 15, 20, 20]), method="EE")
        assert res.proportion == pytest.approx(0.6886, abs=5e-5)
        assert res.proportion_ci_lower == pytest.approx(0.5734, abs=5e-5)
        assert res.proportion_ci_upper == pytest.approx(0.7943, abs=5e-5)

    def test_clipping_outside_the_range(self) -> None:
        # metafor's transf.ipft rule: below transf.pft(0, n) -> 0, above
        # transf.pft(1, n) -> 1, even where the closed form is undefined.
        n = 5.0
        lo, hi = float(freeman_tukey(0.0, n)), float(freeman_tukey(1.0, n))
        assert float(inverse_freeman_tukey(lo - 0.05, n)) == 0.0
        assert float(inverse_freeman_tukey(hi + 0.05, n)) == 1.0
        assert float(inverse_freeman_tukey(-1.0, n)) == 0.0
        assert float(inverse_freeman_tukey(2.0, n)) == 1.0


# --------------------------------------------------------------------------
# Single-proportion intervals
# --------------------------------------------------------------------------


class TestIntervals:
    def test_wilson_76_of_80_by_hand(self) -> None:
        # z = 1.959964, z^2 = 3.841459, n + z^2 = 83.841459
        # centre     = (76 + z^2/2) / (n + z^2) = 77.920729 / 83.841459 = 0.929382
        # half-width = z sqrt(n p q + z^2/4) / (n + z^2)
        #            = 1.959964 * sqrt(3.8 + 0.960365) / 83.841459
        #            = 1.959964 * 2.181826 / 83.841459 = 0.051005
        # -> [0.878377, 0.980386]
        ci = wilson(76, 80)
        assert ci.lower == pytest.approx(0.878377, abs=2e-6)
        assert ci.upper == pytest.approx(0.980386, abs=2e-6)

    def test_clopper_pearson_76_of_80_by_definition(self) -> None:
        # The exact bounds solve P(X >= 76 | p_L) = 0.025 and
        # P(X <= 76 | p_U) = 0.025: check with binomial tail sums, which do
        # not use the beta quantiles the implementation relies on.
        ci = clopper_pearson(76, 80)
        upper_tail = sum(math.comb(80, j) * ci.lower**j * (1 - ci.lower) ** (80 - j) for j in range(76, 81))
        lower_tail = sum(math.comb(80, j) * ci.upper**j * (1 - ci.upper) ** (80 - j) for j in range(0, 77))
        assert upper_tail == pytest.approx(0.025, abs=1e-10)
        assert lower_tail == pytest.approx(0.025, abs=1e-10)

    def test_against_r(self) -> None:
        # binom.test(76, 80) and prop.test(76, 80, correct = FALSE)
        ref = REF["intervals_76_80"]
        cp, wi = clopper_pearson(76, 80), wilson(76, 80)
        assert [cp.lower, cp.upper] == pytest.approx(ref["clopper_pearson"], abs=1e-10)
        assert [wi.lower, wi.upper] == pytest.approx(ref["wilson"], abs=1e-10)

    @pytest.mark.parametrize("n", [1, 2, 5, 9, 25])
    def test_clopper_pearson_closed_form_at_the_edges(self, n: int) -> None:
        # For x = n the lower bound solves p^n = alpha/2, i.e. (0.025)^(1/n);
        # 1/1 gives 0.025 and 9/9 gives 0.6637.
        assert clopper_pearson(n, n).lower == pytest.approx(0.025 ** (1 / n), rel=1e-12)
        assert clopper_pearson(n, n).upper == 1.0
        assert clopper_pearson(0, n).upper == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12)
        assert clopper_pearson(0, n).lower == 0.0

    def test_crude(self) -> None:
        c = crude_proportion(IVIG_X, IVIG_N)
        assert (c.events, c.total, c.proportion) == (76, 80, 0.95)
        assert c.clopper_pearson == clopper_pearson(76, 80)
        assert c.wilson == wilson(76, 80)

    @PROPERTY
    @given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
    def test_intervals_contain_estimate_and_are_symmetric(self, xn: tuple[int, int]) -> None:
        x, n = xn
        for f in (clopper_pearson, wilson):
            ci, flipped = f(x, n), f(n - x, n)
            assert 0.0 <= ci.lower <= ci.estimate <= ci.upper <= 1.0
            # events <-> non-events: p -> 1 - p mirrors the interval
            assert flipped.lower == pytest.approx(1 - ci.upper, abs=1e-12)
            assert flipped.upper == pytest.approx(1 - ci.lower, abs=1e-12)

    def test_rejects_bad_counts(self) -> None:
        with pytest.raises(ValueError):
            clopper_pearson(3, 2)
        with pytest.raises(ValueError):
            wilson(1, 0)
        with pytest.raises(ValueError):
            logit_transform([1.5], [3])
        with pytest.raises(ValueError):
            crude_proportion([1, 2], [3])


# --------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------


class TestTransforms:
    def test_logit_continuity_correction_only_for_0_and_n(self) -> None:
        es = logit_transform([0, 3, 5], [5, 5, 5])
        assert es.corrected == (True, False, True)
        # 0/5 -> log(0.5 / 5.5); 3/5 untouched -> log(3/2); 5/5 -> log(5.5/0.5)
        assert es.yi == pytest.approx([math.log(0.5 / 5.5), math.log(1.5), math.log(11.0)])
        assert es.vi == pytest.approx([1 / 0.5 + 1 / 5.5, 1 / 3 + 1 / 2, 1 / 5.5 + 1 / 0.5])

    def test_matches_metafor_escalc(self) -> None:
        ref = REF["ivig"]["models"]
        np.testing.assert_allclose(logit_transform(IVIG_X, IVIG_N).yi, ref["PLO_REML"]["yi"], atol=1e-12)
        np.testing.assert_allclose(logit_transform(IVIG_X, IVIG_N).vi, ref["PLO_REML"]["vi"], atol=1e-12)
        np.testing.assert_allclose(freeman_tukey_transform(IVIG_X, IVIG_N).yi, ref["PFT_REML"]["yi"], atol=1e-12)
        np.testing.assert_allclose(freeman_tukey_transform(IVIG_X, IVIG_N).vi, ref["PFT_REML"]["vi"], atol=1e-12)

    @PROPERTY
    @given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
    def test_freeman_tukey_round_trip(self, xn: tuple[int, int]) -> None:
        x, n = xn
        y = freeman_tukey_transform([x], [n]).yi[0]
        assert float(inverse_freeman_tukey(y, n)) == pytest.approx(x / n, abs=1e-9)
        # symmetry of the transform: y(n - x) = pi/2 - y(x)
        assert freeman_tukey_transform([n - x], [n]).yi[0] == pytest.approx(math.pi / 2 - y, abs=1e-12)

    def test_inverse_logit(self) -> None:
        np.testing.assert_allclose(inverse_logit([-np.inf, 0.0, math.log(3), np.inf]), [0, 0.5, 0.75, 1])


# --------------------------------------------------------------------------
# Inverse-variance pooling
# --------------------------------------------------------------------------


class TestPoolingByHand:
    def test_dersimonian_laird_two_studies(self) -> None:
        # y = (0, 2), v = (1, 0.5) -> w = (1, 2), sum w = 3, sum w^2 = 5
        # mu_FE = (0 + 4) / 3 = 4/3
        # Q     = 1 (0 - 4/3)^2 + 2 (2 - 4/3)^2 = 16/9 + 8/9 = 8/3, df = 1
        # C     = sum w - sum w^2 / sum w = 3 - 5/3 = 4/3
        # tau^2 = (Q - df) / C = (5/3) / (4/3) = 5/4
        # I^2   = (Q - df) / Q = (5/3) / (8/3) = 62.5%
        res = pool(_effects([0.0, 2.0], [1.0, 0.5]), method="DL")
        assert res.q == pytest.approx(8 / 3, rel=1e-12)
        assert res.tau2 == pytest.approx(1.25, rel=1e-12)
        assert res.i2 == pytest.approx(62.5, rel=1e-12)
        # RE weights 1/(1 + 5/4) = 4/9 and 1/(0.5 + 5/4) = 4/7
        # mu = (0 * 4/9 + 2 * 4/7) / (4/9 + 4/7) = (8/7) / (64/63) = 9/8
        # se = sqrt(1 / (64/63)) = sqrt(63)/8
        assert res.estimate == pytest.approx(9 / 8, rel=1e-12)
        assert res.se == pytest.approx(math.sqrt(63) / 8, rel=1e-12)

    def test_dersimonian_laird_three_equal_variances(self) -> None:
        # y = (0, 1, 3), v = 1: mu_FE = 4/3, Q = 16/9 + 1/9 + 25/9 = 14/3,
        # C = 3 - 3/3 = 2, tau^2 = (14/3 - 2) / 2 = 4/3.
        res = pool(_effects([0.0, 1.0, 3.0], [1.0, 1.0, 1.0]), method="DL")
        assert res.tau2 == pytest.approx(4 / 3, rel=1e-12)
        assert res.estimate == pytest.approx(4 / 3, rel=1e-12)
        # With equal v the REML estimate is the sample variance minus v:
        # s^2 = ((16 + 1 + 25)/9) / 2 = 7/3, tau^2_REML = 7/3 - 1 = 4/3.
        assert pool(_effects([0.0, 1.0, 3.0], [1.0, 1.0, 1.0]), method="REML").tau2 == pytest.approx(4 / 3, rel=1e-10)

    def test_truncation_at_zero(self) -> None:
        # Q = 2 (0.1)^2 ... far below df: both estimators give exactly 0.
        es = _effects([0.0, 0.1, 0.05], [1.0, 1.0, 1.0])
        assert pool(es, "DL").tau2 == 0.0
        assert pool(es, "REML").tau2 == 0.0
        assert pool(es, "REML").i2 == 0.0

    def test_prediction_interval_convention(self) -> None:
        # mu +/- z sqrt(tau^2 + se^2), normal quantile (metafor default)
        res = pool(_effects([0.0, 2.0], [1.0, 0.5]), method="DL")
        half = stats.norm.ppf(0.975) * math.sqrt(1.25 + 63 / 64)
        assert (res.pi_lower, res.pi_upper) == pytest.approx((9 / 8 - half, 9 / 8 + half), rel=1e-12)

    def test_single_study(self) -> None:
        res = pool_proportions([3], [10], "PLO", "REML")
        assert res.tau2 == 0.0 and res.k == 1 and math.isnan(res.i2)
        assert res.proportion == pytest.approx(0.3)


def _close(actual: float, expected: float, tol: float) -> bool:
    return math.isclose(actual, expected, rel_tol=tol, abs_tol=tol)


IV_FIELDS = ["estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "q", "q_p",
             "i2", "h2", "proportion", "proportion_ci_lower", "proportion_ci_upper",
             "proportion_pi_lower", "proportion_pi_upper"]


class TestAgainstMetafor:
    """metafor::rma with escalc(measure = "PLO" / "PFT"); tolerance 1e-4.

    metafor stops its REML iterations when tau^2 changes by < 1e-5, we solve
    the score equation to ~1e-13; the tolerance covers that difference.
    """

    @pytest.mark.parametrize("dataset", ["ivig", "het"])
    @pytest.mark.parametrize("model", ["PLO_EE", "PLO_DL", "PLO_REML", "PFT_EE", "PFT_DL", "PFT_REML"])
    def test_inverse_variance_models(self, dataset: str, model: str) -> None:
        d = REF[dataset]
        ref = d["models"][model]
        measure, method = model.split("_")
        res = pool_proportions(d["xi"], d["ni"], measure, method)  # type: ignore[arg-type]
        for field in IV_FIELDS:
            if isinstance(ref[field], dict):  # R's NULL: no PI for the EE model
                continue
            assert _close(getattr(res, field), ref[field], 1e-4), (field, getattr(res, field), ref[field])
        np.testing.assert_allclose(res.weights, ref["weights"], atol=1e-4)

    @pytest.mark.parametrize("method", ["DL", "REML"])
    def test_bcg_log_risk_ratios(self, method: str) -> None:
        # The classic dat.bcg benchmark (Colditz et al. 1994), tau^2 > 0.
        d = REF["bcg"]
        res = pool(_effects(d["yi"], d["vi"]), method=method)  # type: ignore[arg-type]
        for field, value in d["models"][method].items():
            assert _close(getattr(res, field), value, 1e-4), field

    def test_ivig_tau2_is_zero(self) -> None:
        for measure in ("PLO", "PFT"):
            for method in ("DL", "REML"):
                assert pool_proportions(IVIG_X, IVIG_N, measure, method).tau2 == 0.0  # type: ignore[arg-type]

    @pytest.mark.parametrize("dataset", ["ivig", "het"])
    @pytest.mark.parametrize("model", ["PLO_DL", "PLO_REML", "PFT_DL", "PFT_REML"])
    def test_subgroup_tests(self, dataset: str, model: str) -> None:
        d = REF[dataset]
        ref = d["subgroups"][model]
        measure, method = model.split("_")
        common = subgroup_test(d["xi"], d["ni"], d["grp"], measure, method, "common")  # type: ignore[arg-type]
        separate = subgroup_test(d["xi"], d["ni"], d["grp"], measure, method, "separate")  # type: ignore[arg-type]
        assert _close(common.q_between, ref["common_qm"], 1e-4)
        assert _close(common.p_value, ref["common_p"], 1e-4)
        assert _close(separate.q_between, ref["separate_q"], 1e-4)
        assert _close(separate.p_value, ref["separate_p"], 1e-4)
        assert common.df == separate.df == 1


# --------------------------------------------------------------------------
# GLMM
# --------------------------------------------------------------------------


def _brute_force_loglik(mu: float, tau: float, x: list[int], n: list[int]) -> float:
    """Marginal log-likelihood by adaptive numerical integration (QUADPACK),
    independent of the Gauss-Hermite code under test."""
    total = 0.0
    for xi, ni in zip(x, n):
        def f(u: float, xi: int = xi, ni: int = ni) -> float:
            return float(stats.binom.pmf(xi, ni, special.expit(mu + u)) * stats.norm.pdf(u, scale=tau))
        val, _ = integrate.quad(f, -12 * tau, 12 * tau, epsabs=0, epsrel=1e-12, limit=200)
        total += math.log(val)
    return total


class TestGLMM:
    def test_ivig_boundary_solution_by_hand(self) -> None:
        # tau^2 = 0 at the optimum, so the GLMM reduces to the common-effect
        # logistic model: mu = logit(76/80) = log 19, and
        # SE = 1 / sqrt(N p (1 - p)) = 1 / sqrt(80 * 0.95 * 0.05) = 1/sqrt(3.8).
        g = glmm_logit(IVIG_X, IVIG_N)
        assert g.estimable and g.at_tau_bound
        assert g.tau2 == pytest.approx(0.0, abs=1e-8)
        assert g.mu == pytest.approx(math.log(19), abs=1e-6)
        assert g.se == pytest.approx(1 / math.sqrt(3.8), abs=1e-6)
        assert g.proportion == pytest.approx(0.95, abs=1e-7)
        # LRT of tau^2 = 0 against the 50:50 chi2(0)/chi2(1) mixture: a
        # statistic of exactly 0 (the point mass) has p = 1.
        assert g.lrt_tau2_stat == 0.0
        assert g.lrt_tau2_p == 1.0

    @pytest.mark.parametrize("dataset", ["ivig", "het"])
    def test_against_rma_glmm(self, dataset: str) -> None:
        # metafor's rma.glmm uses lme4::glmer with 7-point adaptive quadrature;
        # we use 21 points: agreement to 1e-3 on the logit scale.
        d = REF[dataset]
        ref = d["models"]["GLMM"]
        g = glmm_logit(d["xi"], d["ni"])
        for field in ["mu", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2",
                      "qe_lrt", "qe_lrt_p", "proportion", "proportion_ci_lower", "proportion_ci_upper"]:
            assert _close(getattr(g, field), ref[field], 1e-3), (field, getattr(g, field), ref[field])

    @pytest.mark.parametrize("dataset", ["ivig", "het"])
    def test_same_quadrature_as_metafor(self, dataset: str) -> None:
        # With 7 nodes, as metafor, the remaining difference is optimiser
        # tolerance only.
        d = REF[dataset]
        ref = d["models"]["GLMM"]
        g = glmm_logit(d["xi"], d["ni"], n_nodes=7)
        for field in ["mu", "se", "tau2"]:
            assert _close(getattr(g, field), ref[field], 1e-4), field

    def test_against_glmer_many_nodes(self) -> None:
        # glmer(nAGQ = 25) is close to the exact integral, as is our 21-node fit.
        d = REF["het"]
        ref = d["models"]["glmer_nAGQ25"]
        g = glmm_logit(d["xi"], d["ni"])
        assert g.mu == pytest.approx(ref["mu"], abs=1e-4)
        assert g.se == pytest.approx(ref["se"], abs=1e-4)
        assert g.tau == pytest.approx(ref["tau"], abs=1e-4)

    def test_loglik_and_maximum_by_independent_integration(self) -> None:
        d = REF["het"]
        g = glmm_logit(d["xi"], d["ni"])
        ll = _brute_force_loglik(g.mu, g.tau, d["xi"], d["ni"])
        logc = sum(math.log(math.comb(n, x)) for x, n in zip(d["xi"], d["ni"]))
        # the binomial pmf already contains log C(n, x)
        assert g.loglik == pytest.approx(ll, abs=1e-7)
        assert logc > 0
        for dmu, dtau in [(0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02)]:
            assert _brute_force_loglik(g.mu + dmu, g.tau + dtau, d["xi"], d["ni"]) < g.loglik

    def test_quadrature_nodes_converge(self) -> None:
        d = REF["het"]
        fits = [glmm_logit(d["xi"], d["ni"], n_nodes=k) for k in (7, 15, 21, 41)]
        for f in fits[1:]:
            assert f.mu == pytest.approx(fits[-1].mu, abs=1e-3)
            assert f.tau2 == pytest.approx(fits[-1].tau2, abs=1e-3)
        with pytest.raises(ValueError):
            glmm_logit(d["xi"], d["ni"], n_nodes=5)

    def test_all_success_data_is_flagged_not_crashed(self) -> None:
        g = glmm_logit([1, 2, 5, 9], [1, 2, 5, 9])
        assert not g.estimable
        assert g.proportion == 1.0 and g.mu == math.inf
        assert math.isnan(g.ci_lower)
        g0 = glmm_logit([0, 0], [3, 4])
        assert not g0.estimable and g0.proportion == 0.0 and g0.mu == -math.inf

    def test_single_failure_among_many_successes(self) -> None:
        # One non-responder in 40 patients spread over tiny studies: finite MLE
        # at the tau = 0 boundary, mu = logit(39/40).
        x = [1, 1, 2, 2, 3, 9, 20, 1]
        n = [1, 1, 2, 2, 3, 10, 20, 1]
        g = glmm_logit(x, n)
        assert g.estimable and g.at_tau_bound
        assert g.mu == pytest.approx(math.log(39), abs=1e-5)
        assert np.isfinite([g.se, g.ci_lower, g.ci_upper]).all()

    def test_divergent_tau_is_flagged(self) -> None:
        # Half the studies at 0%, half at 100%: the likelihood rises without
        # bound in tau; the fit stops at the bound and says so.
        g = glmm_logit([0, 10, 0, 10], [10, 10, 10, 10])
        assert g.at_tau_upper_bound and not g.at_tau_bound
        assert g.tau == pytest.approx(10.0, abs=1e-3)
        assert g.proportion == pytest.approx(0.5, abs=1e-4)

    def test_bernoulli_studies_prefer_tau_zero(self) -> None:
        # With n = 1 per study tau is not identified (flat ridge); the
        # boundary solution mu = logit(3/4), tau = 0 is reported.
        g = glmm_logit([1, 1, 1, 0], [1, 1, 1, 1])
        assert g.tau2 == 0.0 and g.at_tau_bound
        assert g.mu == pytest.approx(math.log(3), abs=1e-6)

    def test_symmetry_events_non_events(self) -> None:
        d = REF["het"]
        g = glmm_logit(d["xi"], d["ni"])
        f = glmm_logit([n - x for x, n in zip(d["xi"], d["ni"])], d["ni"])
        assert f.mu == pytest.approx(-g.mu, abs=1e-5)
        assert f.tau2 == pytest.approx(g.tau2, abs=1e-5)
        assert f.proportion == pytest.approx(1 - g.proportion, abs=1e-6)

    @GLMM_PROPERTY
    @given(st.lists(st.integers(1, 30).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
                    min_size=2, max_size=10))
    def test_random_data(self, studies: list[tuple[int, int]]) -> None:
        x = [s[0] for s in studies]
        n = [s[1] for s in studies]
        g = glmm_logit(x, n)
        if sum(x) in (0, sum(n)):
            assert not g.estimable
            return
        assert g.tau2 >= 0.0
        assert g.ci_lower <= g.mu <= g.ci_upper
        assert g.pi_lower <= g.ci_lower and g.ci_upper <= g.pi_upper
        assert 0.0 <= g.proportion_ci_lower <= g.proportion <= g.proportion_ci_upper <= 1.0
        assert g.loglik >= g.loglik_tau0 - 1e-9
        assert 0.0 <= g.lrt_tau2_p <= 1.0


# --------------------------------------------------------------------------
# Properties of the inverse-variance models
# --------------------------------------------------------------------------


_study = st.integers(1, 60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


class TestPoolingProperties:
    @PROPERTY
    @given(st.lists(_study, min_size=1, max_size=12),
           st.sampled_from(["PLO", "PFT"]), st.sampled_from(["EE", "DL", "REML"]))
    def test_ranges(self, studies: list[tuple[int, int]], measure: str, method: str) -> None:
        x = [s[0] for s in studies]
        n = [s[1] for s in studies]
        r = pool_proportions(x, n, measure, method)  # type: ignore[arg-type]
        assert r.tau2 >= 0.0
        if r.k > 1:
            assert 0.0 <= r.i2 <= 100.0
            assert r.h2 >= 0.0
        assert r.ci_lower <= r.estimate <= r.ci_upper
        assert r.pi_lower <= r.ci_lower + 1e-12 and r.ci_upper <= r.pi_upper + 1e-12
        assert 0.0 <= r.proportion_ci_lower <= r.proportion <= r.proportion_ci_upper <= 1.0
        assert sum(r.weights) == pytest.approx(100.0)

    @PROPERTY
    @given(st.lists(_study, min_size=2, max_size=12),
           st.sampled_from(["PLO", "PFT"]), st.sampled_from(["EE", "DL", "REML"]))
    def test_symmetry_events_non_events(self, studies: list[tuple[int, int]], measure: str, method: str) -> None:
        x = [s[0] for s in studies]
        n = [s[1] for s in studies]
        r = pool_proportions(x, n, measure, method)  # type: ignore[arg-type]
        f = pool_proportions([b - a for a, b in zip(x, n)], n, measure, method)  # type: ignore[arg-type]
        # logit -> -logit; PFT y -> pi/2 - y; proportions p -> 1 - p
        mirrored = -r.estimate if measure == "PLO" else math.pi / 2 - r.estimate
        assert f.estimate == pytest.approx(mirrored, abs=1e-9)
        assert f.tau2 == pytest.approx(r.tau2, abs=1e-9)
        assert f.i2 == pytest.approx(r.i2, abs=1e-7)
        assert f.proportion == pytest.approx(1 - r.proportion, abs=1e-9)
        assert f.proportion_ci_lower == pytest.approx(1 - r.proportion_ci_upper, abs=1e-9)

    @PROPERTY
    @given(st.integers(1, 20).flatmap(lambda b: st.tuples(st.integers(1, max(1, b - 1)), st.just(b))),
           st.lists(st.integers(1, 8), min_size=2, max_size=10))
    def test_dl_zero_for_identical_proportions(self, ab: tuple[int, int], multipliers: list[int]) -> None:
        a, b = ab
        if a >= b:
            return
        x = [a * m for m in multipliers]
        n = [b * m for m in multipliers]
        # Equal proportions (no 0/n, so no continuity correction): equal logits.
        assert pool_proportions(x, n, "PLO", "DL").tau2 == 0.0
        assert pool_proportions(x, n, "PLO", "REML").tau2 == 0.0
        # Identical studies on the FT scale as well.
        assert pool_proportions([a] * len(multipliers), [b] * len(multipliers), "PFT", "DL").tau2 == 0.0


# --------------------------------------------------------------------------
# Bundles and subgroups
# --------------------------------------------------------------------------


class TestSubgroups:
    def test_glmm_common_tau_against_metafor(self) -> None:
        for dataset in ("ivig", "het"):
            d = REF[dataset]
            t = subgroup_test(d["xi"], d["ni"], d["grp"], "GLMM", tau2_structure="common")
            assert _close(t.q_between, d["subgroups"]["GLMM"]["common_qm"], 1e-3)

    def test_separate_glmm_equals_wald_of_subgroup_fits(self) -> None:
        d = REF["het"]
        grp = d["grp"]
        fits = [glmm_logit([x for x, g in zip(d["xi"], grp) if g == lab],
                           [n for n, g in zip(d["ni"], grp) if g == lab]) for lab in ("first", "second")]
        # Two groups: Q_between = (mu1 - mu2)^2 / (se1^2 + se2^2)
        expected = (fits[0].mu - fits[1].mu) ** 2 / (fits[0].se ** 2 + fits[1].se ** 2)
        t = subgroup_test(d["xi"], d["ni"], grp, "GLMM")
        assert t.q_between == pytest.approx(expected, rel=1e-9)

    def test_all_success_subgroup(self) -> None:
        x = [1, 2, 4, 8, 3]
        n = [1, 2, 5, 9, 3]
        grp = ["a", "a", "b", "b", "a"]  # subgroup "a" has only responders
        t = subgroup_test(x, n, grp, "GLMM")
        assert math.isnan(t.q_between) and "a" in t.note
        sa = subgroup_analysis(x, n, grp)
        assert sa.labels == ("a", "b")
        assert not sa.within[0].glmm.estimable
        assert sa.within[1].glmm.estimable
        assert np.isfinite(sa.test("PFT").q_between)

    def test_one_group(self) -> None:
        t = subgroup_test([1, 2], [2, 3], ["x", "x"], "PLO")
        assert math.isnan(t.p_value) and t.df == 0

    def test_analyse_bundle(self) -> None:
        m = analyse_proportions(IVIG_X, IVIG_N, method="DL")
        assert m.re_logit.method == "DL" and m.ce_ft.method == "EE"
        assert m.glmm.proportion == pytest.approx(0.95, abs=1e-6)
        assert m.crude.proportion == 0.95
