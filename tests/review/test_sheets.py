"""Validation of the raw sheets: the real sheets pass, and each kind of bad cell is named precisely."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from engine.manifest import Review
from engine.sheets import Problem, codebook_markdown, format_problems, read_sheet, write_validated
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


# --- what a reader must refuse or keep (issue 16) ------------------------------------------------------


def test_a_cell_longer_than_the_csv_modules_default_limit_is_read_whole(raw_copy: Path, tmp_path: Path) -> None:
    """Python's csv stops at 131,072 characters a field; an aggregate over 100,000 studies lists more."""
    long_note = "x" * 200_000
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "2"), "note", long_note)
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "2"), "year", "20O0")
    parsed, problems = validate_sheet(REVIEW.with_raw_dir(raw_copy), "studies")
    # The one problem is the typo two columns before it, named by its column.
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "year", "20O0")]
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "2"), "year", "2000")
    parsed, problems = validate_sheet(REVIEW.with_raw_dir(raw_copy), "studies")
    assert problems == [] and parsed is not None
    write_validated(parsed, tmp_path / "studies.csv", REVIEW.sheet(parsed.name).schema)
    with open(tmp_path / "studies.csv", newline="", encoding="utf-8") as handle:
        csv.field_size_limit(1_000_000)
        assert [row["note"] for row in csv.DictReader(handle)][1] == long_note


@pytest.mark.parametrize(("encoding", "order"), [("utf-16-le", "little-endian"), ("utf-16-be", "big-endian"),
                                                 ("utf-16", None)])
def test_a_sheet_saved_as_utf16_is_named_as_such(raw_copy: Path, encoding: str, order: str | None) -> None:
    sheet = raw_copy / "regimens.csv"
    sheet.write_bytes(sheet.read_text(encoding="utf-8").encode(encoding))
    problems = validate_sheet(REVIEW.with_raw_dir(raw_copy), "regimens")[1]
    assert len(problems) == 1 and problems[0].row is None
    # "utf-16" writes a byte-order mark in this machine's order.
    assert f"the file is UTF-16 ({order or sys.byteorder + '-endian'}), not UTF-8" in problems[0].rule


def test_a_nul_typed_into_one_cell_is_not_taken_for_utf16(raw_copy: Path) -> None:
    rewrite_cell(raw_copy / "regimens.csv", ("group_id", "1-high"), "note", "a\x00b")
    problems = validate_sheet(REVIEW.with_raw_dir(raw_copy), "regimens")[1]
    assert [(p.row, p.column) for p in problems] == [(2, "note")] and "U+0000 NUL" in problems[0].rule


def test_tabs_and_line_breaks_inside_a_quoted_cell_are_text(raw_copy: Path) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "2"), "note", "first line\nsecond\tline")
    assert validate_sheet(REVIEW.with_raw_dir(raw_copy), "studies")[1] == []


def test_negative_numbers_are_no_formulas_but_a_leading_minus_in_text_is(raw_copy: Path) -> None:
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "2"), "note", "-3")
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "3"), "note", "-3 patients")
    rewrite_cell(raw_copy / "studies.csv", ("study_id", "4"), "note", "+1 see row 2")
    problems = validate_sheet(REVIEW.with_raw_dir(raw_copy), "studies")[1]
    assert [(p.row, p.column, p.value) for p in problems] == [(4, "note", "-3 patients"), (5, "note", "+1 see row 2")]
    assert all("spreadsheet" in p.rule for p in problems)


def test_a_rule_across_columns_in_a_schema_is_still_checked(tmp_path: Path) -> None:
    """Cells are judged column by column (each distinct value once); a schema keyword over the whole row
    (here if/then) is checked on the row, and its problem names the column it is about."""
    schema = {"type": "object", "properties": {"kind": {"enum": ["a", "b"]}, "size": {"type": "integer"}},
              "required": ["kind", "size"], "additionalProperties": False,
              "if": {"properties": {"kind": {"const": "a"}}}, "then": {"properties": {"size": {"maximum": 3}}}}
    sheet = tmp_path / "things.csv"
    sheet.write_text("kind,size\na,2\na,5\nb,5\n", encoding="utf-8")
    problems = read_sheet("things", sheet, schema)[1]
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "size", "5")]
    assert "5 is greater than the maximum of 3" in problems[0].rule
