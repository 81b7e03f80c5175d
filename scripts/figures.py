"""Plug-in of this review: the response-by-study figure, coloured by the review's dose groups.

Named under ``figures:`` in config/review.yaml; engine/figures.py draws it with byte-stable settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

GROUP_COLOURS = {"high": "#1b6ca8", "low": "#e08a1e", "not_grouped": "#8c8c8c", "split": "#6a4c93"}
GROUP_LABELS = {"high": "High-dose group (2–2.1 g/kg per cycle)", "low": "Low-dose group (1–1.5 g/kg per cycle)",
                "not_grouped": "Not in a dose group", "split": "Patients split between the groups"}


def study_group(dose_groups: pandas.DataFrame) -> dict[int, str]:
    """Each study's dose group; a study split across groups is "split"."""
    groups = dose_groups.groupby("study_id")["dose_group"].agg(lambda g: g.iloc[0] if g.nunique() == 1 else "split")
    return {int(study): str(group) for study, group in groups.items()}


def response_by_study(studies: pandas.DataFrame, outcomes: pandas.DataFrame,
                      dose_groups: pandas.DataFrame) -> Figure:
    """Patients and responders per study, in order of publication, coloured by dose group."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    merged = studies.merge(outcomes, on="study_id", suffixes=("_study", "")).sort_values(["year", "study_id"])
    groups = study_group(dose_groups)
    labels = [f"{row.first_author} {row.year} (No. {row.study_id})" for row in merged.itertuples()]
    positions = range(len(merged))[::-1]
    figure, axis = plt.subplots(figsize=(6.3, 4.6))
    for y, row in zip(positions, merged.itertuples()):
        colour = GROUP_COLOURS[groups[int(row.study_id)]]
        axis.barh(y, row.patients, color="white", edgecolor=colour, linewidth=1.0, height=0.7)
        responders = 0 if row.responders is None or row.responders != row.responders else int(row.responders)
        axis.barh(y, responders, color=colour, height=0.7)
        axis.text(row.patients + 0.4, y, f"{responders}/{row.patients}", va="center", fontsize=8, parse_math=False)
    axis.set_yticks(list(positions), labels, fontsize=8)
    for tick in axis.get_yticklabels():
        tick.set_parse_math(False)
    axis.set_xlabel("Patients (filled: responded to IVIG)")
    axis.set_xlim(0, max(merged["patients"]) * 1.15)
    handles = [Patch(color=GROUP_COLOURS[g], label=GROUP_LABELS[g]) for g in GROUP_COLOURS
               if g in set(groups.values())]
    axis.legend(handles=handles, loc="upper right", frameon=False, fontsize=8)
    figure.tight_layout()
    return figure
