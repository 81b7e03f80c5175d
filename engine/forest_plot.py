"""Forest plot of single proportions with several pooled models.

Public API
----------
``forest_plot(studies, results, path, *, subgroups=None, ...) -> Path``
    Draws one row per study (label, events/total, proportion with
    Clopper-Pearson 95% CI, weight %), a diamond per pooled model, a
    heterogeneity line and, optionally, subgroup blocks with their own
    diamonds and the test for subgroup differences.  Writes ``<path>.svg``
    (any suffix on ``path`` is replaced) and returns its path. SVG only: the
    paper embeds the SVG in both formats (Typst reads SVG); a PDF copy cost
    half of the meta-analysis job's time, and nothing read it.

Output is byte-reproducible: the SVG hash salt and the font are fixed, text
is kept as text (``svg.fonttype = "none"``, so labels are searchable), and
the date stamp is suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory

from engine.atomic import atomic_path
from engine.meta_analysis import (
    GLMMResult,
    MetaAnalysis,
    PooledResult,
    SubgroupAnalysis,
    SubgroupTest,
    clopper_pearson,
)

if TYPE_CHECKING:
    from engine.analysis import Pooled
    from engine.inference import Inference

__all__ = ["forest_plot", "sensitivity_plot", "MODEL_LABELS", "DEFAULT_MODELS"]

ModelKey = Literal["glmm", "re_ft", "re_logit", "crude", "ce_ft", "ce_logit"]

DEFAULT_MODELS: tuple[ModelKey, ...] = ("glmm", "re_ft", "re_logit", "crude")

MODEL_LABELS: dict[str, str] = {
    "glmm": "GLMM, binomial-logit (ML)",
    "re_ft": "Random effects, Freeman-Tukey ({method})",
    "re_logit": "Random effects, logit ({method})",
    "ce_ft": "Common effect, Freeman-Tukey",
    "ce_logit": "Common effect, logit",
    "crude": "Crude pooled proportion",
}

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "svg.hashsalt": "forest-plot",
    "svg.fonttype": "none",
    "path.simplify": False,
}

_ROW = 0.24  # inches per table row
_INK = "#1f2a36"
_STUDY = "#36597a"
_GRID = "#d9dde2"
_DIAMOND_FILL = {"glmm": "#1f2a36"}
_DIAMOND_OTHER = "#9aa8b6"


@dataclass(frozen=True)
class _Pooled:
    label: str
    estimate: float
    lower: float
    upper: float
    primary: bool
    note: str = ""


@dataclass(frozen=True)
class ForestLabels:
    """What the plot calls its counts and estimates, and the scale it prints them on (the review manifest's
    ``outcome`` and ``analyses.display``): per 100 ("Response, %") or per 1,000, 10,000, ..."""

    events: str = "events"
    total: str = "total"
    measure: str = "Proportion"
    per: int = 100
    decimals: int = 1
    level: float = 0.95

    @property
    def unit(self) -> str:
        return "%" if self.per == 100 else f"per {self.per:,}"

    def number(self, v: float) -> str:
        return f"{self.per * v:.{self.decimals}f}"

    def ci_text(self, est: float, lo: float, hi: float) -> str:
        return f"{self.number(est)} ({self.number(lo)}\u2013{self.number(hi)})"


def _count(n: int) -> str:
    """A count as the registry prints it: thousands separators from 10,000 up (engine/values.py count)."""
    return f"{n:,}" if n >= 10_000 else str(n)


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pooled_rows(res: MetaAnalysis, models: Sequence[ModelKey], method_label: str,
                 labels: ForestLabels) -> list[_Pooled]:
    rows: list[_Pooled] = []
    for key in models:
        label = MODEL_LABELS[key].format(method=method_label)
        if key == "crude":
            c = res.crude
            rows.append(_Pooled(label, c.proportion, c.clopper_pearson.lower, c.clopper_pearson.upper, False))
            continue
        r: GLMMResult | PooledResult = getattr(res, key)
        if isinstance(r, GLMMResult) and not r.estimable:
            rows.append(_Pooled(label, np.nan, np.nan, np.nan, True, f"not estimable (no non-{labels.events})"
                                if r.proportion == 1.0 else f"not estimable (no {labels.events})"))
            continue
        rows.append(_Pooled(label, r.proportion, r.proportion_ci_lower, r.proportion_ci_upper, key == "glmm"))
    return rows


def _heterogeneity_text(res: MetaAnalysis, inference: Inference | None = None) -> str:
    lo, g = res.re_logit, res.glmm
    if inference is not None and inference.profile is not None and g.estimable:
        parts = [f"GLMM \u03c4 = {g.tau:.2f} (profile {100 * inference.profile.level:.0f}% CI "
                 f"{inference.profile.tau_lower:.2f}\u2013{inference.profile.tau_upper:.2f})",
                 f"LRT of \u03c4\u00b2 = 0 {_p_text(g.lrt_tau2_p)}"]
        if inference.exact_p is not None:
            parts.append(f"exact test of homogeneity {_p_text(inference.exact_p)}")
        parts.append(f"(Q on continuity-corrected logits = {lo.q:.2f}, df = {lo.q_df}: not calibrated here)")
        return "; ".join(parts)
    parts = [
        f"Heterogeneity (logit, {lo.method}): \u03c4\u00b2 = {lo.tau2:.3f}, I\u00b2 = {lo.i2:.0f}%",
        f"Q = {lo.q:.2f}, df = {lo.q_df}, {_p_text(lo.q_p)}",
    ]
    g = res.glmm
    if g.estimable:
        parts.append(f"GLMM \u03c4\u00b2 = {g.tau2:.3f}")
    return "; ".join(parts)


def _subgroup_test_text(t: SubgroupTest) -> str:
    name = {"GLMM": "GLMM", "PLO": "logit", "PFT": "Freeman-Tukey"}[t.model]
    if not np.isfinite(t.q_between):
        return f"Test for subgroup differences ({name}): not estimable"
    return (
        f"Test for subgroup differences ({name}, {t.tau2_structure} \u03c4\u00b2): "
        f"\u03c7\u00b2 = {t.q_between:.2f}, df = {t.df}, {_p_text(t.p_value)}"
    )


def _axis_ticks(df: pd.DataFrame, rows: Sequence[tuple[str, object]], labels: ForestLabels, events_col: str,
                total_col: str) -> tuple[list[float], list[float]]:
    """Major and minor ticks (as proportions): 0-100 by 20 on the percent scale; otherwise from 0 to a round
    number above the highest interval, so that rare events (a few per 10,000) fill the axis."""
    if labels.per == 100:
        return list(np.linspace(0, 1, 6)), list(np.linspace(0, 1, 11))
    from matplotlib.ticker import MaxNLocator

    uppers = [clopper_pearson(int(x), int(n), labels.level).upper for x, n in zip(df[events_col], df[total_col])]
    uppers += [p.upper for kind, p in rows if kind in ("pooled", "pooled_sub") and np.isfinite(p.upper)]
    top = max(uppers) * labels.per
    major = [t for t in MaxNLocator(nbins=5).tick_values(0, top) if t >= 0]
    while major[-1] < top:
        major.append(major[-1] + (major[1] - major[0]))
    step = (major[1] - major[0]) / 2
    minor = list(np.arange(0, major[-1] + step / 2, step))
    return [t / labels.per for t in major], [t / labels.per for t in minor]


def forest_plot(
    studies: pd.DataFrame,
    results: MetaAnalysis,
    path: str | Path,
    *,
    subgroups: SubgroupAnalysis | None = None,
    subgroup_col: str = "subgroup",
    label_col: str = "label",
    events_col: str = "events",
    total_col: str = "total",
    models: Sequence[ModelKey] = DEFAULT_MODELS,
    weights_from: Literal["patients", "re_ft", "re_logit"] = "patients",
    title: str | None = None,
    labels: ForestLabels = ForestLabels(),
    inference: Inference | None = None,
) -> Path:
    """Draw the forest plot and write ``<path>.svg``.

    ``studies`` has one row per study in the order used to compute
    ``results`` (columns ``label_col``, ``events_col``, ``total_col`` and,
    with ``subgroups``, ``subgroup_col``).  A square's area is the study's
    weight: by default (``weights_from="patients"``) its share of all
    patients, which is what the GLMM, the primary model, stands behind (its
    implied weights are proportional to n when tau^2 is 0, and the GLMM has no
    inverse-variance weights); or a random-effects model's weights.
    ``inference`` adds the GLMM's prediction interval, its calibrated
    heterogeneity and the likelihood-ratio test of the subgroups.
    """
    required = [label_col, events_col, total_col] + ([subgroup_col] if subgroups is not None else [])
    missing = [c for c in required if c not in studies.columns]
    if missing:
        raise ValueError(f"studies lacks column(s): {missing}")
    df = studies.reset_index(drop=True)
    if results.re_logit.k != len(df):
        raise ValueError("results were computed on a different number of studies")
    if weights_from == "patients":
        totals = df[total_col].to_numpy(dtype=float)
        weights = 100.0 * totals / totals.sum()
    else:
        weights = np.asarray(getattr(results, weights_from).weights)
    method_label = results.re_logit.method

    # Build the table as a list of row specs, top to bottom, then draw.
    rows: list[tuple[str, object]] = []
    if subgroups is None:
        blocks = [(None, list(range(len(df))), None)]
    else:
        g = df[subgroup_col].astype(str).tolist()
        blocks = [
            (lab, [i for i, v in enumerate(g) if v == lab], subgroups.within[j])
            for j, lab in enumerate(subgroups.labels)
        ]
    within_pi = inference.within_prediction if inference is not None else None
    for block, (lab, idx, sub) in enumerate(blocks):
        if lab is not None:
            rows.append(("group", lab))
        for i in idx:
            rows.append(("study", i))
        if sub is not None:
            rows.append(("gap", None))
            for p in _pooled_rows(sub, models, method_label, labels):
                rows.append(("pooled_sub", p))
            if within_pi is not None and np.isfinite(within_pi[block][0]):
                rows.append(("prediction", _Pooled(f"Prediction interval (GLMM, t on {sub.glmm.k - 2} df)",
                                                   sub.glmm.proportion, *within_pi[block], True)))
            rows.append(("note", _heterogeneity_text(sub)))
            rows.append(("gap", None))
    if subgroups is not None:
        rows.append(("group", "Overall"))
    else:
        rows.append(("gap", None))
    for p in _pooled_rows(results, models, method_label, labels):
        rows.append(("pooled", p))
    if inference is not None and inference.prediction is not None and np.isfinite(inference.prediction[0]):
        rows.append(("prediction", _Pooled(f"Prediction interval (GLMM, t on {results.glmm.k - 2} df)",
                                           results.glmm.proportion, *inference.prediction, True)))
    rows.append(("note", _heterogeneity_text(results, inference)))
    weight_note = {"patients": f"Square area: the study's share of all {labels.total}",
                   "re_ft": f"Square area: weight in the random-effects Freeman-Tukey model ({method_label})",
                   "re_logit": f"Square area: weight in the random-effects logit model ({method_label})"}
    rows.append(("note", f"{weight_note[weights_from]}; study CIs: Clopper-Pearson exact."))
    if subgroups is not None:
        moderator = inference.moderator if inference is not None else None
        if moderator is None:
            for t in subgroups.tests:
                rows.append(("note", _subgroup_test_text(t)))
        else:
            # With all-event subgroups the logit and Freeman-Tukey tests compare artefacts of the continuity
            # correction and the back-transformation; only the GLMM's tests are shown.
            rows.append(("note", _subgroup_test_text(subgroups.test("GLMM"))))
            rows.append(("note", "GLMM likelihood-ratio test of the subgroups (common \u03c4\u00b2): "
                                 + (f"\u03c7\u00b2 = {moderator.q_between:.2f}, df = {moderator.df}, "
                                    f"{_p_text(moderator.p_value)}" if np.isfinite(moderator.q_between)
                                    else "not estimable")))

    n_rows = len(rows)
    fig_h = (n_rows + 3.2) * _ROW + 0.7 + (0.4 if title else 0.0)
    fig_w = 10.5
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(fig_w, fig_h))
        top = 1.0 - (1.55 * _ROW + (0.4 if title else 0.0)) / fig_h
        bottom = 0.62 / fig_h
        ax = fig.add_axes((0.40, bottom, 0.32, top - bottom))
        ax.set_ylim(n_rows - 0.5, -0.7)
        ticks, minor = _axis_ticks(df, rows, labels, events_col, total_col)
        # A little room beyond the ends so that markers at the limits are drawn whole; the ticks still span
        # exactly the axis (0-100% on the percent scale).
        ax.set_xlim(-0.025 * ticks[-1], 1.025 * ticks[-1])
        trans = blended_transform_factory(fig.transFigure, ax.transData)
        col_label, col_counts, col_ci, col_w = 0.015, 0.375, 0.74, 0.985

        def text(x: float, y: float, s: str, **kw: object) -> None:
            kw.setdefault("color", _INK)
            # Labels are data (author names): "$x$" must print as typed, not as mathtext.
            ax.text(x, y, s, transform=trans, va="center", clip_on=False, parse_math=False,
                    **kw)  # type: ignore[arg-type]

        header_y = -1.35
        text(col_label, header_y, "Study", fontweight="bold")
        text(col_counts, header_y, f"{labels.events.capitalize()} / {labels.total}", ha="right", fontweight="bold")
        text(col_ci, header_y, f"{labels.measure}, {labels.unit} ({100 * labels.level:.0f}% CI)", fontweight="bold")
        text(col_w, header_y, "Patients, %" if weights_from == "patients" else "Weight, %", ha="right",
             fontweight="bold")
        ax.plot([0, 1], [header_y + 0.75] * 2, transform=trans, color=_INK, lw=0.8, clip_on=False)

        w_max = float(weights.max()) if weights.size else 1.0
        glmm_est = results.glmm.proportion if results.glmm.estimable else np.nan
        for y, (kind, payload) in enumerate(rows):
            if kind == "group":
                text(col_label, y, str(payload), fontweight="bold")
            elif kind == "study":
                i = int(payload)  # type: ignore[call-overload]
                x, n = int(df.at[i, events_col]), int(df.at[i, total_col])
                ci = clopper_pearson(x, n, labels.level)
                text(col_label + 0.012, y, str(df.at[i, label_col]))
                text(col_counts, y, f"{_count(x)} / {_count(n)}", ha="right")
                text(col_ci, y, labels.ci_text(ci.estimate, ci.lower, ci.upper))
                text(col_w, y, f"{weights[i]:.1f}", ha="right")
                ax.plot([ci.lower, ci.upper], [y, y], color=_STUDY, lw=1.0, solid_capstyle="butt", zorder=2,
                        clip_on=False)
                side = 3.0 + 7.0 * np.sqrt(weights[i] / w_max)  # area proportional to weight
                ax.plot([ci.estimate], [y], marker="s", ms=side, color=_STUDY, mec="none", zorder=3, clip_on=False)
            elif kind in ("pooled", "pooled_sub"):
                p = payload
                assert isinstance(p, _Pooled)
                weight = "bold" if p.primary and kind == "pooled" else "normal"
                text(col_label + (0.012 if kind == "pooled_sub" else 0.0), y, p.label, fontweight=weight)
                if np.isfinite(p.estimate):
                    text(col_ci, y, labels.ci_text(p.estimate, p.lower, p.upper), fontweight=weight)
                    h = 0.34
                    fill = _DIAMOND_FILL["glmm"] if p.primary else _DIAMOND_OTHER
                    ax.add_patch(Polygon(
                        [(p.lower, y), (p.estimate, y - h), (p.upper, y), (p.estimate, y + h)],
                        closed=True, facecolor=fill, edgecolor=_INK, lw=0.7, zorder=4, clip_on=False,
                    ))
                else:
                    text(col_ci, y, p.note, style="italic")
            elif kind == "prediction":
                p = payload
                assert isinstance(p, _Pooled)
                text(col_label, y, p.label)
                text(col_ci, y, labels.ci_text(p.estimate, p.lower, p.upper).split(" ", 1)[1])
                ax.plot([p.lower, p.upper], [y, y], color=_INK, lw=1.4, solid_capstyle="butt", zorder=4,
                        clip_on=False)
                for end in (p.lower, p.upper):
                    ax.plot([end, end], [y - 0.22, y + 0.22], color=_INK, lw=1.4, zorder=4, clip_on=False)
            elif kind == "note":
                text(col_label, y, str(payload), fontsize=8.0, color="#4a5563")

        if np.isfinite(glmm_est):
            ax.axvline(glmm_est, color=_INK, lw=0.7, ls=(0, (4, 3)), zorder=1)
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{labels.per * v:g}" for v in ticks])
        ax.set_xticks(minor, minor=True)
        ax.grid(axis="x", which="major", color=_GRID, lw=0.6, zorder=0)
        ax.set_xlabel(f"{labels.measure}, {labels.unit}")
        ax.set_yticks([])
        for s in ("left", "right", "top"):
            ax.spines[s].set_visible(False)
        ax.tick_params(axis="x", colors=_INK, labelsize=8.5)
        if title:
            fig.text(0.015, 1.0 - 0.22 / fig_h, title, fontsize=11, fontweight="bold", va="top", color=_INK,
                     parse_math=False)

        svg = Path(path).with_suffix(".svg")
        # Creator names this script: the manuscript's caption links the figure to it.
        with atomic_path(svg) as partial:
            fig.savefig(partial, format="svg", metadata={"Date": None, "Creator": "engine/forest_plot.py"})
    return svg


def sensitivity_plot(primary: Pooled, others: Sequence[Pooled], path: str | Path, *,
                     labels: ForestLabels = ForestLabels()) -> Path:
    """The GLMM of ``primary`` (Wald and, if computed, profile-likelihood interval) beside the GLMM of each
    analysis of ``others`` and each leave-one-out refit of ``primary``, with that study's influence
    (DFBETAS). Writes ``<path>.svg``."""
    inference = primary.inference
    rows: list[tuple[str, str, str, _Pooled | None]] = []

    def glmm_row(label: str, result: MetaAnalysis, influence: str = "", bold: bool = False) -> None:
        g = result.glmm
        counts = f"{g.k} / {_count(result.crude.total)}"
        if g.estimable:
            rows.append((label, counts, influence,
                         _Pooled(label, g.proportion, g.proportion_ci_lower, g.proportion_ci_upper, bold)))
        else:
            rows.append((label, counts, influence, None))

    glmm_row(f"{primary.title}: GLMM, Wald CI", primary.result, bold=True)
    if inference is not None and inference.profile is not None:
        g, pr = primary.result.glmm, inference.profile
        rows.append((f"{primary.title}: GLMM, profile-likelihood CI", "", "",
                     _Pooled("", g.proportion, pr.proportion_lower, pr.proportion_upper, True)))
    for other in others:
        glmm_row(other.title, other.result)
    if inference is not None and inference.left_out:
        rows.append(("Leaving out one study", "", "DFBETAS", None))
        totals = primary.rows["total"].to_numpy()
        for i, left in enumerate(inference.left_out):
            counts = f"{left.glmm.k} / {_count(int(totals.sum() - totals[i]))}"
            est = (_Pooled("", left.glmm.proportion, left.glmm.proportion_ci_lower, left.glmm.proportion_ci_upper,
                           False) if left.estimable else None)
            rows.append((f"Without {left.label}", counts, f"{left.dfbetas:+.2f}", est))

    n_rows = len(rows)
    fig_h = (n_rows + 2.6) * _ROW + 0.7
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(10.5, fig_h))
        top, bottom = 1.0 - 1.55 * _ROW / fig_h, 0.62 / fig_h
        ax = fig.add_axes((0.45, bottom, 0.27, top - bottom))
        ax.set_ylim(n_rows - 0.5, -0.7)
        trans = blended_transform_factory(fig.transFigure, ax.transData)

        def text(x: float, y: float, s: str, **kw: object) -> None:
            kw.setdefault("color", _INK)
            ax.text(x, y, s, transform=trans, va="center", clip_on=False, parse_math=False,
                    **kw)  # type: ignore[arg-type]

        header_y = -1.35
        text(0.015, header_y, "Analysis", fontweight="bold")
        text(0.43, header_y, f"Studies / {labels.total}", ha="right", fontweight="bold")
        text(0.74, header_y, f"{labels.measure}, {labels.unit} ({100 * labels.level:.0f}% CI)", fontweight="bold")
        text(0.985, header_y, "Influence", ha="right", fontweight="bold")
        ax.plot([0, 1], [header_y + 0.75] * 2, transform=trans, color=_INK, lw=0.8, clip_on=False)
        for y, (label, counts, influence, est) in enumerate(rows):
            group = est is None and not counts
            text(0.015 if group or y < 2 else 0.027, y, label, fontweight="bold" if group or y == 0 else "normal")
            text(0.43, y, counts, ha="right")
            text(0.985, y, influence, ha="right", fontweight="bold" if group else "normal")
            if est is None:
                continue
            text(0.74, y, labels.ci_text(est.estimate, est.lower, est.upper))
            colour = _INK if est.primary else _STUDY
            ax.plot([est.lower, est.upper], [y, y], color=colour, lw=1.0, zorder=2, clip_on=False)
            ax.plot([est.estimate], [y], marker="D" if est.primary else "s", ms=5.5, color=colour, mec="none",
                    zorder=3, clip_on=False)
        g = primary.result.glmm
        if g.estimable:
            ax.axvline(g.proportion, color=_INK, lw=0.7, ls=(0, (4, 3)), zorder=1)
        lower = min(e.lower for *_, e in rows if e is not None)
        # Tens of percent from the lowest bound up to 100%: the estimates differ by points, not by tens.
        start = max(0.0, np.floor(lower * 10) / 10)
        ticks = [float(t) for t in np.arange(start, 1.0 + 1e-9, 0.1)] if labels.per == 100 else [0.0, 1.0]
        ax.set_xlim(ticks[0] - 0.01, 1.0 + 0.01 * (1.0 - ticks[0]))
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{labels.per * v:g}" for v in ticks])
        ax.grid(axis="x", color=_GRID, lw=0.6, zorder=0)
        ax.set_xlabel(f"{labels.measure}, {labels.unit} (GLMM)")
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="x", colors=_INK, labelsize=8.5)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        svg = out.with_suffix(".svg")
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": "engine/forest_plot.py"})
    return svg
