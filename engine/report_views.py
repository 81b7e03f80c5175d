"""Standalone HTML views of the table include files, for Snakemake's report.

Snakemake's report shows SVG, PNG, JPEG, PDF and HTML results inline and offers every other type
(Markdown, CSV, YAML) only as a download. A table include file (``results/tables/<table>.md``) holds a
``{=html}`` and a ``{=typst}`` raw block, so the report could not show it. This module renders the
include file with Pandoc, which keeps the ``{=html}`` block and drops the others, exactly as the
manuscript's HTML does, into one self-contained page.

Usage::

    python -m engine.report_views --md results/tables/efficacy.md --title "Table 2" \
        --out results/report/tables/efficacy.html
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from engine import atomic
from engine.render import pandoc_executable


def table_page(markdown: Path, title: str) -> str:
    """The HTML page of a table include file: its ``{=html}`` raw block in a standalone document."""
    result = subprocess.run(
        [
            pandoc_executable(),
            str(markdown),
            "--from",
            "markdown",
            "--to",
            "html5",
            "--standalone",
            f"--metadata=pagetitle={title}",
            # The default template caps the body at 36em; Tables 1, 2 and 4 are wider.
            "--variable=maxwidth=none",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pandoc failed for {markdown}:\n{result.stderr.strip()}")
    return result.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m engine.report_views", description=__doc__.split("\n\n")[0])
    parser.add_argument("--md", type=Path, required=True, help="table include file (results/tables/<table>.md)")
    parser.add_argument("--title", required=True, help="page title")
    parser.add_argument("--out", type=Path, required=True, help="HTML page to write")
    args = parser.parse_args(argv)
    try:
        page = table_page(args.md, args.title)
    except RuntimeError as error:
        print(f"report_views: {error}", file=sys.stderr)
        return 1
    atomic.write_text(args.out, page)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
