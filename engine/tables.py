"""The review's tables, rebuilt from the validated sheets.

A table is declared in the review's manifest (``tables:``): either by its columns (a sheet column or a
format of columns per table column, with headers and notes), built here, or by a plug-in of the review's
scripts/ that returns a :class:`TableSpec` (for layouts only that review prints). Each table is first described as a :class:`TableSpec` (columns, spanners, row groups, rows of text, notes).
The HTML comes from great-tables; the PDF gets a Typst table written here from the same spec, because
great-tables has no Typst output. Both land in one Markdown include file holding a ``{=html}`` and a
``{=typst}`` raw block, so Quarto and the Pandoc path place the right one in each format, and a test can
compare the spec with the table in the rendered HTML cell by cell.

Cell text is data, never markup: great-tables escapes it for HTML, and the Typst writer emits every
cell as a Typst string literal, where no character has a markup meaning.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.numbers import decimal

if TYPE_CHECKING:
    import pandas

    from engine.manifest import Review

NOT_AVAILABLE = "NA"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    align: str = "left"  # "left" | "right" | "center"
    width: str = "1fr"  # Typst track size: a share of the page width, or "auto" for short fixed cells


@dataclass(frozen=True)
class TableSpec:
    """A table as data: what both the HTML and the Typst writer draw."""

    name: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, str], ...]
    spanners: tuple[tuple[str, tuple[str, ...]], ...] = ()
    group_key: str | None = None  # a row key whose value starts a row group
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())  # the sheets the table reads, for provenance
    source_dir: str = "data/raw"  # where those sheets live
    generator: str = "engine/tables.py"  # the script that builds the table: the caption's source link


def cell_text(value: object) -> str:
    """A cell's text: missing numbers print as the review's "NA"; whole floats lose their ".0"."""
    import pandas

    if pandas.isna(value):
        return NOT_AVAILABLE
    if isinstance(value, float):
        return decimal(value)
    return str(value)


# --- writers ---------------------------------------------------------------------------------------------


def to_great_table(spec: TableSpec):  # -> great_tables.GT
    """The great-tables object for a spec."""
    import great_tables
    import pandas

    keys = [column.key for column in spec.columns]
    frame = pandas.DataFrame([{key: row[key] for key in keys + ([spec.group_key] if spec.group_key else [])}
                              for row in spec.rows])
    table = great_tables.GT(frame, groupname_col=spec.group_key, id=f"tbl-{spec.name}-gt")
    table = table.cols_label(**{column.key: column.label for column in spec.columns})
    for label, columns in spec.spanners:
        table = table.tab_spanner(label=label, columns=list(columns))
    for align in ("left", "right", "center"):
        columns = [c.key for c in spec.columns if c.align == align]
        if columns:
            table = table.cols_align(align=align, columns=columns)
    for note in spec.notes:
        table = table.tab_source_note(note)
    return table.tab_options(table_font_size="12px", table_width="100%", source_notes_font_size="11px",
                             container_overflow_x="auto")


def html_fragment(spec: TableSpec) -> str:
    return to_great_table(spec).as_raw_html()


def _typst_string(text: str) -> str:
    """A Typst string literal: only backslash, quote and control characters need escaping there."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def typst_fragment(spec: TableSpec) -> str:
    """The spec as a Typst table: small type, rules above and below the header, row-group rows."""
    columns = ", ".join(column.width for column in spec.columns)
    align = ", ".join(column.align for column in spec.columns)
    width = len(spec.columns)
    header: list[str] = []
    if spec.spanners:
        position = 0
        while position < width:
            key = spec.columns[position].key
            spanner = next(((label, keys) for label, keys in spec.spanners if keys[0] == key), None)
            if spanner:
                header.append(f"table.cell(colspan: {len(spanner[1])}, align: center, text(weight: \"bold\", {_typst_string(spanner[0])}))")
                position += len(spanner[1])
            else:
                header.append("[]")
                position += 1
    header += [f"text(weight: \"bold\", {_typst_string(column.label)})" for column in spec.columns]
    body: list[str] = []
    group = None
    for row in spec.rows:
        if spec.group_key and row[spec.group_key] != group:
            group = row[spec.group_key]
            body.append(f"table.cell(colspan: {width}, text(style: \"italic\", {_typst_string(group)}))")
        body += [_typst_string(row[column.key]) for column in spec.columns]
    notes = "\n".join(f"#par({_typst_string(note)})" for note in spec.notes)
    return "\n".join([
        "#[",
        "#set text(size: 7pt)",
        "#set par(justify: false)",
        "#table(",
        f"  columns: ({columns},),",
        f"  align: ({align},),",
        "  stroke: none,",
        "  inset: (x: 3pt, y: 2.5pt),",
        "  table.hline(stroke: 0.8pt),",
        "  table.header(" + ", ".join(header) + ", table.hline(stroke: 0.5pt)),",
        *(f"  {cell}," for cell in body),
        "  table.hline(stroke: 0.8pt),",
        ")",
        "#set text(size: 6.5pt)",
        notes,
        "]",
    ])


def include_file(spec: TableSpec) -> str:
    """The Markdown include: one raw block per output format."""
    sheets = ",".join(spec.sources)
    return (f"```{{=comment}}\nGenerated by {spec.generator} from {spec.source_dir}/{{{sheets}}}.csv; do not edit.\n```\n\n"
            f"```{{=html}}\n{html_fragment(spec)}\n```\n\n```{{=typst}}\n{typst_fragment(spec)}\n```\n")


def declared_table(review: Review, name: str, sheets: Mapping[str, pandas.DataFrame]) -> TableSpec:
    """A table the manifest declares column by column: one row per study (the outcome's rows), filtered."""
    from engine.manifest import Where
    from engine.rows import format_label, outcome_rows

    spec = review.tables[name]
    key = review.outcome["key"].split(".")[1]
    frame = outcome_rows(review, sheets)
    for sheet in spec["sheets"]:
        extra = [c for c in sheets[sheet].columns if c not in frame.columns or c == key]
        if key in sheets[sheet].columns and len(extra) > 1:
            frame = frame.merge(sheets[sheet][extra], on=key, how="left")
    frame = Where(spec.get("where", {})).apply(frame)
    columns = tuple(Column(f"c{index}", column["label"], column.get("align", "left"), column.get("width", "1fr"))
                    for index, column in enumerate(spec["columns"]))
    rows = tuple(
        {f"c{index}": (format_label(column["format"], row) or NOT_AVAILABLE) if "format" in column
         else cell_text(row[column["column"]])
         for index, column in enumerate(spec["columns"])}
        for row in frame.to_dict("records")
    )
    notes = tuple(spec.get("notes", ())) + ((spec["abbreviations"],) if spec.get("abbreviations") else ())
    return TableSpec(name=name, columns=columns, rows=rows, notes=notes, sources=tuple(spec["sheets"]))


def build_table(review: Review, name: str, validated_dir: Path) -> TableSpec:
    """Rebuild one table of the manifest from the validated sheets."""
    from dataclasses import replace

    from engine.sheets import read_sheets

    spec = review.tables[name]
    sheets = read_sheets(review, validated_dir)
    if "plugin" not in spec:
        return declared_table(review, name, sheets)
    table = review.plugin(spec["plugin"])(*(sheets[sheet] for sheet in spec["sheets"]))
    module = spec["plugin"].partition(":")[0]
    return replace(table, name=name, sources=tuple(spec["sheets"]), generator=f"{module.replace('.', '/')}.py")


def main(argv: Sequence[str] | None = None) -> int:
    from engine.manifest import load_review

    parser = argparse.ArgumentParser(
        description="Write the review's tables as Quarto includes, one process for all: each output's file "
        "name names its table (results/tables/efficacy.md is the efficacy table)."
    )
    parser.add_argument("--manifest", type=Path, default=Path("config/review.yaml"))
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True, help="<folder>/<table>.md, one per table")
    args = parser.parse_args(argv)
    review = load_review(args.manifest)
    unknown = sorted(path.stem for path in args.out if path.stem not in review.tables)
    if unknown:
        parser.error(f"unknown table(s) {', '.join(unknown)}: the manifest declares {', '.join(sorted(review.tables))}")
    for path in args.out:
        spec = build_table(review, path.stem, args.validated_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(include_file(spec), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
