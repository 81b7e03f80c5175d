"""Figures a review's plug-ins draw (``figures:`` in the manifest with ``plugin:``), saved byte-stable.

A plug-in takes the validated sheets the manifest lists and returns a matplotlib Figure; the engine sets
the settings that make the SVG identical from run to run (fixed hash salt, no date, text kept as text)
and names the plug-in's file as the SVG's creator, which the manuscript's caption links to.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def configure_matplotlib() -> None:
    """Settings that make the files identical from run to run and independent of the machine."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        "svg.hashsalt": "review-figure",
        "svg.fonttype": "none",  # text stays text in the SVG: selectable and searchable
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "text.usetex": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def save_figure(figure: Figure, svg_path: Path, creator: str) -> None:
    """Write the figure as SVG without a timestamp; ``creator`` (the script that drew it) is its metadata.

    SVG only: the paper embeds the SVG in both formats (Typst reads SVG).
    """
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(svg_path, format="svg", metadata={"Date": None, "Creator": creator}, bbox_inches="tight")


def main(argv: Sequence[str] | None = None) -> int:
    from engine.manifest import load_review
    from engine.sheets import read_sheets

    parser = argparse.ArgumentParser(description="Draw a figure of the review manifest with its plug-in.")
    parser.add_argument("--manifest", type=Path, default=Path("config/review.yaml"))
    parser.add_argument("--figure", required=True, help="the figure's name in the manifest")
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--svg", type=Path, required=True)
    args = parser.parse_args(argv)
    review = load_review(args.manifest)
    spec = review.plugin_figures.get(args.figure)
    if spec is None:
        parser.error(f"no plug-in figure {args.figure!r}: the manifest has {', '.join(review.plugin_figures) or 'none'}")
    sheets = read_sheets(review, args.validated_dir)
    configure_matplotlib()
    figure = review.plugin(spec["plugin"])(*(sheets[name] for name in spec["sheets"]))
    save_figure(figure, args.svg, f"{spec['plugin'].partition(':')[0].replace('.', '/')}.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
