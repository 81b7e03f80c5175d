"""The review's analyses of response, and their numbers for the values registry.

``engine/meta_analysis.py`` holds the general statistics; this module decides what is analysed here:

* **overall**: responders over patients in the 17 studies; the binomial-logit GLMM is the primary model,
  the random-effects models on the logit and Freeman-Tukey scales are sensitivity analyses, and the crude
  proportion (the review's own figure) is reported beside them;
* **dose per cycle**: the review's high- (2-2.1 g/kg) and low-dose (1-1.5 g/kg) groups, one row per study
  and group (a study split across groups contributes a row to each), with the test for subgroup difference;
* **daily dose** within the high-dose group: above 0.5 g/kg/day vs 0.4-0.5 g/kg/day (``scripts.dosing``);
  groups whose printed regimen does not decide are left out, as the review leaves them out;
* **without single-patient reports**: the case reports are the most exposed to publication bias;
* **headache**: only an aggregate count exists, so only a crude rate with exact and Wilson intervals.

The REML estimator is used for the inverse-variance models (DerSimonian-Laird is in the tests).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts import dosing

if TYPE_CHECKING:
    import pandas

    from engine.meta_analysis import GLMMResult, MetaAnalysis, PooledResult, ProportionCI, SubgroupAnalysis

LEVEL = 0.95
METHOD = "REML"
MADE_BY = "rule meta_analysis (engine/analysis.py, engine/meta_analysis.py)"
DOSE_LABELS = {"high": "High dose (2–2.1 g/kg per cycle)", "low": "Low dose (1–1.5 g/kg per cycle)"}
DAILY_LABELS = {"high": "Daily dose > 0.5 g/kg", "conventional": "Daily dose 0.4–0.5 g/kg"}


@dataclass(frozen=True)
class Entry:
    value: float | int | str
    display: str
    description: str


def pct(proportion: float, decimals: int = 1) -> str:
    """A model estimate as printed: one decimal, "95.0%"."""
    return f"{100 * proportion:.{decimals}f}%"


def interval(lower: float, upper: float) -> str:
    """A confidence or prediction interval as printed: "87.4–98.1%"."""
    return f"{100 * lower:.1f}–{100 * upper:.1f}%"


def p_value(p: float) -> str:
    """A p value as printed: three decimals, "<0.001" below that, "NA" when undefined."""
    if p != p:
        return "NA"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def statistic(value: float, decimals: int = 2) -> str:
    return "NA" if value != value else f"{value:.{decimals}f}"


# --- the data each analysis uses ------------------------------------------------------------------------


def study_rows(studies: pandas.DataFrame, outcomes: pandas.DataFrame) -> pandas.DataFrame:
    """One row per study: label, events (responders), total (patients)."""
    merged = studies.merge(outcomes, on="study_id", suffixes=("_study", ""))
    return merged.assign(
        label=[f"{a} {y}" for a, y in zip(merged["first_author"], merged["year"])],
        events=merged["responders"].astype(int),
        total=merged["patients"].astype(int),
    )[["study_id", "label", "events", "total"]]


def dose_group_rows(studies: pandas.DataFrame, dose_groups: pandas.DataFrame,
                    regimens: pandas.DataFrame) -> pandas.DataFrame:
    """One row per study and dose group of Table 4, with its daily-dose class."""
    classes = dosing.daily_dose_classes(regimens)
    grouped = dose_groups[dose_groups["dose_group"].isin(list(DOSE_LABELS))].merge(
        studies[["study_id", "first_author", "year"]], on="study_id")
    return grouped.assign(
        label=[f"{a} {y}" for a, y in zip(grouped["first_author"], grouped["year"])],
        events=grouped["responders"].astype(int),
        total=grouped["patients"].astype(int),
        subgroup=grouped["dose_group"].map(DOSE_LABELS),
        daily=grouped["group_id"].map(classes),
    )[["group_id", "study_id", "label", "events", "total", "subgroup", "dose_group", "daily"]]


# --- registry entries -----------------------------------------------------------------------------------


def _ci_entries(prefix: str, what: str, ci: ProportionCI) -> dict[str, Entry]:
    return {f"{prefix}_ci": Entry(f"{ci.lower:.6f}–{ci.upper:.6f}", interval(ci.lower, ci.upper),
                                  f"{what}: {ci.method} interval")}


def glmm_entries(prefix: str, what: str, glmm: GLMMResult) -> dict[str, Entry]:
    if not glmm.estimable:
        return {f"{prefix}_glmm_pct": Entry("not estimable", "not estimable", f"{what}: GLMM (all responded)")}
    return {
        f"{prefix}_glmm_pct": Entry(round(glmm.proportion, 6), pct(glmm.proportion), f"{what}: GLMM estimate"),
        f"{prefix}_glmm_ci": Entry(f"{glmm.proportion_ci_lower:.6f}–{glmm.proportion_ci_upper:.6f}",
                                   interval(glmm.proportion_ci_lower, glmm.proportion_ci_upper),
                                   f"{what}: GLMM confidence interval"),
        f"{prefix}_glmm_tau2": Entry(round(glmm.tau2, 6), statistic(glmm.tau2, 3), f"{what}: GLMM tau^2 (logit)"),
    }


def pooled_entries(prefix: str, what: str, pooled: PooledResult) -> dict[str, Entry]:
    scale = {"PLO": "logit", "PFT": "ft"}[pooled.measure]
    name = {"PLO": "random effects, logit", "PFT": "random effects, Freeman-Tukey"}[pooled.measure]
    return {
        f"{prefix}_re_{scale}_pct": Entry(round(pooled.proportion, 6), pct(pooled.proportion), f"{what}: {name}"),
        f"{prefix}_re_{scale}_ci": Entry(
            f"{pooled.proportion_ci_lower:.6f}–{pooled.proportion_ci_upper:.6f}",
            interval(pooled.proportion_ci_lower, pooled.proportion_ci_upper), f"{what}: {name}, interval"),
    }


def analysis_entries(prefix: str, what: str, result: MetaAnalysis) -> dict[str, Entry]:
    """Registry entries of one analysis: crude, GLMM and both random-effects models, heterogeneity."""
    crude = result.crude
    entries = {
        f"{prefix}_k": Entry(result.re_logit.k, str(result.re_logit.k), f"{what}: rows (studies or groups)"),
        f"{prefix}_events": Entry(crude.events, str(crude.events), f"{what}: responders"),
        f"{prefix}_total": Entry(crude.total, str(crude.total), f"{what}: patients"),
        f"{prefix}_crude_pct": Entry(round(crude.proportion, 6), pct(crude.proportion), f"{what}: crude proportion"),
        **_ci_entries(f"{prefix}_crude", f"{what}, crude", crude.clopper_pearson),
        **glmm_entries(prefix, what, result.glmm),
        **pooled_entries(prefix, what, result.re_logit),
        **pooled_entries(prefix, what, result.re_ft),
        f"{prefix}_i2": Entry(round(result.re_logit.i2, 6), f"{result.re_logit.i2:.0f}%", f"{what}: I^2 (logit, REML)"),
        f"{prefix}_tau2": Entry(round(result.re_logit.tau2, 6), statistic(result.re_logit.tau2, 3),
                                f"{what}: tau^2 (logit, REML)"),
        f"{prefix}_q": Entry(round(result.re_logit.q, 6), statistic(result.re_logit.q), f"{what}: Cochran's Q (logit)"),
        f"{prefix}_q_df": Entry(result.re_logit.q_df, str(result.re_logit.q_df), f"{what}: degrees of freedom of Q"),
        f"{prefix}_q_p": Entry(round(result.re_logit.q_p, 6), p_value(result.re_logit.q_p), f"{what}: p of Q"),
    }
    return entries


def subgroup_entries(prefix: str, what: str, analysis: SubgroupAnalysis,
                     keys: Mapping[str, str]) -> dict[str, Entry]:
    """Per-subgroup entries (named by ``keys``: label -> key part) and the subgroup tests."""
    entries: dict[str, Entry] = {}
    for label, result in zip(analysis.labels, analysis.within):
        entries |= analysis_entries(f"{prefix}_{keys[label]}", f"{what}, {label}", result)
    for test in analysis.tests:
        model = {"GLMM": "glmm", "PLO": "logit", "PFT": "ft"}[test.model]
        entries[f"{prefix}_test_{model}_q"] = Entry(
            "NA" if math.isnan(test.q_between) else round(test.q_between, 6), statistic(test.q_between),
            f"{what}: test for subgroup difference ({test.model}), chi-square on {test.df} df. {test.note}".strip())
        entries[f"{prefix}_test_{model}_p"] = Entry(
            "NA" if math.isnan(test.p_value) else round(test.p_value, 6), p_value(test.p_value),
            f"{what}: p of the test for subgroup difference ({test.model})")
    return entries


# --- the analyses ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analyses:
    studies: pandas.DataFrame
    overall: MetaAnalysis
    dose_rows: pandas.DataFrame
    dose_overall: MetaAnalysis
    by_dose: SubgroupAnalysis
    by_daily: SubgroupAnalysis
    multi_patient: MetaAnalysis
    headache: tuple[ProportionCI, ProportionCI]


def run(sheets: Mapping[str, pandas.DataFrame]) -> Analyses:
    """Every analysis of the review's response and headache data."""
    from engine import meta_analysis as ma

    studies = study_rows(sheets["studies"], sheets["outcomes"])
    overall = ma.analyse_proportions(studies["events"], studies["total"], METHOD, LEVEL)
    dose_rows = dose_group_rows(sheets["studies"], sheets["dose_groups"], sheets["regimens"])
    dose_overall = ma.analyse_proportions(dose_rows["events"], dose_rows["total"], METHOD, LEVEL)
    by_dose = ma.subgroup_analysis(dose_rows["events"], dose_rows["total"], dose_rows["subgroup"], METHOD,
                                   level=LEVEL)
    high = dose_rows[(dose_rows["dose_group"] == "high") & dose_rows["daily"].isin(list(DAILY_LABELS))]
    by_daily = ma.subgroup_analysis(high["events"], high["total"], high["daily"].map(DAILY_LABELS), METHOD,
                                    level=LEVEL)
    several = studies[studies["total"] > 1]
    multi_patient = ma.analyse_proportions(several["events"], several["total"], METHOD, LEVEL)
    aggregates = sheets["aggregates"]
    headache = aggregates[(aggregates["measure"] == "adverse_event") & (aggregates["category"] == "Headache")]
    events, total = int(headache["patients"].iloc[0]), int(headache["denominator"].iloc[0])
    return Analyses(studies, overall, dose_rows, dose_overall, by_dose, by_daily, multi_patient,
                    (ma.clopper_pearson(events, total, LEVEL), ma.wilson(events, total, LEVEL)))


def registry(analyses: Analyses) -> dict[str, Entry]:
    """All registry entries of the analyses."""
    entries = {
        "ma_level_pct": Entry(LEVEL, f"{100 * LEVEL:.0f}%", "Level of every confidence interval"),
        "ma_glmm_nodes": Entry(analyses.overall.glmm.n_nodes, str(analyses.overall.glmm.n_nodes),
                               "Gauss-Hermite quadrature points of the GLMM"),
        **analysis_entries("ma_all", "All studies", analyses.overall),
        "ma_all_crude_wilson_ci": Entry(
            f"{analyses.overall.crude.wilson.lower:.6f}–{analyses.overall.crude.wilson.upper:.6f}",
            interval(analyses.overall.crude.wilson.lower, analyses.overall.crude.wilson.upper),
            "All studies, crude: Wilson interval"),
        **subgroup_entries("ma_dose", "Dose per cycle", analyses.by_dose,
                           {DOSE_LABELS["high"]: "high", DOSE_LABELS["low"]: "low"}),
        **subgroup_entries("ma_daily", "Daily dose (high-dose group)", analyses.by_daily,
                           {DAILY_LABELS["high"]: "high", DAILY_LABELS["conventional"]: "conventional"}),
        **analysis_entries("ma_multi", "Studies with more than one patient", analyses.multi_patient),
        "ma_headache_cp_ci": Entry(f"{analyses.headache[0].lower:.6f}–{analyses.headache[0].upper:.6f}",
                                   interval(analyses.headache[0].lower, analyses.headache[0].upper),
                                   "Headache rate: Clopper-Pearson interval"),
        "ma_headache_wilson_ci": Entry(f"{analyses.headache[1].lower:.6f}–{analyses.headache[1].upper:.6f}",
                                       interval(analyses.headache[1].lower, analyses.headache[1].upper),
                                       "Headache rate: Wilson interval"),
    }
    return entries


def document(analyses: Analyses) -> dict[str, Any]:
    """The registry entries in the form the values rule reads (``engine.values.analysis_values``)."""
    return {"made_by": MADE_BY,
            "values": {key: vars(entry) for key, entry in sorted(registry(analyses).items())}}


def write_outputs(analyses: Analyses, json_path: Path, forest: Path, forest_dose: Path) -> None:
    """The registry entries as JSON (read by engine/values.py) and the two forest plots."""
    from engine.forest_plot import forest_plot

    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document(analyses), indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                         encoding="utf-8")
    forest_plot(analyses.studies, analyses.overall, forest)
    forest_plot(analyses.dose_rows, analyses.dose_overall, forest_dose, subgroups=analyses.by_dose)


def main(argv: Sequence[str] | None = None) -> int:
    from engine.sheets import read_validated

    parser = argparse.ArgumentParser(description="Run the meta-analyses of response and headache.")
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="registry entries (JSON)")
    parser.add_argument("--forest", type=Path, required=True, help="forest plot (SVG)")
    parser.add_argument("--forest-dose", type=Path, required=True, help="forest plot by dose group")
    args = parser.parse_args(argv)
    sheets = {name: read_validated(args.validated_dir / f"{name}.csv", name)
              for name in ("studies", "outcomes", "dose_groups", "regimens", "aggregates")}
    write_outputs(run(sheets), args.out, args.forest, args.forest_dose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
