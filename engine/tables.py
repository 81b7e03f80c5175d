"""Tables 1-4 of the review, rebuilt from the validated sheets.

Each table is first described as a :class:`TableSpec` (columns, spanners, row groups, rows of text, notes).
The HTML comes from great-tables; the PDF gets a Typst table written here from the same spec, because
great-tables has no Typst output. Both land in one Markdown include file holding a ``{=html}`` and a
``{=typst}`` raw block, so Quarto and the Pandoc path place the right one in each format, and a test can
compare the spec with the table in the rendered HTML cell by cell.

Cell text is data, never markup: great-tables escapes it for HTML, and the Typst writer emits every
cell as a Typst string literal, where no character has a markup meaning.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scripts import dosing

if TYPE_CHECKING:
    import pandas

NOT_AVAILABLE = "NA"
_FOOTNOTE_MARK = re.compile(r"\s*\^([a-z])$")


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
    group_key: str | None = None  # a row key whose value starts a row group ("High-dose group")
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())  # the sheets the table reads, for provenance
    source_dir: str = "data/raw"  # where those sheets live
    generator: str = "engine/tables.py"  # the script that builds the table: the caption's source link


def _text(value: object) -> str:
    """A cell's text: missing numbers print as the review's "NA"; whole floats lose their ".0"."""
    import pandas

    if pandas.isna(value):
        return NOT_AVAILABLE
    if isinstance(value, float):
        return dosing.decimal(value)
    return str(value)


def _author(first_author: str) -> str:
    return f"{first_author} et al."


ABBREVIATIONS_1 = (
    "ASA, acetylsalicylic acid; ASP, aspirin; AZA, azathioprine; COPD, chronic obstructive pulmonary disease; "
    "CTX, cyclophosphamide; DM, diabetes mellitus; F, female; GC, glucocorticoid; HBOT, hyperbaric oxygen therapy; "
    "HTN, hypertension; LMWH, low-molecular-weight heparin; M, male; MTX, methotrexate; NA, not available; "
    "NSAID, nonsteroidal anti-inflammatory drugs; PGE1, prostaglandin E1; PTX, pentoxifylline; PUVA, psoralen "
    "and UV-A; RA, rheumatoid arthritis; SLE, systemic lupus erythematosus; tPA, tissue plasminogen activator."
)


def demographics_table(studies: pandas.DataFrame) -> TableSpec:
    """Table 1: demographic and general data, one row per study."""
    rows = tuple(
        {
            "no": _text(s["study_id"]), "study": _author(s["first_author"]), "year": _text(s["year"]),
            "country": s["country"], "patients": _text(s["patients"]), "age": s["age_text"],
            "sex": f"{_text(s['males'])}/{_text(s['females'])}", "comorbidities": s["comorbidities_text"],
            "thrombophilia": s["thrombophilia_text"], "previous": s["previous_treatments_text"],
        }
        for s in studies.to_dict("records")
    )
    return TableSpec(
        name="demographics",
        columns=(Column("no", "No.", "right", width="auto"), Column("study", "Study", width="auto"), Column("year", "Year", "right", width="auto"),
                 Column("country", "Country"), Column("patients", "n", "right", width="auto"), Column("age", "Age, years"),
                 Column("sex", "M/F", "center", width="auto"), Column("comorbidities", "Comorbidities", width="1fr"),
                 Column("thrombophilia", "Thrombophilic factors"),
                 Column("previous", "Previous treatment", width="2fr")),
        rows=rows,
        spanners=(("Patients", ("patients", "age", "sex")),),
        notes=("Age: a single patient's age, or mean (range) as printed; square brackets as printed.",
               "Thrombophilic factors: patients with at least one factor; None, screened and none found.",
               ABBREVIATIONS_1),
        sources=("studies",),
    )


def _footnotes(marked_cells: Sequence[str], notes: Sequence[str]) -> list[str]:
    """The table footnotes: a cell ending in "^a" has its footnote text in the row's note ("Footnote a: ...")."""
    found = []
    for cell, note in zip(marked_cells, notes):
        mark = _FOOTNOTE_MARK.search(cell)
        if mark:
            found.append(f"({mark.group(1)}) " + re.sub(r"^Footnote [a-z]:\s*", "", note))
    return found


def efficacy_table(studies: pandas.DataFrame, outcomes: pandas.DataFrame) -> TableSpec:
    """Table 2: efficacy and safety, one row per study, as printed in the review."""
    merged = studies.merge(outcomes, on="study_id", validate="one_to_one", suffixes=("_study", ""))
    rows = tuple(
        {
            "no": _text(r["study_id"]), "study": _author(r["first_author"]), "dosage": r["dosage_text"],
            "frequency": r["frequency_text"], "duration": r["duration_text"],
            "responders": _FOOTNOTE_MARK.sub(r" (\1)", r["responders_text"]),
            "efficacy": r["efficacy_text"], "recurrence": r["recurrence_text"],
            "combination": r["combination_text"], "adverse": r["adverse_events_text"],
        }
        for r in merged.to_dict("records")
    )
    footnotes = tuple(_footnotes(merged["responders_text"], merged["note"]))
    return TableSpec(
        name="efficacy",
        columns=(Column("no", "No.", "right", width="auto"), Column("study", "Study", width="auto"), Column("dosage", "Dosage per cycle"),
                 Column("frequency", "Frequency"), Column("duration", "Duration"),
                 Column("responders", "Responded", width="0.8fr"), Column("efficacy", "Efficacy", width="1.8fr"),
                 Column("recurrence", "Recurrence", width="1fr"), Column("combination", "Combination treatment", width="1fr"),
                 Column("adverse", "Adverse events", width="1fr")),
        rows=rows,
        spanners=(("IVIG regimen", ("dosage", "frequency", "duration")),
                  ("Outcome", ("responders", "efficacy", "recurrence"))),
        notes=(*footnotes,
               "ASA, acetylsalicylic acid; ASP, aspirin; CTX, cyclophosphamide; GC, glucocorticoid; "
               "LMWH, low-molecular-weight heparin; MTX, methotrexate; NA, not available; NR, no recurrence."),
        sources=("studies", "outcomes"),
    )


def comorbidities_table(studies: pandas.DataFrame, aggregates: pandas.DataFrame) -> TableSpec:
    """Table 3: comorbidity counts, which the review gives only over all studies together."""
    authors = dict(zip(studies["study_id"].astype(int), studies["first_author"]))
    comorbid = aggregates[aggregates["measure"] == "comorbidity"]
    rows = tuple(
        {"comorbidity": r["category"], "patients": _text(r["patients"]),
         "studies": ", ".join(f"{authors[int(i)]} ({i})" for i in str(r["source_studies"]).split(";"))}
        for r in comorbid.to_dict("records")
    )
    return TableSpec(
        name="comorbidities",
        columns=(Column("comorbidity", "Comorbidity"), Column("patients", "Patients", "right", width="auto"),
                 Column("studies", "Studies naming it in Table 1 (No.)", width="1fr")),
        rows=rows,
        notes=("Counts are printed by the review for all studies together; no per-study split is given. "
               "The studies column lists the studies whose Table 1 entry names the comorbidity.",),
        sources=("studies", "aggregates"),
    )


def dose_groups_table(studies: pandas.DataFrame, dose_groups: pandas.DataFrame,
                      regimens: pandas.DataFrame) -> TableSpec:
    """Table 4: high- vs low-dose groups as the review assigns them, with the dose computed from the regimen."""
    authors = dict(zip(studies["study_id"], studies["first_author"]))
    computed: dict[str, tuple[str, str, str]] = {}
    for group_id, parsed in dosing.regimens_by_group(regimens).items():
        computed[group_id] = (
            "; ".join(dosing.format_range(dosing.per_cycle(r)) for r in parsed),
            "; ".join(dosing.format_range(dosing.per_day(r)) for r in parsed),
            "; ".join(dosing.format_range(dosing.per_four_weeks(r)) for r in parsed),
        )
    labels = {"high": "High-dose group (2–2.1 g/kg per cycle)", "low": "Low-dose group (1–1.5 g/kg per cycle)",
              "not_grouped": "Not in the review's Table 4"}
    rows = tuple(
        {
            "group": labels[g["dose_group"]], "study": _author(authors[g["study_id"]]),
            "patients": _text(g["patients"]), "regimen": g["regimen_text"],
            "per_cycle": computed.get(g["group_id"], (NOT_AVAILABLE,) * 3)[0],
            "per_day": computed.get(g["group_id"], (NOT_AVAILABLE,) * 3)[1],
            "per_4_weeks": computed.get(g["group_id"], (NOT_AVAILABLE,) * 3)[2],
            "duration": g["duration_text"], "outcome": g["outcome_text"], "adverse": g["adverse_events_text"],
        }
        for g in dose_groups.to_dict("records")
    )
    return TableSpec(
        name="dose-groups",
        columns=(Column("study", "Study", width="auto"), Column("patients", "n", "right", width="auto"),
                 Column("regimen", "Dosage per cycle (printed)"), Column("per_cycle", "Per cycle", "right", width="0.6fr"),
                 Column("per_day", "Per day", "right", width="0.6fr"), Column("per_4_weeks", "Per 4 weeks", "right", width="0.6fr"),
                 Column("duration", "Duration"), Column("outcome", "Treatment outcome", width="2fr"),
                 Column("adverse", "Adverse effects", width="1fr")),
        rows=rows,
        spanners=(("Computed dose, g/kg", ("per_cycle", "per_day", "per_4_weeks")),),
        group_key="group",
        notes=("Groups and printed columns as in the review's Table 4; studies it leaves out are listed last. "
               "Computed dose: from the printed regimen and the initial interval (regimens.csv); a range where "
               "the number of days or the interval is a range; two values where a group received two regimens.",
               "CTX, cyclophosphamide; IVIG, intravenous immunoglobulin; NA, not available."),
        sources=("studies", "dose_groups", "regimens"),
    )


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
        covered = {key for _, keys in spec.spanners for key in keys}
        position = 0
        while position < width:
            key = spec.columns[position].key
            spanner = next(((label, keys) for label, keys in spec.spanners if keys[0] == key), None)
            if spanner:
                header.append(f"table.cell(colspan: {len(spanner[1])}, align: center, text(weight: \"bold\", {_typst_string(spanner[0])}))")
                position += len(spanner[1])
            else:
                header.append("[]" if key not in covered else "[]")
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


BUILDERS: Mapping[str, tuple[tuple[str, ...], Callable[..., TableSpec]]] = {
    "demographics": (("studies",), demographics_table),
    "efficacy": (("studies", "outcomes"), efficacy_table),
    "comorbidities": (("studies", "aggregates"), comorbidities_table),
    "dose-groups": (("studies", "dose_groups", "regimens"), dose_groups_table),
}


def build_table(name: str, validated_dir: Path) -> TableSpec:
    """Rebuild one named table from the validated sheets."""
    from engine.sheets import read_validated

    sheets, builder = BUILDERS[name]
    return builder(*(read_validated(validated_dir / f"{sheet}.csv", sheet) for sheet in sheets))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the review's tables as Quarto includes, one process for all: each output's file "
        "name names its table (results/tables/efficacy.md is the efficacy table)."
    )
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True, help="<folder>/<table>.md, one per table")
    args = parser.parse_args(argv)
    unknown = sorted(path.stem for path in args.out if path.stem not in BUILDERS)
    if unknown:
        parser.error(f"unknown table(s) {', '.join(unknown)}: expected {', '.join(sorted(BUILDERS))}")
    for path in args.out:
        spec = build_table(path.stem, args.validated_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(include_file(spec), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
