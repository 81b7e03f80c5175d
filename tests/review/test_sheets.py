"""Validation of the raw sheets: the real sheets pass, and each kind of bad cell is named precisely."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.manifest import Review
from engine.sheets import Problem, codebook_markdown, format_problems
from engine.validation import validate_all, validate_sheet
from tests.conftest import REPO, REVIEW, SHEETS


def rewrite_cell(path: Path, row_key: tuple[str, str], column: str, value: str) -> None:
    """Set one cell of a CSV, found by a key column and value, keeping everything else byte-for-byte."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    key_index, column_index = header.index(row_key[0]), header.index(column)
    hits = [row for row in rows[1:] if row[key_index] == row_key[1]]
    assert len(hits) == 1, f"{row_key} must select exactly one row"
    hits[0][column_index] = value
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_the_real_sheets_are_valid() -> None:
    assert validate_all(REVIEW) == []


@pytest.mark.parametrize("sheet", SHEETS)
def test_every_sheet_has_a_row_per_record(sheet: str) -> None:
    parsed, problems = validate_sheet(REVIEW, sheet)
    assert problems == [] and parsed is not None and len(parsed.rows) > 0


def test_seventeen_studies_as_in_the_review() -> None:
    parsed, _ = validate_sheet(REVIEW, "studies")
    assert parsed is not None
    # The review's Table 1 numbers its studies 1 to 17.
    assert [row["study_id"] for row in parsed.rows] == list(range(1, 18))


def test_responders_above_patients_names_the_cell(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "dose_groups.csv", ("group_id", "9-high"), "responders", "12")
    problems = validate_sheet(raw_review, "dose_groups")[1]
    # Monshi's group is the 3rd row of the sheet (header = row 1): 12 responders of 11 patients.
    assert Problem(str(raw_copy / "dose_groups.csv"), 3, "responders", "12",
                   "responders (12) must not exceed patients (11)") in problems


def test_males_plus_females_above_patients(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "5"), "males", "3")
    problems = validate_sheet(raw_review, "studies")[1]
    assert [(p.row, p.column, p.value) for p in problems] == [(6, "males", "3")]
    assert "males + females (3 + 7) must not exceed patients (9)" in problems[0].rule


def test_age_mean_outside_its_range(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "16"), "age_value", "90")
    problems = validate_sheet(raw_review, "studies")[1]
    assert [(p.row, p.column, p.value) for p in problems] == [(17, "age_value", "90")]


def test_duplicate_study_id(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "17"), "study_id", "16")
    problems = validate_sheet(raw_review, "studies")[1]
    assert any(p.row == 18 and p.column == "study_id" and "duplicate" in p.rule for p in problems)


def test_unknown_reference_key(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "2"), "ref_key", "nobody2000")
    problems = validate_sheet(raw_review, "studies")[1]
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "ref_key", "nobody2000")]
    assert "references.bib" in problems[0].rule


def test_a_wrong_type_and_a_negative_count_are_both_listed(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "outcomes.csv", ("study_id", "4"), "responders", "one")
    rewrite_cell(raw_copy / "outcomes.csv", ("study_id", "5"), "recurrences", "-1")
    problems = validate_sheet(raw_review, "outcomes")[1]
    assert {(p.row, p.column, p.value) for p in problems} == {(5, "responders", "one"), (6, "recurrences", "-1")}
    message = format_problems(problems)
    assert message.startswith("Validation failed: 2 problem(s)")
    assert "row 5, column responders: value 'one'" in message


def test_dose_groups_must_add_up_to_the_study(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "dose_groups.csv", ("group_id", "3-low"), "patients", "2")
    problems = validate_sheet(raw_review, "dose_groups")[1]
    assert any("the rows with study_id 3 sum to 3 patients, studies.csv says 2" in p.rule for p in problems)


def test_unknown_dose_group(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "dose_groups.csv", ("group_id", "5-low"), "dose_group", "medium")
    problems = validate_sheet(raw_review, "dose_groups")[1]
    assert any(p.column == "dose_group" and p.value == "medium" and "one of" in p.rule for p in problems)


def test_validation_reports_every_sheet_in_one_list(raw_copy: Path, raw_review: Review) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "5"), "males", "3")
    rewrite_cell(raw_copy / "aggregates.csv", ("category", "Stroke"), "source_studies", "13;99")
    problems = validate_all(raw_review)
    assert {Path(p.file).name for p in problems} == {"studies.csv", "aggregates.csv"}


def test_the_codebook_is_current() -> None:
    """data/codebook.md is generated from the schemas; regenerate with `python -m engine.validation codebook`."""
    assert (REPO / "data" / "codebook.md").read_text(encoding="utf-8") == codebook_markdown(REVIEW)
