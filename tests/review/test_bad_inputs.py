"""Bad input stops the real build before anything is made from it, with one summary naming every problem.

Each case breaks the sheets or the bibliography the way hands and spreadsheet programs do, then runs
``snakemake --cores 2`` in two throw-away copies of the project, one never built and one built completely
before, and checks that:

* the build fails;
* one summary lists exactly the problems the case introduced, each with file, row, column, value and rule;
* the build changed no input (sha256 of data/raw and the bibliography);
* in the copy never built, nothing downstream of validation was made (tables, figures, values, paper);
* in the copy built before, the paper, now older than its data, is withdrawn (renamed ``*.STALE.*``).

The expected rows and values are read off the sheets by hand (the header is row 1), not computed by the
code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.sheets import format_problems
from engine.validation import validate_all
from tests.clean_build import Build
from tests.conftest import BIB as REPO_BIB
from tests.conftest import RAW as REPO_RAW
from tests.conftest import REVIEW
from tests.project_copy import build, copy_project

RAW = "data/raw"
BIB = "manuscript/references.bib"
STUDIES, OUTCOMES, DOSE_GROUPS = f"{RAW}/studies.csv", f"{RAW}/outcomes.csv", f"{RAW}/dose_groups.csv"
REGIMENS, AGGREGATES, PRISMA = f"{RAW}/regimens.csv", f"{RAW}/aggregates.csv", f"{RAW}/prisma.csv"
# What validation guards: made only from checked inputs.
DOWNSTREAM = ("results/tables", "results/figures", "results/derived", "results/values.yml",
              "results/values-meta.yml", "_manuscript")
PAPER = ("index.html", "index.pdf")

Mutation = Callable[[Path], None]


@dataclass(frozen=True)
class Expected:
    """One problem the summary must name; ``rule`` is a fragment of the rule text."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def prefix(self) -> str:
        """The summary line's start, in the documented format: ``file, row R, column C: value 'V':``."""
        where = [self.file, *([f"row {self.row}"] if self.row is not None else []),
                 *([f"column {self.column}"] if self.column is not None else [])]
        value = "" if self.value is None else f" value {self.value!r}:"
        return f"  - {', '.join(where)}:{value} "


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutation
    expected: tuple[Expected, ...]


# --- mutations -------------------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write_rows(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerows(rows)


def set_cell(sheet: str, key: tuple[str, str], column: str, value: str) -> Mutation:
    """Set one cell, found by a key column's value."""
    def mutate(project: Path) -> None:
        rows = _read_rows(project / sheet)
        key_index, column_index = rows[0].index(key[0]), rows[0].index(column)
        hits = [row for row in rows[1:] if row[key_index] == key[1]]
        assert len(hits) == 1, f"{key} must select one row of {sheet}"
        hits[0][column_index] = value
        _write_rows(project / sheet, rows)
    return mutate


def edit_rows(sheet: str, edit: Callable[[list[list[str]]], list[list[str]]], delimiter: str = ",") -> Mutation:
    def mutate(project: Path) -> None:
        _write_rows(project / sheet, edit(_read_rows(project / sheet)), delimiter)
    return mutate


def drop_column(sheet: str, column: str) -> Mutation:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        index = rows[0].index(column)
        return [row[:index] + row[index + 1:] for row in rows]
    return edit_rows(sheet, edit)


def rename_column(sheet: str, old: str, new: str) -> Mutation:
    return edit_rows(sheet, lambda rows: [[new if cell == old else cell for cell in rows[0]], *rows[1:]])


def edit_bytes(path: str, edit: Callable[[bytes], bytes]) -> Mutation:
    def mutate(project: Path) -> None:
        before = (project / path).read_bytes()
        after = edit(before)
        assert after != before, f"the mutation of {path} changed nothing"
        (project / path).write_bytes(after)
    return mutate


def replace_once(path: str, old: bytes, new: bytes) -> Mutation:
    def edit(data: bytes) -> bytes:
        assert data.count(old) == 1, f"{old!r} must occur once in {path}"
        return data.replace(old, new)
    return edit_bytes(path, edit)


def in_legacy_encoding(sheet: str, key: tuple[str, str], column: str, text: str, encoding: str) -> Mutation:
    """Put ``text`` into one cell as ``encoding`` bytes (a cell pasted from a Windows program)."""
    placeholder = "@@LEGACY@@"
    write_placeholder = set_cell(sheet, key, column, placeholder)

    def mutate(project: Path) -> None:
        write_placeholder(project)
        replace_once(sheet, placeholder.encode(), text.encode(encoding))(project)
    return mutate


def every(*mutations: Mutation) -> Mutation:
    def mutate(project: Path) -> None:
        for mutation in mutations:
            mutation(project)
    return mutate


# --- the cases ----------------------------------------------------------------------------------------------

_DBR_EXCLUDED_23 = ("dbr_excluded (24) != dbr_excluded 'not published in English languages' (1) + dbr_excluded "
                    "'review articles' (2) + dbr_excluded 'irrelevant subjects' (17) + dbr_excluded "
                    "'lack details in treatment' (3) = 23")

CASES = (
    # Columns.
    Case("missing_column", drop_column(STUDIES, "country"),
         (Expected(STUDIES, 1, "country", None, "missing column 'country' (required by studies.schema.yaml)"),)),
    Case("extra_column", edit_rows(OUTCOMES, lambda rows: [rows[0] + ["reviewer"], *(r + ["YG"] for r in rows[1:])]),
         (Expected(OUTCOMES, 1, "reviewer", None, "unknown column 'reviewer': not in outcomes.schema.yaml"),)),
    Case("renamed_column", rename_column(DOSE_GROUPS, "patients", "n_patients"),
         (Expected(DOSE_GROUPS, 1, "patients", None, "missing column 'patients'"),
          Expected(DOSE_GROUPS, 1, "n_patients", None, "unknown column 'n_patients'"))),
    Case("column_name_with_trailing_space", rename_column(REGIMENS, "note", "note "),
         (Expected(REGIMENS, 1, "note", "note ", "column name has leading or trailing spaces"),)),
    # Cells.
    Case("wrong_type", set_cell(STUDIES, ("study_id", "5"), "year", "2OO4"),
         (Expected(STUDIES, 6, "year", "2OO4", "must be an integer >= 1950 <= 2030"),)),
    Case("negative_count", set_cell(OUTCOMES, ("study_id", "5"), "recurrences", "-1"),
         (Expected(OUTCOMES, 6, "recurrences", "-1", "must be an integer >= 0 or 'NA'"),)),
    Case("impossible_count", set_cell(STUDIES, ("study_id", "10"), "thrombophilia_positive", "8"),
         (Expected(STUDIES, 11, "thrombophilia_positive", "8", "must not exceed patients (7)"),)),
    Case("responders_above_patients", set_cell(OUTCOMES, ("study_id", "2"), "responders", "3"),
         (Expected(OUTCOMES, 3, "responders", "3",
                   "responders (3) must not exceed patients of study_id 2 (studies.csv) (1)"),
          Expected(DOSE_GROUPS, 18, "responders", "1",
                   "the rows with study_id 2 sum to 1 responders, outcomes.csv says 3"))),
    Case("group_responders_above_group_patients", set_cell(DOSE_GROUPS, ("group_id", "9-high"), "responders", "12"),
         (Expected(DOSE_GROUPS, 3, "responders", "12", "responders (12) must not exceed patients (11)"),
          Expected(DOSE_GROUPS, 3, "responders", "12",
                   "the rows with study_id 9 sum to 12 responders, outcomes.csv says 10"))),
    Case("males_plus_females_above_patients", set_cell(STUDIES, ("study_id", "5"), "males", "3"),
         (Expected(STUDIES, 6, "males", "3", "males + females (3 + 7) must not exceed patients (9)"),)),
    Case("age_mean_outside_range", set_cell(STUDIES, ("study_id", "16"), "age_value", "90"),
         (Expected(STUDIES, 17, "age_value", "90", "age_value must lie inside its range [46, 83]"),)),
    Case("duplicate_study_id", edit_rows(STUDIES, lambda rows: [*rows, rows[-1]]),
         (Expected(STUDIES, 19, "study_id", "17", "duplicate study_id: already used in row 18"),)),
    Case("unknown_dose_group", set_cell(DOSE_GROUPS, ("group_id", "5-low"), "dose_group", "medium"),
         (Expected(DOSE_GROUPS, 16, "dose_group", "medium", "must be one of 'high', 'low', 'not_grouped'"),)),
    Case("unknown_study_id", set_cell(OUTCOMES, ("study_id", "17"), "study_id", "99"),
         (Expected(OUTCOMES, 18, "study_id", "99", "unknown study_id: no such study_id in studies.csv"),)),
    Case("dose_groups_do_not_add_up", set_cell(DOSE_GROUPS, ("group_id", "3-low"), "patients", "2"),
         (Expected(DOSE_GROUPS, 4, "patients", "1+2",
                   "the rows with study_id 3 sum to 3 patients, studies.csv says 2"),)),
    Case("days_range_reversed", set_cell(REGIMENS, ("group_id", "1-high"), "days_min", "6"),
         (Expected(REGIMENS, 2, "days_min", "6", "days_min must not exceed days_max (5)"),)),
    Case("empty_cell_instead_of_na", set_cell(STUDIES, ("study_id", "1"), "males", ""),
         (Expected(STUDIES, 2, "males", "", "must be an integer >= 0 or 'NA'"),)),
    Case("decimal_comma", set_cell(REGIMENS, ("group_id", "1-high"), "dose_g_kg", "0,4"),
         (Expected(REGIMENS, 2, "dose_g_kg", "0,4", "must be a number > 0 <= 5 or 'NA'"),)),
    Case("spreadsheet_date", set_cell(OUTCOMES, ("study_id", "10"), "duration_text", "2-Mar"),
         (Expected(OUTCOMES, 11, "duration_text", "2-Mar", "looks like a date made by a spreadsheet program"),)),
    Case("trailing_spaces", set_cell(STUDIES, ("study_id", "1"), "first_author", "Levy "),
         (Expected(STUDIES, 2, "first_author", "Levy ", "leading or trailing spaces"),)),
    # Files.
    Case("empty_file", edit_bytes(REGIMENS, lambda data: b""),
         (Expected(REGIMENS, None, None, None, "the file is empty"),)),
    Case("header_only", edit_bytes(AGGREGATES, lambda data: data.split(b"\n")[0] + b"\n"),
         (Expected(AGGREGATES, None, None, None, "the file has a header but no records"),)),
    Case("semicolon_delimiter", edit_rows(STUDIES, lambda rows: rows, delimiter=";"),
         (Expected(STUDIES, 1, None, "study_id;ref_key;first_author;year;country;design;patients;a",
                   "expected comma-separated values; this header uses another delimiter"),)),
    Case("utf8_bom", edit_bytes(OUTCOMES, lambda data: b"\xef\xbb\xbf" + data),
         (Expected(OUTCOMES, 1, None, None, "byte-order mark (BOM)"),)),
    Case("latin1_cell", in_legacy_encoding(OUTCOMES, ("study_id", "3"), "note", "Café au lait", "latin-1"),
         (Expected(OUTCOMES, 4, "note", "Caf\ufffd au lait", "bytes that are not UTF-8 (0xE9)"),)),
    Case("windows_turkish_cell", in_legacy_encoding(STUDIES, ("study_id", "13"), "first_author", "Şentürk", "cp1254"),
         (Expected(STUDIES, 14, "first_author", "\ufffdent\ufffdrk", "bytes that are not UTF-8 (0xDE, 0xFC)"),)),
    Case("row_with_too_few_fields", edit_rows(REGIMENS, lambda rows: [*rows[:2], rows[2][:-1], *rows[3:]]),
         (Expected(REGIMENS, 3, None, None, "has 10 fields, the header has 11"),)),
    Case("row_with_too_many_fields", edit_rows(DOSE_GROUPS, lambda rows: [rows[0], rows[1] + ["x"], *rows[2:]]),
         (Expected(DOSE_GROUPS, 2, None, None, "has 12 fields, the header has 11"),)),
    Case("unclosed_quote", replace_once(STUDIES, b",Design from the title of reference 22", b',"Design from the title of reference 22'),
         (Expected(STUDIES, 17, "note", "Design from the title of reference 22 ('retrospective observ",
                   "a quote opens this cell and does not close on its row"),)),
    # Bibliography.
    Case("reference_missing_from_bib",
         edit_bytes(BIB, lambda data: re.sub(rb"@article\{amital2000,.*?\n\}\n", b"", data, count=1, flags=re.S)),
         (Expected(STUDIES, 3, "ref_key", "amital2000", "unknown reference key: not in manuscript/references.bib"),)),
    Case("unknown_reference_key", set_cell(STUDIES, ("study_id", "2"), "ref_key", "nobody2000"),
         (Expected(STUDIES, 3, "ref_key", "nobody2000", "unknown reference key"),)),
    Case("bib_not_utf8", edit_bytes(BIB, lambda data: b"@misc{extra2020, title = {Caf\xe9}}\n" + data),
         (Expected(BIB, 1, None, "@misc{extra2020, title = {Caf\ufffd}}", "bytes that are not UTF-8 (0xE9)"),)),
    # PRISMA.
    Case("prisma_does_not_add_up",
         replace_once(PRISMA, b"dbr_excluded,irrelevant subjects,18,", b"dbr_excluded,irrelevant subjects,17,"),
         (Expected(PRISMA, 17, "n", "24", _DBR_EXCLUDED_23),)),
    Case("prisma_negative_count", replace_once(PRISMA, b"records_screened,,41,", b"records_screened,,-1,"),
         (Expected(PRISMA, 12, "n", None, "n must not be negative, got -1"),)),
    # Characters and spellings that pass a schema but not a reader (issue 16, cases 7 and 8).
    Case("nul_byte_in_a_text_cell", replace_once(STUDIES, b",Amital,", b",Ami\x00tal,"),
         (Expected(STUDIES, 3, "first_author", "Ami\x00tal", "holds a control character (U+0000 NUL) at position 4"),)),
    Case("byte_order_mark_inside_a_cell", set_cell(STUDIES, ("study_id", "1"), "country", "\ufeffIsrael"),
         (Expected(STUDIES, 2, "country", "\ufeffIsrael", "holds an invisible character (a byte-order mark, U+FEFF)"),)),
    Case("integer_written_with_an_exponent", set_cell(STUDIES, ("study_id", "5"), "year", "2.004e3"),
         (Expected(STUDIES, 6, "year", "2.004e3", "must be an integer >= 1950 <= 2030 (Publication year)"
                   ": '2.004e3' is not written as a whole number"),)),
    Case("integer_written_as_a_decimal", set_cell(OUTCOMES, ("study_id", "2"), "responders", "1.0"),
         (Expected(OUTCOMES, 3, "responders", "1.0", "'1.0' is not written as a whole number"),)),
    Case("arabic_indic_digit", set_cell(OUTCOMES, ("study_id", "2"), "responders", "\u0661"),
         (Expected(OUTCOMES, 3, "responders", "\u0661", "digits other than 0-9 (ARABIC-INDIC DIGIT ONE)"),)),
    Case("full_width_digit", set_cell(STUDIES, ("study_id", "2"), "patients", "\uff11"),
         (Expected(STUDIES, 3, "patients", "\uff11", "digits other than 0-9 (FULLWIDTH DIGIT ONE)"),)),
    Case("duplicated_column_name", rename_column(STUDIES, "note", "country"),
         (Expected(STUDIES, 1, "country", None, "duplicate column 'country': columns E (5) and S (19)"),
          Expected(STUDIES, 1, "note", None, "missing column 'note'"))),
    Case("utf16_without_bom", edit_bytes(OUTCOMES, lambda data: data.decode("utf-8").encode("utf-16-le")),
         (Expected(OUTCOMES, None, None, None, "the file is UTF-16 (little-endian), not UTF-8"),)),
    Case("prisma_arabic_indic_digits", replace_once(PRISMA, b"records_screened,,41,", "records_screened,,٤١,".encode()),
         (Expected(PRISMA, 12, "n", None, "n must be an integer or empty, got '٤١'"),)),
    Case("prisma_underscore_in_a_count", replace_once(PRISMA, b"duplicates,,20,", b"duplicates,,2_0,"),
         (Expected(PRISMA, 7, "n", None, "n must be an integer or empty, got '2_0'"),)),
    Case("prisma_spaces_around_a_count", replace_once(PRISMA, b"citations_results,,2,", b"citations_results,, 2 ,"),
         (Expected(PRISMA, 6, "n", None, "n ' 2 ' has leading or trailing spaces"),)),
    Case("prisma_trailing_comma_on_every_row", edit_bytes(PRISMA, lambda data: data.replace(b"\n", b",\n")),
         (Expected(PRISMA, 1, None, None, "unknown or repeated columns ['']"),)),
    Case("prisma_unquoted_comma_in_the_last_column",
         replace_once(PRISMA, b"(no number is printed).", b"(no number is printed), as stated."),
         (Expected(PRISMA, 8, None, None, "has 7 fields, the header has 6"),)),
    Case("bib_brace_left_open",
         replace_once(BIB, b"title   = {Treatment for livedoid vasculopathy: a systematic review},",
                      b"title   = {Treatment for livedoid {vasculopathy: a systematic review},"),
         (Expected(BIB, 18, None, None, "entry micieli2018: field 'title' has a '{' that does not close"),)),
    Case("bib_comma_missing_between_fields",
         replace_once(BIB, b"title   = {Treatment for livedoid vasculopathy: a systematic review},",
                      b"title   = {Treatment for livedoid vasculopathy: a systematic review}"),
         (Expected(BIB, 19, None, None, "entry micieli2018: expected ',' or '}' after field 'title', found 'j'"),)),
    # Formula injection (case 9): a text cell a spreadsheet would run.
    Case("formula_in_a_text_cell", set_cell(STUDIES, ("study_id", "2"), "note", '=HYPERLINK("http://x")'),
         (Expected(STUDIES, 3, "note", '=HYPERLINK("http://x")', "starts with '=', so a spreadsheet"),)),
    Case("formula_in_the_prisma_sheet", replace_once(PRISMA, b",No other filters", b",@SUM(1) No other filters"),
         (Expected(PRISMA, 8, "source_quote", None, "source_quote starts with '@', so a spreadsheet"),)),
    # Several at once: still one summary.
    Case("several_sheets_at_once",
         every(set_cell(STUDIES, ("study_id", "5"), "males", "3"),
               set_cell(AGGREGATES, ("category", "Stroke"), "source_studies", "13;99"),
               replace_once(PRISMA, b"dbr_excluded,irrelevant subjects,18,", b"dbr_excluded,irrelevant subjects,17,")),
         (Expected(STUDIES, 6, "males", "3", "males + females (3 + 7) must not exceed patients (9)"),
          Expected(AGGREGATES, 7, "source_studies", "13;99", "unknown study_id(s) 99: not in studies.csv"),
          Expected(PRISMA, 17, "n", "24", _DBR_EXCLUDED_23))),
)


# --- checks ----------------------------------------------------------------------------------------------

_SUMMARY_HEAD = re.compile(r"^Validation failed: (\d+) problem\(s\) in (.+)$", re.MULTILINE)


def summary_lines(output: str) -> tuple[list[str], list[str]]:
    """The files named by the one summary, and its problem lines; fails unless there is exactly one summary."""
    heads = list(_SUMMARY_HEAD.finditer(output))
    assert len(heads) == 1, f"expected one summary, found {len(heads)}:\n{output[-4000:]}"
    lines = []
    for line in output[heads[0].end() + 1:].splitlines():
        if not line.startswith("  - "):
            break
        lines.append(line)
    assert int(heads[0].group(1)) == len(lines)
    return heads[0].group(2).split(", "), lines


def assert_names_exactly(output: str, expected: tuple[Expected, ...]) -> None:
    """The one summary names every expected problem once, and nothing else."""
    files, lines = summary_lines(output)
    assert files == sorted({e.file for e in expected})
    for problem in expected:
        hits = [line for line in lines if line.startswith(problem.prefix()) and problem.rule in line]
        assert len(hits) == 1, f"{problem} named {len(hits)} times in:\n" + "\n".join(lines)
    assert len(lines) == len(expected), "problems the case did not introduce:\n" + "\n".join(lines)


def input_digests(project: Path) -> dict[str, str]:
    """sha256 of every raw sheet and of the bibliography."""
    files = sorted((project / RAW).iterdir()) + [project / BIB]
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, reference_build: Build) -> dict[str, Path]:
    """A copy never built and the shared complete build; each case copies both (mtimes kept)."""
    assert reference_build.result.returncode == 0, reference_build.log()
    return {"fresh": copy_project(tmp_path_factory.mktemp("template") / "fresh"), "built": reference_build.project}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_stops_the_build(case: Case, templates: dict[str, Path], tmp_path: Path) -> None:
    projects = {kind: shutil.copytree(template, tmp_path / kind, symlinks=True) for kind, template in templates.items()}
    for project in projects.values():
        case.mutate(project)
    digests = {kind: input_digests(project) for kind, project in projects.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(projects, pool.map(build, projects.values())))

    fresh, built = projects["fresh"], projects["built"]
    for kind, result in results.items():
        assert result.returncode != 0, f"{kind}: the build succeeded"
        assert_names_exactly(result.stdout + result.stderr, case.expected)
        assert input_digests(projects[kind]) == digests[kind], f"{kind}: the build changed its inputs"

    made = [path for path in DOWNSTREAM if (fresh / path).exists()]
    assert made == [], f"made from bad input: {made}"

    output = results["built"].stdout + results["built"].stderr
    for name in PAPER:
        current, withdrawn = built / "_manuscript" / name, built / "_manuscript" / name.replace(".", ".STALE.")
        assert not current.exists(), f"{current.name} is left looking current"
        assert withdrawn.read_bytes() == (templates["built"] / "_manuscript" / name).read_bytes()
        assert f"Withdrew _manuscript/{name}" in output


@pytest.mark.slow
def test_no_csv_the_build_writes_holds_a_spreadsheet_formula(reference_build: Build) -> None:
    """The convention of engine/cells.py: text cells starting with = + - @ are refused in the sheets, and
    nothing the pipeline derives starts with one, so no CSV it writes (the validated sheets the report
    offers for download, prisma_counts.csv) needs escaping for a spreadsheet to open it safely."""
    assert reference_build.result.returncode == 0, reference_build.log()
    written = sorted((reference_build.project / "results").rglob("*.csv"))
    assert {path.name for path in written} >= {"studies.csv", "prisma_counts.csv"}
    number = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
    formulas = [(path.name, cell) for path in written for row in _read_rows(path) for cell in row
                if cell[:1] in ("=", "+", "-", "@") and not number.match(cell)]
    assert formulas == []


# --- the same rules without a build (fast) -----------------------------------------------------------------


def test_the_cases_break_only_what_they_say(tmp_path: Path) -> None:
    """Every case, applied to the real sheets, gives exactly its expected problems (seconds, no Snakemake)."""
    for case in CASES:
        project = tmp_path / case.name
        shutil.copytree(REPO_RAW, project / RAW)
        (project / BIB).parent.mkdir(parents=True)
        shutil.copy2(REPO_BIB, project / BIB)
        case.mutate(project)
        summary = format_problems(validate_all(REVIEW.with_raw_dir(project / RAW, project / BIB)))
        assert_names_exactly(summary.replace(f"{project}/", ""), case.expected)


def test_the_real_inputs_have_no_problems() -> None:
    assert validate_all(REVIEW) == []


def test_an_unclosed_quote_does_not_swallow_the_rows_below(tmp_path: Path) -> None:
    # Read leniently, study 17 would vanish into study 16's note, and only other sheets would complain.
    raw = shutil.copytree(REPO_RAW, tmp_path / "raw")
    sheet = raw / "studies.csv"
    sheet.write_bytes(sheet.read_bytes().replace(b",Design from", b',"Design from'))
    problems = validate_all(REVIEW.with_raw_dir(raw))
    assert {Path(p.file).name for p in problems} == {"studies.csv"}


def test_text_after_a_closing_quote_names_its_cell(tmp_path: Path) -> None:
    raw = shutil.copytree(REPO_RAW, tmp_path / "raw")
    sheet = raw / "studies.csv"
    sheet.write_bytes(sheet.read_bytes().replace(b",Israel,case_series", b',"Isr"ael,case_series', 1))
    problems = validate_all(REVIEW.with_raw_dir(raw))
    assert [(p.row, p.column) for p in problems] == [(2, "country")]
    assert "text follows the closing quote" in problems[0].rule


def test_a_quote_inside_an_unquoted_cell_is_text(tmp_path: Path) -> None:
    raw = shutil.copytree(REPO_RAW, tmp_path / "raw")
    sheet = raw / "studies.csv"
    sheet.write_bytes(sheet.read_bytes().replace(b",Israel,case_series", b',Isr"ael,case_series', 1))
    assert validate_all(REVIEW.with_raw_dir(raw)) == []


def test_every_cell_in_a_legacy_encoding_is_named(tmp_path: Path) -> None:
    """A sheet saved as Windows-1252 has a bad byte in every cell with an en dash; each cell is listed."""
    raw = shutil.copytree(REPO_RAW, tmp_path / "raw")
    sheet = raw / "regimens.csv"
    text = sheet.read_text(encoding="utf-8")
    sheet.write_bytes(text.encode("cp1252"))
    cells_with_dash = {(number, column)
                       for number, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2)
                       for column, cell in row.items() if "–" in cell}
    problems = validate_all(REVIEW.with_raw_dir(raw))
    assert {(p.row, p.column) for p in problems} == cells_with_dash
    assert all("0x96" in p.rule for p in problems)
