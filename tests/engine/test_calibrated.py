"""The calibrated statistics (engine/heterogeneity.py, engine/sensitivity.py) against R.

Reference values: tests/engine/reference/calibrated_reference.json, written by calibrated_reference.R
(R 4.2.2, metafor 3.8.1, lme4 1.1.31): the GLMM by rma.glmm, the profile likelihoods by R's own
adaptive integrate() of the marginal likelihood (not Gauss-Hermite as in the code), fisher.test,
glmer likelihood-ratio tests and binom.test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from engine.heterogeneity import exact_homogeneity_p, glmm_profile, hts_prediction, moderator_lrt
from engine.meta_analysis import clopper_pearson, glmm_logit
from engine.sensitivity import leave_one_out

REF: dict[str, Any] = json.loads(
    (Path(__file__).parent / "reference" / "calibrated_reference.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("dataset", ["ivig", "het"])
def test_lrt_of_tau2_zero(dataset: str) -> None:
    d = REF[dataset]
    glmm = glmm_logit(d["xi"], d["ni"])
    assert glmm.lrt_tau2_stat == pytest.approx(d["glmm"]["lrt_tau2"], abs=2e-3)
    assert glmm.lrt_tau2_p == pytest.approx(d["glmm"]["lrt_tau2_p"], rel=2e-3, abs=1e-9)


def test_lrt_mixture_p_by_hand() -> None:
    # The 50:50 mixture of chi-square(0) and chi-square(1): p = P(chi2_1 > t) / 2 for t > 0.
    d = REF["het"]
    glmm = glmm_logit(d["xi"], d["ni"])
    assert glmm.lrt_tau2_p == pytest.approx(0.5 * stats.chi2.sf(glmm.lrt_tau2_stat, 1), rel=1e-12)


@pytest.mark.parametrize("dataset", ["ivig", "het"])
def test_profile_likelihood_intervals(dataset: str) -> None:
    ref = REF[dataset]["profile"]
    profile = glmm_profile(REF[dataset]["xi"], REF[dataset]["ni"])
    assert profile.tau_lower == pytest.approx(ref["tau_lower"], abs=2e-3)
    assert profile.tau_upper == pytest.approx(ref["tau_upper"], abs=2e-3)
    assert profile.mu_lower == pytest.approx(ref["mu_lower"], abs=2e-3)
    assert profile.mu_upper == pytest.approx(ref["mu_upper"], abs=2e-3)
    assert profile.proportion_lower == pytest.approx(ref["proportion_lower"], abs=2e-4)
    assert profile.proportion_upper == pytest.approx(ref["proportion_upper"], abs=2e-4)
    assert profile.spread_lower == pytest.approx(ref["spread_lower"], abs=2e-3)
    assert profile.spread_upper == pytest.approx(ref["spread_upper"], abs=2e-4)


def test_profile_interval_of_tau_starts_at_zero_when_tau_is_zero() -> None:
    assert glmm_profile(REF["ivig"]["xi"], REF["ivig"]["ni"]).tau_lower == 0.0


def test_profile_refuses_all_event_data() -> None:
    with pytest.raises(ValueError, match="all or no events"):
        glmm_profile([3, 2], [3, 2])


@pytest.mark.parametrize("dataset,group", [("ivig", None), ("het", None), ("dose", "low")])
def test_hts_prediction_interval(dataset: str, group: str | None) -> None:
    ref = REF[dataset]["glmm"] if group is None else REF[dataset][group]
    if group is None:
        x, n = REF[dataset]["xi"], REF[dataset]["ni"]
    else:
        rows = [(xi, ni) for xi, ni, g in zip(REF[dataset]["xi"], REF[dataset]["ni"], REF[dataset]["grp"])
                if g == group]
        x, n = [r[0] for r in rows], [r[1] for r in rows]
    lower, upper = hts_prediction(glmm_logit(x, n))
    assert lower == pytest.approx(ref["hts_lower"], abs=5e-4)
    assert upper == pytest.approx(ref["hts_upper"], abs=5e-4)


def test_hts_needs_three_studies() -> None:
    assert all(math.isnan(v) for v in hts_prediction(glmm_logit([1, 3], [2, 5])))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_exact_homogeneity_small_tables(index: int) -> None:
    table = REF["fisher_tables"][index]
    assert exact_homogeneity_p(table["xi"], table["ni"]) == pytest.approx(table["p"], rel=1e-9)


def test_exact_homogeneity_review_data() -> None:
    assert exact_homogeneity_p(REF["ivig"]["xi"], REF["ivig"]["ni"]) == pytest.approx(REF["ivig"]["fisher_p"],
                                                                                      rel=1e-9)


def test_exact_homogeneity_two_by_two_is_fishers_test() -> None:
    # A 2 x 2 table: the k x 2 test is Fisher's classical exact test (scipy's two-sided version).
    assert exact_homogeneity_p([7, 2], [10, 9]) == pytest.approx(stats.fisher_exact([[7, 3], [2, 7]])[1], rel=1e-9)


def test_exact_homogeneity_stops_with_a_reason_on_large_tables() -> None:
    with pytest.raises(ValueError, match="leave 'exact' out"):
        exact_homogeneity_p(REF["het"]["xi"], REF["het"]["ni"], max_nodes=10_000)


def test_leave_one_out_against_rma_glmm() -> None:
    for dataset in ("ivig", "het"):
        d = REF[dataset]
        full = glmm_logit(d["xi"], d["ni"])
        rows = leave_one_out(d["xi"], d["ni"], [str(i) for i in range(len(d["xi"]))], full)
        ref = d["leave_one_out"]
        for i, row in enumerate(rows):
            assert row.glmm.proportion == pytest.approx(ref["proportion"][i], abs=5e-4), (dataset, i)
            assert row.glmm.proportion_ci_lower == pytest.approx(ref["ci_lower"][i], abs=2e-3), (dataset, i)
            assert row.dfbetas == pytest.approx(ref["dfbetas"][i], abs=5e-3), (dataset, i)


@pytest.mark.parametrize("dataset", ["dose", "daily", "het"])
def test_moderator_lrt_against_glmer(dataset: str) -> None:
    d = REF[dataset]
    test = moderator_lrt(d["xi"], d["ni"], d["grp"])
    assert test.q_between == pytest.approx(d["moderator"]["stat"], abs=2e-3)
    assert test.p_value == pytest.approx(d["moderator"]["p"], abs=1e-3)
    assert test.df == d["moderator"]["df"]


def test_moderator_lrt_all_event_subgroup_is_not_estimable() -> None:
    test = moderator_lrt([3, 2, 4, 1], [3, 2, 6, 4], ["a", "a", "b", "b"])
    assert math.isnan(test.q_between) and "all or no events" in test.note


@pytest.mark.parametrize("name,dataset", [("retreated", "retreated"), ("non_case", "non_case"),
                                          ("at_least_5", "at_least_5")])
def test_sensitivity_glmms(name: str, dataset: str) -> None:
    d = REF["sensitivity"][dataset]
    glmm = glmm_logit(d["xi"], d["ni"])
    assert glmm.proportion == pytest.approx(d["glmm"]["proportion"], abs=5e-5)
    assert glmm.proportion_ci_lower == pytest.approx(d["glmm"]["proportion_ci_lower"], abs=2e-3)


@pytest.mark.parametrize("which", ["review", "described"])
def test_headache_intervals(which: str) -> None:
    d = REF["headache"][which]
    ci = clopper_pearson(d["x"], d["n"])
    assert (ci.lower, ci.upper) == pytest.approx(tuple(d["ci"]), abs=1e-9)
