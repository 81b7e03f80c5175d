"""The calibrated statistics a review's manifest asks for, beside its analyses, and their registry entries.

``analyses`` in the manifest may declare, for the GLMM (the primary model):

* ``heterogeneity``: any of ``lrt`` (likelihood-ratio test of tau^2 = 0, 50:50 chi-square(0)/(1) mixture),
  ``profile`` (profile-likelihood interval of tau, and the spread of true study proportions its upper bound
  allows) and ``exact`` (Fisher's exact test of homogeneity on the k x 2 table), for the overall analysis;
* ``prediction: hts``: the Higgins-Thompson-Spiegelhalter prediction interval on t(k - 2), overall and in
  each subgroup;
* ``profile_ci: true``: the profile-likelihood interval of the pooled proportion beside the Wald one;
* ``leave_one_out: true``: the GLMM refitted without each study of the overall analysis, with its influence;
* ``moderator_lrt: true``: the likelihood-ratio test of each subgroup moderator (common tau^2).

Statistics in ``engine/heterogeneity.py`` and ``engine/sensitivity.py``; what this module writes for an
analysis with key ``p``: ``p_glmm_lrt``/``_p``, ``p_glmm_tau``, ``p_glmm_tau_ci``, ``p_glmm_spread``,
``p_exact_p``, ``p_glmm_pi``, ``p_glmm_pl_ci``, ``p_loo_*``, ``p_test_glmm_lrt_q``/``_p``, and
``p_<level>_glmm_pi`` per subgroup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.analysis import Entry, Pooled, Scale
    from engine.heterogeneity import GLMMProfile
    from engine.meta_analysis import SubgroupTest
    from engine.sensitivity import LeftOut


@dataclass(frozen=True)
class Inference:
    """What was computed for one analysis (None: not declared, or not defined for these rows)."""

    profile: GLMMProfile | None = None
    exact_p: float | None = None
    prediction: tuple[float, float] | None = None
    left_out: tuple[LeftOut, ...] | None = None
    moderator: SubgroupTest | None = None
    within_prediction: tuple[tuple[float, float], ...] | None = None
    reason: str = ""  # why a declared statistic is missing


def declared(analyses: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's choices, with their defaults (nothing beyond the models)."""
    return {"heterogeneity": tuple(analyses.get("heterogeneity", ())), "prediction": analyses.get("prediction"),
            "profile_ci": bool(analyses.get("profile_ci", False)),
            "leave_one_out": bool(analyses.get("leave_one_out", False)),
            "moderator_lrt": bool(analyses.get("moderator_lrt", False))}


def infer(analysis: Pooled, options: Mapping[str, Any], level: float, overall: bool) -> Inference:
    """The declared statistics for one analysis (the overall one gets the heterogeneity and leave-one-out)."""
    from engine.heterogeneity import exact_homogeneity_p, glmm_profile, hts_prediction, moderator_lrt
    from engine.sensitivity import leave_one_out

    glmm, rows = analysis.result.glmm, analysis.rows
    if not glmm.estimable or glmm.k < 3:
        return Inference(reason=f"{analysis.title}: the GLMM needs three studies and an event and a non-event")
    events, totals = rows["events"].to_numpy(), rows["total"].to_numpy()
    found: dict[str, Any] = {}
    if options["prediction"] == "hts":
        found["prediction"] = hts_prediction(glmm)
        if analysis.subgroups is not None:
            found["within_prediction"] = tuple(hts_prediction(result.glmm) for result in analysis.subgroups.within)
    if analysis.subgroups is not None:
        if options["moderator_lrt"]:
            found["moderator"] = moderator_lrt(events, totals, rows["subgroup"].tolist())
        return Inference(**found)
    if overall and ("profile" in options["heterogeneity"] or options["profile_ci"]):
        found["profile"] = glmm_profile(events, totals, level)
    if overall and "exact" in options["heterogeneity"]:
        found["exact_p"] = exact_homogeneity_p(events, totals)
    if overall and options["leave_one_out"]:
        found["left_out"] = leave_one_out(events, totals, rows["label"].tolist(), glmm, level)
    return Inference(**found)


def entries(analysis: Pooled, inference: Inference, options: Mapping[str, Any], scale: Scale,
            keys: Mapping[str, str] | None = None) -> dict[str, Entry]:
    """Registry entries of the declared statistics of one analysis (``keys``: subgroup label -> key part)."""
    from engine.analysis import Entry, p_value, statistic

    p, what, glmm = analysis.key, analysis.title, analysis.result.glmm
    found: dict[str, Entry] = {}

    def interval(key: str, lower: float, upper: float, description: str) -> None:
        found[key] = Entry(f"{lower:.6f}–{upper:.6f}", scale.interval(lower, upper), description)

    if inference.prediction is not None:
        interval(f"{p}_glmm_pi", *inference.prediction,
                 f"{what}: GLMM prediction interval (Higgins-Thompson-Spiegelhalter, t on k - 2 df)")
    if inference.within_prediction is not None and keys is not None and analysis.subgroups is not None:
        for label, bounds in zip(analysis.subgroups.labels, inference.within_prediction):
            if all(math.isfinite(b) for b in bounds):
                interval(f"{p}_{keys[label]}_glmm_pi", *bounds, f"{what}, {label}: GLMM prediction interval (HTS)")
    if inference.moderator is not None:
        test = inference.moderator
        found[f"{p}_test_glmm_lrt_q"] = Entry("NA" if math.isnan(test.q_between) else round(test.q_between, 6),
                                              statistic(test.q_between),
                                              f"{what}: GLMM likelihood-ratio test of the subgroups (common tau^2), "
                                              f"chi-square on {test.df} df")
        found[f"{p}_test_glmm_lrt_p"] = Entry("NA" if math.isnan(test.p_value) else round(test.p_value, 6),
                                              p_value(test.p_value), f"{what}: p of the GLMM likelihood-ratio test")
    if analysis.subgroups is not None:
        return found
    if "lrt" in options["heterogeneity"] and glmm.estimable:
        found[f"{p}_glmm_lrt"] = Entry(round(glmm.lrt_tau2_stat, 6), statistic(glmm.lrt_tau2_stat),
                                       f"{what}: GLMM likelihood-ratio statistic of tau^2 = 0")
        found[f"{p}_glmm_lrt_p"] = Entry(round(glmm.lrt_tau2_p, 6), p_value(glmm.lrt_tau2_p),
                                         f"{what}: p of the likelihood-ratio test of tau^2 = 0 (50:50 mixture of "
                                         "chi-square(0) and chi-square(1))")
    profile = inference.profile
    if profile is not None and "profile" in options["heterogeneity"]:
        found[f"{p}_glmm_tau"] = Entry(round(glmm.tau, 6), statistic(glmm.tau), f"{what}: GLMM tau (logit)")
        found[f"{p}_glmm_tau_ci"] = Entry(f"{profile.tau_lower:.6f}–{profile.tau_upper:.6f}",
                                          f"{profile.tau_lower:.2f}–{profile.tau_upper:.2f}",
                                          f"{what}: profile-likelihood interval of the GLMM tau")
        interval(f"{p}_glmm_spread", profile.spread_lower, profile.spread_upper,
                 f"{what}: central range of true study proportions at the upper bound of tau (mu profiled)")
    if profile is not None and options["profile_ci"]:
        interval(f"{p}_glmm_pl_ci", profile.proportion_lower, profile.proportion_upper,
                 f"{what}: GLMM pooled proportion, profile-likelihood interval")
    if inference.exact_p is not None:
        found[f"{p}_exact_p"] = Entry(round(inference.exact_p, 6), p_value(inference.exact_p),
                                      f"{what}: Fisher's exact test of homogeneity on the k x 2 table")
    if inference.left_out:
        kept = [row for row in inference.left_out if row.estimable]
        props = [row.glmm.proportion for row in kept]
        strongest = max(kept, key=lambda row: abs(row.dfbetas))
        interval(f"{p}_loo_range", min(props), max(props), f"{what}: GLMM estimates leaving out one study each")
        found[f"{p}_loo_max_influence"] = Entry(round(abs(strongest.dfbetas), 6), statistic(abs(strongest.dfbetas)),
                                                f"{what}: largest absolute influence (DFBETAS) of one study")
        found[f"{p}_loo_most_influential"] = Entry(strongest.label, strongest.label,
                                                   f"{what}: the study of largest influence on the GLMM")
    return found


def absent(analysis: Pooled, inference: Inference, options: Mapping[str, Any]) -> dict[str, str]:
    """Declared keys an analysis cannot give, and why."""
    if not inference.reason:
        return {}
    wanted = []
    if options["prediction"] == "hts":
        wanted.append("glmm_pi")
    return {f"{analysis.key}_{name}": inference.reason for name in wanted}
