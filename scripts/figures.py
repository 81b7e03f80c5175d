"""Figures drawn from the validated sheets (matplotlib, vector SVG, byte-stable).

Byte-stable output matters because a reviewer compares a rebuild with the published paper: the SVG hash
salt is fixed and the date metadata dropped, so the same data always gives the same files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

GROUP_COLOURS = {"high": "#1b6ca8", "low": "#e08a1e", "not_grouped": "#8c8c8c", "split": "#6a4c93"}
GROUP_LABELS = {"high": "High-dose group (2–2.1 g/kg per cycle)", "low": "Low-dose group (1–1.5 g/kg per cycle)",
                "not_grouped": "Not in a dose group", "split": "Patients split between the groups"}


def configure_matplotlib() -> None:
    """Settings that make the files identical from run to run and independent of the machine."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        "svg.hashsalt": "ivig-lv-review",
        "svg.fonttype": "none",  # text stays text in the SVG: selectable and searchable
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "text.usetex": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def save_figure(figure: Figure, svg_path: Path) -> None:
    """Write the figure as SVG without a timestamp.

    SVG only: the paper embeds the SVG in both formats (Typst reads SVG), and a PDF copy of the figures cost two seconds of every build's CPU that nothing read.
    """
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    # Creator names this script: the manuscript's caption links the figure to it.
    figure.savefig(svg_path, format="svg", metadata={"Date": None, "Creator": "scripts/figures.py"},
                   bbox_inches="tight")


def study_group(dose_groups: pandas.DataFrame) -> dict[int, str]:
    """Each study's dose group; a study split across groups is "split"."""
    groups = dose_groups.groupby("study_id")["dose_group"].agg(lambda g: g.iloc[0] if g.nunique() == 1 else "split")
    return {int(study): str(group) for study, group in groups.items()}


def response_by_study(studies: pandas.DataFrame, outcomes: pandas.DataFrame,
                      dose_groups: pandas.DataFrame) -> Figure:
    """Patients and responders per study, in order of publication, coloured by dose group."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    configure_matplotlib()
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


def main(argv: Sequence[str] | None = None) -> int:
    from engine.sheets import read_validated

    parser = argparse.ArgumentParser(description="Draw the response-by-study figure.")
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--svg", type=Path, required=True)
    args = parser.parse_args(argv)
    sheets = {name: read_validated(args.validated_dir / f"{name}.csv", name)
              for name in ("studies", "outcomes", "dose_groups")}
    save_figure(response_by_study(sheets["studies"], sheets["outcomes"], sheets["dose_groups"]), args.svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
