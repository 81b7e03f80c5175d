"""Forest plot of single proportions with several pooled models.

Public API
----------
``forest_plot(studies, results, path, *, subgroups=None, ...) -> Path``
    Draws one row per study (label, responders/patients, proportion with
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
from typing import Literal

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

__all__ = ["forest_plot", "MODEL_LABELS", "DEFAULT_MODELS"]

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


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _ci_text(est: float, lo: float, hi: float) -> str:
    return f"{_pct(est)} ({_pct(lo)}\u2013{_pct(hi)})"


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pooled_rows(res: MetaAnalysis, models: Sequence[ModelKey], method_label: str) -> list[_Pooled]:
    rows: list[_Pooled] = []
    for key in models:
        label = MODEL_LABELS[key].format(method=method_label)
        if key == "crude":
            c = res.crude
            rows.append(_Pooled(label, c.proportion, c.clopper_pearson.lower, c.clopper_pearson.upper, False))
            continue
        r: GLMMResult | PooledResult = getattr(res, key)
        if isinstance(r, GLMMResult) and not r.estimable:
            rows.append(_Pooled(label, np.nan, np.nan, np.nan, True, "not estimable (no non-responders)"
                                if r.proportion == 1.0 else "not estimable (no responders)"))
            continue
        rows.append(_Pooled(label, r.proportion, r.proportion_ci_lower, r.proportion_ci_upper, key == "glmm"))
    return rows


def _heterogeneity_text(res: MetaAnalysis) -> str:
    lo = res.re_logit
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
    weights_from: Literal["re_ft", "re_logit"] = "re_ft",
    title: str | None = None,
) -> Path:
    """Draw the forest plot and write ``<path>.svg``.

    ``studies`` has one row per study in the order used to compute
    ``results`` (columns ``label_col``, ``events_col``, ``total_col`` and,
    with ``subgroups``, ``subgroup_col``).  Weights are the percentage
    weights of the ``weights_from`` model of the overall analysis: the GLMM
    has no inverse-variance weights, and the Freeman-Tukey weights are
    nearly proportional to n, which is what readers expect.
    """
    required = [label_col, events_col, total_col] + ([subgroup_col] if subgroups is not None else [])
    missing = [c for c in required if c not in studies.columns]
    if missing:
        raise ValueError(f"studies lacks column(s): {missing}")
    df = studies.reset_index(drop=True)
    weights = np.asarray(getattr(results, weights_from).weights)
    if weights.size != len(df):
        raise ValueError("results were computed on a different number of studies")
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
    for lab, idx, sub in blocks:
        if lab is not None:
            rows.append(("group", lab))
        for i in idx:
            rows.append(("study", i))
        if sub is not None:
            rows.append(("gap", None))
            for p in _pooled_rows(sub, models, method_label):
                rows.append(("pooled_sub", p))
            rows.append(("note", _heterogeneity_text(sub)))
            rows.append(("gap", None))
    if subgroups is not None:
        rows.append(("group", "Overall"))
    else:
        rows.append(("gap", None))
    for p in _pooled_rows(results, models, method_label):
        rows.append(("pooled", p))
    rows.append(("note", _heterogeneity_text(results)))
    rows.append(("note", f"Study weights: random-effects {'Freeman-Tukey' if weights_from == 're_ft' else 'logit'} "
                         f"model ({method_label}); study CIs: Clopper-Pearson exact."))
    if subgroups is not None:
        for t in subgroups.tests:
            rows.append(("note", _subgroup_test_text(t)))

    n_rows = len(rows)
    fig_h = (n_rows + 3.2) * _ROW + 0.7 + (0.4 if title else 0.0)
    fig_w = 10.5
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(fig_w, fig_h))
        top = 1.0 - (1.55 * _ROW + (0.4 if title else 0.0)) / fig_h
        bottom = 0.62 / fig_h
        ax = fig.add_axes((0.40, bottom, 0.32, top - bottom))
        ax.set_ylim(n_rows - 0.5, -0.7)
        # A little room beyond 0 and 100% so that markers at the limits are
        # drawn whole; the ticks still span exactly 0-100%.
        ax.set_xlim(-0.025, 1.025)
        trans = blended_transform_factory(fig.transFigure, ax.transData)
        col_label, col_counts, col_ci, col_w = 0.015, 0.375, 0.74, 0.985

        def text(x: float, y: float, s: str, **kw: object) -> None:
            kw.setdefault("color", _INK)
            # Labels are data (author names): "$x$" must print as typed, not as mathtext.
            ax.text(x, y, s, transform=trans, va="center", clip_on=False, parse_math=False,
                    **kw)  # type: ignore[arg-type]

        header_y = -1.35
        text(col_label, header_y, "Study", fontweight="bold")
        text(col_counts, header_y, "Responders / patients", ha="right", fontweight="bold")
        text(col_ci, header_y, "Response, % (95% CI)", fontweight="bold")
        text(col_w, header_y, "Weight, %", ha="right", fontweight="bold")
        ax.plot([0, 1], [header_y + 0.75] * 2, transform=trans, color=_INK, lw=0.8, clip_on=False)

        w_max = float(weights.max()) if weights.size else 1.0
        glmm_est = results.glmm.proportion if results.glmm.estimable else np.nan
        for y, (kind, payload) in enumerate(rows):
            if kind == "group":
                text(col_label, y, str(payload), fontweight="bold")
            elif kind == "study":
                i = int(payload)  # type: ignore[call-overload]
                x, n = int(df.at[i, events_col]), int(df.at[i, total_col])
                ci = clopper_pearson(x, n)
                text(col_label + 0.012, y, str(df.at[i, label_col]))
                text(col_counts, y, f"{x} / {n}", ha="right")
                text(col_ci, y, _ci_text(ci.estimate, ci.lower, ci.upper))
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
                    text(col_ci, y, _ci_text(p.estimate, p.lower, p.upper), fontweight=weight)
                    h = 0.34
                    fill = _DIAMOND_FILL["glmm"] if p.primary else _DIAMOND_OTHER
                    ax.add_patch(Polygon(
                        [(p.lower, y), (p.estimate, y - h), (p.upper, y), (p.estimate, y + h)],
                        closed=True, facecolor=fill, edgecolor=_INK, lw=0.7, zorder=4, clip_on=False,
                    ))
                else:
                    text(col_ci, y, p.note, style="italic")
            elif kind == "note":
                text(col_label, y, str(payload), fontsize=8.0, color="#4a5563")

        if np.isfinite(glmm_est):
            ax.axvline(glmm_est, color=_INK, lw=0.7, ls=(0, (4, 3)), zorder=1)
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.set_xticklabels([f"{v}" for v in range(0, 101, 20)])
        ax.set_xticks(np.linspace(0, 1, 11), minor=True)
        ax.grid(axis="x", which="major", color=_GRID, lw=0.6, zorder=0)
        ax.set_xlabel("Response, %")
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
