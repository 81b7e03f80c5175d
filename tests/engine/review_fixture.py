"""Small fixture reviews written from Python: a manifest, one schema per sheet, the sheets as CSV text.

The engine's tests build reviews that are not Gao & Jin (a single study, every study with one patient,
descriptive columns that nobody reports, no subgroups, an empty optional sheet) to prove that nothing in
the engine assumes that review. Each fixture is a real review folder, as a user would write it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.manifest import Review, load_review

NULLABLE_COUNT = {"anyOf": [{"type": "integer", "minimum": 0}, {"const": "NA"}]}
NULLABLE_TEXT = {"type": "string", "minLength": 1}

STUDIES_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "studies",
    "description": "One row per study.",
    "type": "object",
    "x-primary-key": ["study_id"],
    "properties": {
        "study_id": {"description": "Study number.", "type": "integer", "minimum": 1},
        "first_author": {"description": "First author's surname.", "type": "string", "minLength": 1},
        "year": {"description": "Year of publication.", **NULLABLE_COUNT},
        "country": {"description": "Country.", **NULLABLE_TEXT},
        "events": {"description": "Patients with the event.", **NULLABLE_COUNT},
        "total": {"description": "Patients.", **NULLABLE_COUNT},
        "setting": {"description": "Setting code.", **NULLABLE_TEXT},
    },
    "required": ["study_id", "first_author", "year", "country", "events", "total", "setting"],
    "additionalProperties": False,
}

NOTES_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "notes",
    "description": "Optional notes per study.",
    "type": "object",
    "x-primary-key": ["study_id"],
    "properties": {
        "study_id": {"description": "Study number.", "type": "integer", "minimum": 1},
        "note": {"description": "Free text.", "type": "string"},
    },
    "required": ["study_id", "note"],
    "additionalProperties": False,
}

HEADER = "study_id,first_author,year,country,events,total,setting"

MANIFEST: dict[str, Any] = {
    "review": {"name": "fixture-review", "title": "A fixture review", "short_title": "Fixture review"},
    "sheets": {"studies": {}, "notes": {"optional": True}},
    "rules": [
        {"check": "at_most", "sheet": "studies", "columns": ["events"], "bound": "total"},
        {"check": "references", "sheet": "notes", "column": "study_id", "target": "studies.study_id"},
    ],
    "outcome": {"key": "studies.study_id", "events": "studies.events", "total": "studies.total",
                "label": "{first_author} {year}"},
    "analyses": {"overall": {"key": "ma_all", "title": "All studies"}},
    "tables": {"studies": {"sheets": ["studies"], "columns": [
        {"format": "{first_author} {year}", "label": "Study"},
        {"column": "country", "label": "Country"},
        {"format": "{events}/{total}", "label": "Events/total", "align": "right"},
    ]}},
    "values": {
        "outcome": {"studies": "n_studies", "total": "n_patients", "events": "n_events", "share": "event"},
        "describe": [
            {"key": "n_countries", "stat": "distinct", "column": "studies.country", "description": "Countries"},
            {"key": "year_first", "stat": "min", "column": "studies.year", "description": "First year"},
            {"key": "n_hospital", "stat": "count", "column": "studies.setting", "where": {"setting": "hospital"},
             "description": "Hospital studies"},
        ],
    },
}


def write_review(root: Path, rows: str, manifest: Mapping[str, Any] | None = None,
                 notes: str | None = None) -> Review:
    """A review folder at ``root``: studies.csv from ``rows`` (CSV lines without the header), optional notes."""
    (root / "config" / "schemas").mkdir(parents=True, exist_ok=True)
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (root / "config" / "review.yaml").write_text(yaml.safe_dump(dict(manifest or MANIFEST), sort_keys=False),
                                                 encoding="utf-8")
    for name, schema in (("studies", STUDIES_SCHEMA), ("notes", NOTES_SCHEMA)):
        (root / "config" / "schemas" / f"{name}.schema.yaml").write_text(yaml.safe_dump(schema, sort_keys=False),
                                                                          encoding="utf-8")
    (root / "data" / "raw" / "studies.csv").write_text(f"{HEADER}\n{textwrap.dedent(rows).strip()}\n",
                                                        encoding="utf-8")
    if notes is not None:
        (root / "data" / "raw" / "notes.csv").write_text(notes, encoding="utf-8")
    return load_review(root / "config" / "review.yaml")


def read_sheets_of(review: Review, tmp_path: Path) -> dict[str, Any]:
    """The review's sheets validated into ``tmp_path/validated`` and read back as the jobs read them."""
    from engine.sheets import read_sheets, write_validated
    from engine.validation import validate_sheet

    folder = tmp_path / "validated"
    for spec in review.sheets:
        parsed, problems = validate_sheet(review, spec.name)
        assert problems == [] and parsed is not None
        write_validated(parsed, folder / f"{spec.name}.csv", spec.schema)
    return read_sheets(review, folder)
