"""The analyses a review's manifest declares, and their numbers for the values registry.

``engine/meta_analysis.py`` holds the statistics; this module runs what ``analyses:`` in the manifest asks
for, on the outcome's rows (events over totals, one row per study) or on the rows of another sheet:

* **overall**: the binomial-logit GLMM is the primary model; the random-effects models on the logit and
  Freeman-Tukey scales are sensitivity analyses, and the crude proportion is reported beside them;
* **sensitivity**: the same on a subset of the studies (``where``);
* **subgroups**: the same within each level of a column (a column of the sheet, or one a plug-in derives),
  with the tests for subgroup difference;
* **rates**: a single aggregate proportion (no per-study data) with exact and Wilson intervals.

Rows whose events or total are not reported cannot be pooled: they are left out of every analysis, and the
number left out is part of the registry (``<key>_k`` counts the rows analysed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.rows import analysis_rows, missing

if TYPE_CHECKING:
    import pandas

    from engine.inference import Inference
    from engine.manifest import Review
    from engine.meta_analysis import GLMMResult, MetaAnalysis, PooledResult, ProportionCI, SubgroupAnalysis

MADE_BY = "rule meta_analysis (engine/analysis.py, engine/meta_analysis.py)"
# What an analysis of a single study reports: its own proportion, no pooled model.
SINGLE_STUDY_KEYS = ("k", "events", "total", "crude_pct", "crude_ci")


@dataclass(frozen=True)
class Entry:
    value: float | int | str
    display: str
    description: str


@dataclass(frozen=True)
class Scale:
    """How estimates are printed (``analyses.display`` in the manifest): per 100 ("95.0%") by default, or
    per 1,000, 10,000, ... for rare events ("4.24" per 10,000; the text names the unit)."""

    per: int = 100
    decimals: int = 1

    @property
    def unit(self) -> str:
        return "%" if self.per == 100 else ""

    def point(self, proportion: float) -> str:
        return f"{self.per * proportion:.{self.decimals}f}{self.unit}"

    def interval(self, lower: float, upper: float) -> str:
        return f"{self.per * lower:.{self.decimals}f}–{self.per * upper:.{self.decimals}f}{self.unit}"


PERCENT = Scale()


def pct(proportion: float, decimals: int = 1) -> str:
    """A model estimate as printed: one decimal, "95.0%"."""
    return Scale(100, decimals).point(proportion)


def interval(lower: float, upper: float) -> str:
    """A confidence or prediction interval as printed: "87.4–98.1%"."""
    return PERCENT.interval(lower, upper)


def p_value(p: float) -> str:
    """A p value as printed: three decimals, "<0.001" below that, "NA" when undefined."""
    if p != p:
        return "NA"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def statistic(value: float, decimals: int = 2) -> str:
    return "NA" if value != value else f"{value:.{decimals}f}"


# --- registry entries -----------------------------------------------------------------------------------


def _ci_entries(prefix: str, what: str, ci: ProportionCI, scale: Scale = PERCENT) -> dict[str, Entry]:
    return {f"{prefix}_ci": Entry(f"{ci.lower:.6f}–{ci.upper:.6f}", scale.interval(ci.lower, ci.upper),
                                  f"{what}: {ci.method} interval")}


def _value(proportion: float) -> float:
    """A proportion as stored in the registry: 6 decimals, or 6 significant digits below 0.001."""
    return round(proportion, 6) if abs(proportion) >= 1e-3 or proportion == 0 else float(f"{proportion:.6g}")


def glmm_entries(prefix: str, what: str, glmm: GLMMResult, scale: Scale = PERCENT) -> dict[str, Entry]:
    if not glmm.estimable:
        return {f"{prefix}_glmm_pct": Entry("not estimable", "not estimable", f"{what}: GLMM (all events)")}
    return {
        f"{prefix}_glmm_pct": Entry(_value(glmm.proportion), scale.point(glmm.proportion), f"{what}: GLMM estimate"),
        f"{prefix}_glmm_ci": Entry(f"{glmm.proportion_ci_lower:.6g}–{glmm.proportion_ci_upper:.6g}"
                                   if glmm.proportion_ci_lower < 1e-3 else
                                   f"{glmm.proportion_ci_lower:.6f}–{glmm.proportion_ci_upper:.6f}",
                                   scale.interval(glmm.proportion_ci_lower, glmm.proportion_ci_upper),
                                   f"{what}: GLMM confidence interval"),
        f"{prefix}_glmm_tau2": Entry(round(glmm.tau2, 6), statistic(glmm.tau2, 3), f"{what}: GLMM tau^2 (logit)"),
    }


def pooled_entries(prefix: str, what: str, pooled: PooledResult, scale: Scale = PERCENT) -> dict[str, Entry]:
    short = {"PLO": "logit", "PFT": "ft"}[pooled.measure]
    name = {"PLO": "random effects, logit", "PFT": "random effects, Freeman-Tukey"}[pooled.measure]
    lower, upper = pooled.proportion_ci_lower, pooled.proportion_ci_upper
    return {
        f"{prefix}_re_{short}_pct": Entry(_value(pooled.proportion), scale.point(pooled.proportion),
                                          f"{what}: {name} ({pooled.method})"),
        f"{prefix}_re_{short}_ci": Entry(f"{lower:.6g}–{upper:.6g}" if lower < 1e-3 else f"{lower:.6f}–{upper:.6f}",
                                         scale.interval(lower, upper), f"{what}: {name} ({pooled.method}), interval"),
    }


def analysis_entries(prefix: str, what: str, result: MetaAnalysis, scale: Scale = PERCENT,
                     events_name: str = "events", total_name: str = "total") -> dict[str, Entry]:
    """Registry entries of one analysis: crude, GLMM and both random-effects models, heterogeneity."""
    crude = result.crude
    method = result.re_logit.method
    entries = {
        f"{prefix}_k": Entry(result.re_logit.k, str(result.re_logit.k), f"{what}: rows (studies or groups)"),
        f"{prefix}_events": Entry(crude.events, str(crude.events), f"{what}: {events_name}"),
        f"{prefix}_total": Entry(crude.total, str(crude.total), f"{what}: {total_name}"),
        f"{prefix}_crude_pct": Entry(_value(crude.proportion), scale.point(crude.proportion),
                                     f"{what}: crude proportion"),
        **_ci_entries(f"{prefix}_crude", f"{what}, crude", crude.clopper_pearson, scale),
        **glmm_entries(prefix, what, result.glmm, scale),
        **pooled_entries(prefix, what, result.re_logit, scale),
        **pooled_entries(prefix, what, result.re_ft, scale),
        f"{prefix}_i2": Entry(round(result.re_logit.i2, 6), f"{result.re_logit.i2:.0f}%",
                              f"{what}: I^2 (logit, {method})"),
        f"{prefix}_tau2": Entry(round(result.re_logit.tau2, 6), statistic(result.re_logit.tau2, 3),
                                f"{what}: tau^2 (logit, {method})"),
        f"{prefix}_q": Entry(round(result.re_logit.q, 6), statistic(result.re_logit.q), f"{what}: Cochran's Q (logit)"),
        f"{prefix}_q_df": Entry(result.re_logit.q_df, str(result.re_logit.q_df), f"{what}: degrees of freedom of Q"),
        f"{prefix}_q_p": Entry(round(result.re_logit.q_p, 6), p_value(result.re_logit.q_p), f"{what}: p of Q"),
    }
    return entries


def subgroup_entries(prefix: str, what: str, analysis: SubgroupAnalysis, keys: Mapping[str, str],
                     scale: Scale = PERCENT, events_name: str = "events", total_name: str = "total") -> dict[str, Entry]:
    """Per-subgroup entries (named by ``keys``: label -> key part) and the subgroup tests."""
    entries: dict[str, Entry] = {}
    for label, result in zip(analysis.labels, analysis.within):
        entries |= analysis_entries(f"{prefix}_{keys[label]}", f"{what}, {label}", result, scale, events_name,
                                    total_name)
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
class Pooled:
    """One analysis of the manifest: its rows and its models (with the subgroups, for a subgroup analysis)."""

    key: str
    title: str
    rows: pandas.DataFrame
    result: MetaAnalysis
    subgroups: SubgroupAnalysis | None = None
    levels: Mapping[str, str] | None = None
    inference: Inference | None = None


@dataclass(frozen=True)
class Rate:
    key: str
    title: str
    events: int | None
    total: int | None
    intervals: tuple[ProportionCI, ProportionCI] | None
    reason: str = ""


@dataclass(frozen=True)
class Analyses:
    level: float
    pooled: tuple[Pooled, ...]
    rates: tuple[Rate, ...]
    scale: Scale = PERCENT
    events_name: str = "events"
    total_name: str = "total"
    measure: str = "Proportion"
    options: Mapping[str, Any] | None = None

    def by_key(self, key: str) -> Pooled:
        for analysis in self.pooled:
            if analysis.key == key:
                return analysis
        raise KeyError(key)


def _rate(review: Review, sheets: Mapping[str, pandas.DataFrame], spec: Mapping[str, Any], level: float) -> Rate:
    from engine import meta_analysis as ma
    from engine.manifest import Where

    found = Where(spec["where"]).apply(sheets[spec["sheet"]])
    if len(found) != 1:
        return Rate(spec["key"], spec["title"], None, None, None,
                    f"{len(found)} rows of {spec['sheet']} match its filter, not one")
    events, total = found[spec["events"]].iloc[0], found[spec["total"]].iloc[0]
    if missing(events) or missing(total):
        return Rate(spec["key"], spec["title"], None, None, None,
                    f"{spec['sheet']}.csv does not report its {spec['events'] if missing(events) else spec['total']}")
    events, total = int(events), int(total)
    return Rate(spec["key"], spec["title"], events, total,
                (ma.clopper_pearson(events, total, level), ma.wilson(events, total, level)))


def run(review: Review, sheets: Mapping[str, pandas.DataFrame]) -> Analyses:
    """Every analysis the manifest declares."""
    from engine import inference
    from engine import meta_analysis as ma

    declared = review.analyses
    level, method = declared.get("level", 0.95), declared.get("method", "REML")
    pooled: list[Pooled] = []
    for spec in ([declared["overall"]] if "overall" in declared else []) + list(declared.get("sensitivity", [])):
        rows = analysis_rows(review, sheets, spec)
        if len(rows):
            pooled.append(Pooled(spec["key"], spec["title"], rows,
                                 ma.analyse_proportions(rows["events"], rows["total"], method, level)))
    for spec in declared.get("subgroups", []):
        rows = analysis_rows(review, sheets, spec)
        if rows["subgroup"].nunique() < 2:
            continue  # nothing to compare: the subgroup keys stay out of the registry
        pooled.append(Pooled(spec["key"], spec["title"], rows,
                             ma.analyse_proportions(rows["events"], rows["total"], method, level),
                             ma.subgroup_analysis(rows["events"], rows["total"], rows["subgroup"], method, level=level),
                             spec["levels"]))
    rates = tuple(_rate(review, sheets, spec, level) for spec in declared.get("rates", []))
    display = declared.get("display", {})
    options = inference.declared(declared)
    pooled = [replace(analysis, inference=inference.infer(analysis, options, level, index == 0))
              for index, analysis in enumerate(pooled)]
    return Analyses(level, tuple(pooled), rates, Scale(display.get("per", 100), display.get("decimals", 1)),
                    review.outcome.get("events_name", "events"), review.outcome.get("total_name", "total"),
                    review.outcome.get("measure", "Proportion"), options)


def registry(analyses: Analyses) -> dict[str, Entry]:
    """All registry entries of the analyses."""
    from engine import inference
    entries: dict[str, Entry] = {
        "ma_level_pct": Entry(analyses.level, f"{100 * analyses.level:.0f}%", "Level of every confidence interval"),
        "ma_scale_per": Entry(analyses.scale.per, f"{analyses.scale.per:,}",
                              "Estimates are printed per this many (100: as percentages)"),
    }
    for index, analysis in enumerate(analyses.pooled):
        if index == 0:
            entries["ma_glmm_nodes"] = Entry(analysis.result.glmm.n_nodes, str(analysis.result.glmm.n_nodes),
                                             "Gauss-Hermite quadrature points of the GLMM")
        names = (analyses.scale, analyses.events_name, analyses.total_name)
        if analysis.subgroups is None and analysis.result.re_logit.k < 2:
            # One study: nothing to pool. Its own proportion is reported; the models' keys are absent.
            entries |= {key: entry for key, entry in analysis_entries(analysis.key, analysis.title, analysis.result,
                                                                       *names).items()
                        if key.split(f"{analysis.key}_", 1)[1] in SINGLE_STUDY_KEYS}
        elif analysis.subgroups is None:
            entries |= analysis_entries(analysis.key, analysis.title, analysis.result, *names)
            if index == 0:
                wilson = analysis.result.crude.wilson
                entries[f"{analysis.key}_crude_wilson_ci"] = Entry(
                    f"{wilson.lower:.6f}–{wilson.upper:.6f}", analyses.scale.interval(wilson.lower, wilson.upper),
                    f"{analysis.title}, crude: Wilson interval")
        else:
            assert analysis.levels is not None
            keys = {label: level for level, label in analysis.levels.items()}
            entries |= subgroup_entries(analysis.key, analysis.title, analysis.subgroups, keys, *names)
        if analysis.inference is not None and analyses.options is not None:
            levels = ({label: level for level, label in analysis.levels.items()}
                      if analysis.levels is not None else None)
            entries |= inference.entries(analysis, analysis.inference, analyses.options, analyses.scale, levels)
    for rate in analyses.rates:
        if rate.intervals is None:
            continue
        exact, wilson = rate.intervals
        entries[f"{rate.key}_cp_ci"] = Entry(f"{exact.lower:.6f}–{exact.upper:.6f}", interval(exact.lower, exact.upper),
                                             f"{rate.title}: Clopper-Pearson interval")
        entries[f"{rate.key}_wilson_ci"] = Entry(f"{wilson.lower:.6f}–{wilson.upper:.6f}",
                                                 interval(wilson.lower, wilson.upper), f"{rate.title}: Wilson interval")
    return entries


def absent(analyses: Analyses) -> dict[str, str]:
    """Registry keys an analysis of the manifest cannot give, and why (absent from the registry)."""
    from engine import inference
    missing: dict[str, str] = {}
    for analysis in analyses.pooled:
        if analysis.subgroups is None and analysis.result.re_logit.k < 2:
            for key in analysis_entries(analysis.key, analysis.title, analysis.result):
                if key.split(f"{analysis.key}_", 1)[1] not in SINGLE_STUDY_KEYS:
                    missing[key] = f"{analysis.title}: a single study, nothing to pool"
        if analysis.inference is not None and analyses.options is not None:
            missing |= inference.absent(analysis, analysis.inference, analyses.options)
    for rate in analyses.rates:
        if rate.intervals is None:
            missing[f"{rate.key}_cp_ci"] = missing[f"{rate.key}_wilson_ci"] = f"{rate.title}: {rate.reason}"
    return missing


def document(analyses: Analyses) -> dict[str, Any]:
    """The registry entries in the form the values rule reads (``engine.values.analysis_values``)."""
    return {"made_by": MADE_BY,
            "values": {key: vars(entry) for key, entry in sorted(registry(analyses).items())},
            "absent": dict(sorted(absent(analyses).items()))}


def write_outputs(analyses: Analyses, json_path: Path, figures: Mapping[str, Path],
                  specs: Mapping[str, Mapping[str, Any]]) -> None:
    """The registry entries as JSON (read by engine/values.py) and each figure of ``figures`` (name -> SVG),
    drawn as its manifest entry (``specs``) says: a forest plot of one analysis, or its sensitivity plot."""
    from engine.forest_plot import ForestLabels, forest_plot, sensitivity_plot

    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document(analyses), indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                         encoding="utf-8")
    labels = ForestLabels(analyses.events_name, analyses.total_name, analyses.measure, analyses.scale.per,
                          analyses.scale.decimals, analyses.level)
    for name, path in figures.items():
        spec = specs[name]
        analysis = analyses.by_key(spec["forest"])
        if spec.get("view", "forest") == "sensitivity":
            others = [a for a in analyses.pooled if a.subgroups is None and a.key != analysis.key]
            sensitivity_plot(analysis, others, path, labels=labels)
        else:
            forest_plot(analysis.rows, analysis.result, path, subgroups=analysis.subgroups, labels=labels,
                        weights_from=spec.get("weights", "patients"), inference=analysis.inference)


def main(argv: Sequence[str] | None = None) -> int:
    from engine.manifest import load_review
    from engine.sheets import read_sheets

    parser = argparse.ArgumentParser(description="Run the meta-analyses the review manifest declares.")
    parser.add_argument("--manifest", type=Path, default=Path("config/review.yaml"))
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="registry entries (JSON)")
    parser.add_argument("--figure", nargs=2, action="append", default=[], metavar=("FIGURE", "SVG"),
                        help="draw this figure of the manifest (a forest plot or a sensitivity plot)")
    args = parser.parse_args(argv)
    review = load_review(args.manifest)
    plots = review.forest_plots
    unknown = [name for name, _ in args.figure if name not in plots]
    if unknown:
        parser.error(f"{', '.join(unknown)}: not a forest or sensitivity figure of {args.manifest}"
                     f" (those are: {', '.join(sorted(plots)) or 'none'})")
    analyses = run(review, read_sheets(review, args.validated_dir))
    known = {analysis.key for analysis in analyses.pooled}
    empty = [name for name, _ in args.figure if plots[name] not in known]
    if empty:
        parser.error(f"no plot for {', '.join(empty)}: the analyses with rows are {', '.join(sorted(known))}")
    write_outputs(analyses, args.out, {name: Path(svg) for name, svg in args.figure}, review.figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
