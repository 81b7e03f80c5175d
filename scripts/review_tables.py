"""Plug-ins of this review: its Tables 1-4, laid out as the Gao & Jin review prints them.

Named under ``tables:`` in config/review.yaml; each takes the validated sheets the manifest lists and
returns an engine :class:`~engine.tables.TableSpec`, which the engine writes as HTML (great-tables) and
Typst alike. Abbreviation lists and footnotes are this review's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.tables import NOT_AVAILABLE, Column, TableSpec
from engine.tables import cell_text as _text
from scripts import dosing

if TYPE_CHECKING:
    import pandas

_FOOTNOTE_MARK = re.compile(r"\s*\^([a-z])$")


def _author(first_author: str) -> str:
    return f"{first_author} et al."


ABBREVIATIONS_1 = (
    "ASA, acetylsalicylic acid; ASP, aspirin; AZA, azathioprine; COPD, chronic obstructive pulmonary disease; "
    "CTX, cyclophosphamide; DM, diabetes mellitus; F, female; GC, glucocorticoid; HBOT, hyperbaric oxygen therapy; "
    "HTN, hypertension; LMWH, low-molecular-weight heparin; M, male; MTX, methotrexate; NA, not available; "
    "NSAID, nonsteroidal anti-inflammatory drugs; PGE1, prostaglandin E1; PTX, pentoxifyline [sic]; PUVA, psoralen "
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
