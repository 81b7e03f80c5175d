"""Loading and validation of the raw extraction sheets.

Each sheet in ``data/raw/`` has a JSON Schema in ``config/schemas/<sheet>.schema.yaml`` (the Snakemake
convention). JSON Schema was chosen over pandera or frictionless because it is the format Snakemake itself
validates configs with, it is language neutral (a co-author can check a sheet from R), the ``jsonschema``
package already comes with Snakemake, and the schema files double as the codebook (every column carries
a description and, where it has one, a unit).

Validation never stops at the first error: every problem in a sheet is collected as a :class:`Problem`
(file, row, column, value, rule) so that one message lists them all. Rows are numbered as a spreadsheet
shows them: the header is row 1, the first record row 2.

This module deliberately avoids pandas: validation runs first in every build and should start fast.
"""

from __future__ import annotations

import argparse
import csv
import functools
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.atomic import atomic_path
from engine.bibtex import syntax_problems
from engine.cells import (
    ASCII_INTEGER,
    ASCII_NUMBER,
    character_problem,
    formula_problem,
    non_ascii_digits,
    read_records,
)

if TYPE_CHECKING:
    import pandas

# jsonschema imports rfc3987_syntax, when installed (Jupyter pulls it in), only to check the "iri" string
# format, which no schema of this project (nor Snakemake's config schema) uses. Building its grammar takes
# 2-3 s, longer than all the validation of a build, in every process that validates: each validation job
# and Snakemake itself, which imports this module before it validates the config. Marking the module absent
# before jsonschema is first imported makes jsonschema skip that one format; nothing else changes.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

NOT_AVAILABLE = "NA"
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "config" / "schemas"
SHEETS: tuple[str, ...] = ("studies", "outcomes", "dose_groups", "regimens", "aggregates", "primary_scarpone2020")
PRISMA_SHEET = "prisma.csv"  # checked by engine/prisma.py; its problems join the summary of `check`

# Which raw sheets a sheet's cross-sheet rules read (besides itself); the Snakefile declares the same inputs.
SHEET_DEPENDENCIES: Mapping[str, tuple[str, ...]] = {
    "studies": (),
    "outcomes": ("studies",),
    "dose_groups": ("studies", "outcomes"),
    "regimens": ("dose_groups",),
    "aggregates": ("studies",),
    "primary_scarpone2020": (),
}

Row = dict[str, Any]

# Spreadsheet programs silently turn "2-3" into "02-Mar" or "3/2/2021"; such a cell is never intended data.
_SPREADSHEET_DATE = re.compile(
    r"^(\d{1,2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(-\d{2,4})?"
    r"|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2,4}"
    r"|\d{1,2}/\d{1,2}/\d{2,4}"
    r"|\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?)$"
)
_BIB_KEY = re.compile(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)


@dataclass(frozen=True, order=True)
class Problem:
    """One reason a sheet cannot be used."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        value = "" if self.value is None else f" value {self.value!r}:"
        return f"{', '.join(where)}:{value} {self.rule}"


@dataclass(frozen=True)
class Sheet:
    """A parsed sheet: typed rows (``"NA"`` kept as the string ``NA``) and the spreadsheet row of each.

    ``complete`` is False when a row could not be read (wrong number of fields): rules that need every
    row, such as sums over a study's groups or links from other sheets, then stay silent rather than
    report the unread row as missing.
    """

    name: str
    path: Path
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    row_numbers: tuple[int, ...]
    complete: bool = True


class ValidationError(Exception):
    """Raised when sheets break their schema or the cross-field rules; carries every problem."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(sorted(problems, key=_problem_sort_key))
        super().__init__(format_problems(self.problems))


def _problem_sort_key(problem: Problem) -> tuple[str, int, str, str, str]:
    # Total, so that the message lists problems in the same order in every run (they pass through sets).
    return (problem.file, problem.row or 0, problem.column or "", problem.rule, problem.value or "")


def format_problems(problems: Sequence[Problem]) -> str:
    """The one message a user sees: a count, then every problem on its own line."""
    files = sorted({p.file for p in problems})
    head = f"Validation failed: {len(problems)} problem(s) in {', '.join(files)}"
    return "\n".join([head, *(f"  - {p}" for p in problems)])


# libyaml's loader when PyYAML was built with it (the wheels are): the gate reads every schema before each
# build, and the pure-Python loader took most of its time.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_schema(sheet: str, schema_dir: Path = SCHEMA_DIR) -> dict[str, Any]:
    """The JSON Schema of ``sheet``."""
    with open(schema_dir / f"{sheet}.schema.yaml", encoding="utf-8") as handle:
        return yaml.load(handle, Loader=YAML_LOADER)


def read_bib_keys(bib_path: Path) -> frozenset[str]:
    """Citation keys defined in a BibTeX file."""
    return frozenset(_BIB_KEY.findall(bib_path.read_text(encoding="utf-8")))


def _bib_keys(bib_path: Path) -> tuple[frozenset[str] | None, list[Problem]]:
    """The bibliography's keys, or the problem that keeps them from being read (reported, not raised)."""
    if not bib_path.is_file():
        return None, [Problem(str(bib_path), None, None, None, "the bibliography does not exist")]
    try:
        text = bib_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        data = bib_path.read_bytes()
        line = data[: error.start].count(b"\n") + 1
        shown = data.splitlines()[line - 1].decode("utf-8", errors="replace").strip()
        return None, [Problem(str(bib_path), line, None, shown,
                              f"bytes that are not UTF-8 (0x{data[error.start]:02X}): save the file as UTF-8")]
    # Pandoc reads the file only in the render, the build's last job, and reports a brace left open at the
    # entry after it: the syntax is checked here, before any job, at the entry that breaks it.
    broken = [Problem(str(bib_path), problem.line, None, None,
                      f"{problem.what}: fix the entry (@type{{key, field = {{value}}, ...}})")
              for problem in syntax_problems(text)]
    return frozenset(_BIB_KEY.findall(text)), broken


# --- reading -------------------------------------------------------------------------------------------


def decode_sheet(path: Path, data: bytes) -> tuple[str | None, list[Problem]]:
    """The text of a sheet's bytes (None if unusable) and the problems of its encoding: empty, BOM, UTF-16, not UTF-8."""
    name = str(path)
    if not data.strip():
        return None, [Problem(name, None, None, None, "the file is empty: expected a header row and records")]
    wide = _utf16_byte_order(data)
    if wide:
        return None, [Problem(name, None, None, None,
                              f"the file is UTF-16 ({wide}), not UTF-8: save it as \"CSV UTF-8\" (in Excel: Save As, "
                              "CSV UTF-8; in LibreOffice: character set Unicode (UTF-8))")]
    problems: list[Problem] = []
    if data.startswith(b"\xef\xbb\xbf"):
        problems.append(Problem(name, 1, None, None, "the file starts with a byte-order mark (BOM): save as UTF-8 without BOM"))
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, problems + _undecodable_cells(name, data)
    return text, problems


def _utf16_byte_order(data: bytes) -> str | None:
    """``little-endian`` or ``big-endian`` when ``data`` is UTF-16 text, else None.

    Saved as "Unicode text", a sheet is UTF-16, with or without a byte-order mark. It decodes as UTF-8
    all the same (every ASCII character becomes itself and a NUL), so it has to be recognised before:
    by its BOM, or by the NUL bytes that the ASCII of a CSV leaves in every other byte (a NUL typed into
    one cell of a UTF-8 sheet is one byte, not half of them).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "little-endian" if data.startswith(b"\xff\xfe") else "big-endian"
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_nul, odd_nul = sample[0::2].count(0), sample[1::2].count(0)
    if odd_nul > 0.4 * pairs and even_nul < 0.1 * pairs:
        return "little-endian"
    if even_nul > 0.4 * pairs and odd_nul < 0.1 * pairs:
        return "big-endian"
    return None


def _undecodable_cells(name: str, data: bytes) -> list[Problem]:
    """One problem per cell holding bytes that are not UTF-8 (a cell pasted from, or a file saved in, a legacy encoding).

    Latin-1 maps every byte to one character, so the file parses as CSV whatever its encoding and each bad
    cell can be named; the value is shown as a UTF-8 editor shows it, with U+FFFD for the bad bytes.
    """
    records = list(read_records(data.decode("latin-1")))
    header = [cell.encode("latin-1").decode("utf-8", errors="replace").strip() for cell in records[0]] if records else []
    problems = []
    for row_number, record in enumerate(records, start=1):
        for index, cell in enumerate(record):
            raw = cell.encode("latin-1")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad = sorted({f"0x{byte:02X}" for byte in raw if byte >= 0x80})
                column = header[index] if row_number > 1 and index < len(header) else None
                problems.append(Problem(name, row_number, column, raw.decode("utf-8", errors="replace"),
                                        f"bytes that are not UTF-8 ({', '.join(bad)}): save the file as UTF-8"))
    return problems


def _coerce(cell: str, column_schema: Mapping[str, Any]) -> Any:
    """Turn a cell into the JSON type its schema expects, so that the schema judges the value, not its text.

    Only what a spreadsheet shows as a number becomes one (engine/cells.py): digits 0-9, and in an
    integer column digits only, so that ``5.0`` or ``2.004e3`` is refused there rather than read as 5
    and 2004 (JSON Schema counts 5.0 as an integer).
    """
    if cell == NOT_AVAILABLE:
        return cell
    types = _allowed_types(column_schema)
    if types & {"integer", "number"} and ASCII_INTEGER.match(cell):
        return int(cell)
    if "number" in types and ASCII_NUMBER.match(cell):
        number = float(cell)
        return int(number) if number.is_integer() and "integer" in types else number
    return cell


def _number_hint(cell: str, column_schema: Mapping[str, Any]) -> str:
    """Why a numeric cell that looks like a number is not one here: its digits, or a decimal in an integer column."""
    types = _allowed_types(column_schema)
    if not types & {"integer", "number"}:
        return ""
    digit = non_ascii_digits(cell)
    if digit:
        return f": {cell!r} is written with digits other than 0-9 ({digit}); type the number with the digits 0-9"
    if "number" not in types and ASCII_NUMBER.match(cell):
        return f": {cell!r} is not written as a whole number; type the integer with the digits 0-9 only"
    return ""


def _allowed_types(column_schema: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    declared = column_schema.get("type")
    if isinstance(declared, str):
        found.add(declared)
    elif isinstance(declared, list):
        found.update(declared)
    for branch in column_schema.get("anyOf", []):
        found |= _allowed_types(branch)
    return found


def describe(column_schema: Mapping[str, Any]) -> str:
    """A short human rule for a column schema, used in error messages and the codebook."""
    if "anyOf" in column_schema:
        return " or ".join(describe(branch) for branch in column_schema["anyOf"])
    if "const" in column_schema:
        return repr(column_schema["const"])
    if "enum" in column_schema:
        return "one of " + ", ".join(repr(v) for v in column_schema["enum"])
    kind = column_schema.get("type", "value")
    parts = [{"integer": "an integer", "number": "a number", "string": "text"}.get(kind, str(kind))]
    if "minimum" in column_schema:
        parts.append(f">= {column_schema['minimum']}")
    if "exclusiveMinimum" in column_schema:
        parts.append(f"> {column_schema['exclusiveMinimum']}")
    if "maximum" in column_schema:
        parts.append(f"<= {column_schema['maximum']}")
    if column_schema.get("minLength"):
        parts = ["non-empty text"]
    if "pattern" in column_schema:
        parts.append(f"matching {column_schema['pattern']}")
    return " ".join(parts)


def _records(name: str, text: str) -> tuple[list[list[str]], Problem | None]:
    """The CSV records, read strictly, and the problem where a quote breaks the CSV structure.

    A lenient reader lets an unclosed quote swallow every later row into one cell, so the rows it ate would be
    reported missing in other sheets instead; the strict reader stops there, and the problem names the row
    and column where the badly quoted cell starts.
    """
    records: list[list[str]] = []
    reader = read_records(text, strict=True)
    last_line = 0
    try:
        for record in reader:
            records.append(record)
            last_line = reader.line_num
    except csv.Error as error:
        lines = text.splitlines()
        start = lines[last_line] if last_line < len(lines) else ""
        found = _badly_quoted_cell(start)
        if found is None:
            return records, Problem(name, len(records) + 1, None, start[:60],
                                    f"malformed quoting ({error}): quote the whole cell and double the quotes inside")
        index, cell, unclosed = found
        column = records[0][index].strip() if records and index < len(records[0]) else None
        rule = ("a quote opens this cell and does not close on its row, so the rows below would be read into it: "
                "close the quote, or double a quote meant as text") if unclosed else (
                "text follows the closing quote of this cell: quote the whole cell and double the quotes inside")
        return records, Problem(name, len(records) + 1, column, cell[:60], rule)
    return records, None


def _badly_quoted_cell(line: str) -> tuple[int, str, bool] | None:
    """The first cell of ``line`` whose quoting breaks CSV: (index, text from its opening quote on, unclosed?)."""
    index, position = 0, 0
    while position <= len(line):
        if line.startswith('"', position):
            end = position + 1
            while (end := line.find('"', end)) != -1 and line.startswith('"', end + 1):
                end += 2  # a doubled quote is a quote character inside the cell
            if end == -1:
                return index, line[position + 1 :], True
            if end + 1 < len(line) and line[end + 1] != ",":
                return index, line[position + 1 :], False
            position = end + 2
        else:
            comma = line.find(",", position)
            if comma == -1:
                return None
            position = comma + 1
        index += 1
    return None


def read_sheet(sheet: str, path: Path, schema: Mapping[str, Any] | None = None) -> tuple[Sheet | None, list[Problem]]:
    """Parse and check one sheet against its schema; returns the typed sheet (None if unreadable) and problems."""
    schema = schema or load_schema(sheet)
    name = str(path)
    if not path.exists():
        return None, [Problem(name, None, None, None, "the file does not exist")]
    text, problems = decode_sheet(path, path.read_bytes())
    if text is None:
        return None, problems
    records, broken = _records(name, text)
    header = records[0] if records else []
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        problems.append(Problem(name, 1, None, header[0][:60], "expected comma-separated values; this header uses another delimiter"))
        return None, problems
    if broken:
        return None, problems + [broken]
    stripped = [column.strip() for column in header]
    problems += _header_problems(name, sheet, header, list(schema["properties"]))
    if len(records) < 2:
        problems.append(Problem(name, None, None, None, "the file has a header but no records"))
    judge = _CellJudge(schema, present=stripped)
    # A repeated column name is a problem of the header; the rows are read with its first column only.
    columns: dict[str, int] = {}
    for position, column in enumerate(stripped):
        if column in judge.properties:
            columns.setdefault(column, position)
    rows: list[Row] = []
    numbers: list[int] = []
    for index, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(Problem(name, index, None, None, f"has {len(record)} fields, the header has {len(header)}"))
            continue
        row: Row = {}
        cells = {column: record[position] for column, position in columns.items()}
        for column, cell in cells.items():
            row[column], rules = judge.read(column, cell)
            if rules:
                problems.extend(Problem(name, index, column, cell, rule) for rule in rules)
        for column, cell, rule in judge.row_rules(row, cells):
            problems.append(Problem(name, index, column, cell, rule))
        rows.append(row)
        numbers.append(index)
    complete = len(rows) == sum(1 for record in records[1:] if any(cell.strip() for cell in record))
    return Sheet(sheet, path, tuple(stripped), tuple(rows), tuple(numbers), complete), problems


def _header_problems(name: str, sheet: str, header: Sequence[str], expected: Sequence[str]) -> list[Problem]:
    """Spaces around, missing, unknown and duplicated column names."""
    problems = []
    stripped = [column.strip() for column in header]
    for column in header:
        if column != column.strip():
            problems.append(Problem(name, 1, column.strip(), column, "column name has leading or trailing spaces"))
    for column in expected:
        if column not in stripped:
            problems.append(Problem(name, 1, column, None, f"missing column {column!r} (required by {sheet}.schema.yaml)"))
    positions: dict[str, list[int]] = {}
    for position, column in enumerate(stripped, start=1):
        positions.setdefault(column, []).append(position)
    for column, where in positions.items():
        if column not in expected:
            problems.append(Problem(name, 1, column, None, f"unknown column {column!r}: not in {sheet}.schema.yaml"))
        if len(where) > 1:
            letters = " and ".join(f"{_column_letter(p)} ({p})" for p in where)
            problems.append(Problem(name, 1, column, None,
                                    f"duplicate column {column!r}: columns {letters} have this name; delete or rename one"))
    return problems


def _column_letter(position: int) -> str:
    """The spreadsheet's name of a column: 1 -> A, 27 -> AA."""
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _cell_rules(cell: str, column_schema: Mapping[str, Any]) -> list[str]:
    """What is wrong with a cell's text whatever its schema: spaces, a spreadsheet's date, characters, a formula."""
    rules = []
    if cell != cell.strip():
        rules.append("leading or trailing spaces")
    if _SPREADSHEET_DATE.match(cell.strip()):
        rules.append("looks like a date made by a spreadsheet program; no column holds dates")
    character = character_problem(cell)
    if character:
        rules.append(character)
    if not _allowed_types(column_schema) & {"integer", "number"}:
        formula = formula_problem(cell.strip())
        if formula:
            rules.append(formula)
    return rules


# Top-level keywords of a sheet's schema that checking each cell against its column's schema covers: the
# row is built from the header's columns that the schema has, with every required one present. Any other
# keyword (a rule across columns, such as dependentRequired) is checked on the whole row.
_COLUMN_WISE = frozenset({"$schema", "$id", "title", "description", "type", "properties", "required",
                          "additionalProperties"})


class _CellJudge:
    """Reads cells into their column's type and judges them against the column's schema, each distinct
    cell of a column once.

    A sheet repeats its cells (codes, "NA", small counts), and a JSON Schema validation costs far more
    than a dictionary look-up: a review of 100,000 studies has millions of cells but far fewer distinct
    ones per column.
    """

    def __init__(self, schema: Mapping[str, Any], present: Sequence[str]):
        from jsonschema import Draft202012Validator

        self.properties: Mapping[str, Any] = schema["properties"]
        self._validators = {column: Draft202012Validator(spec) for column, spec in self.properties.items()}
        self._read: dict[tuple[str, str], tuple[Any, tuple[str, ...]]] = {}
        across = {key: value for key, value in schema.items() if key not in _COLUMN_WISE and not key.startswith("x-")}
        required = [column for column in schema.get("required", []) if column in present]
        self._row = Draft202012Validator({**across, "required": required}) if across else None

    def read(self, column: str, cell: str) -> tuple[Any, tuple[str, ...]]:
        """The cell's typed value and the rules it breaks (none when it is valid)."""
        key = (column, cell)
        known = self._read.get(key)
        if known is None:
            column_schema = self.properties[column]
            value = _coerce(cell.strip(), column_schema)
            rules = _cell_rules(cell, column_schema)
            if not self._validators[column].is_valid(value):
                rules.append(self._rule(column_schema, cell.strip()))
            known = self._read[key] = value, tuple(rules)
        return known

    @staticmethod
    def _rule(column_schema: Mapping[str, Any], cell: str) -> str:
        rule = f"must be {describe(column_schema)}"
        if column_schema.get("description"):
            rule += f" ({column_schema['description'].split('.')[0].strip()})"
        return rule + _number_hint(cell, column_schema)

    def row_rules(self, row: Row, cells: Mapping[str, str]) -> list[tuple[str | None, str | None, str]]:
        """(column, cell, rule) for each rule across columns that ``row`` breaks (none unless the schema has any)."""
        if self._row is None:
            return []
        found = []
        for error in self._row.iter_errors(row):
            column = str(error.path[0]) if error.path else None
            found.append((column, cells.get(column) if column else None, error.message))
        return found


# --- cross-field and cross-sheet rules ------------------------------------------------------------------


def _known(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _primary_key_problems(sheet: Sheet, schema: Mapping[str, Any]) -> list[Problem]:
    key_columns = schema.get("x-primary-key", [])
    seen: dict[tuple[Any, ...], int] = {}
    problems = []
    for row, number in zip(sheet.rows, sheet.row_numbers):
        key = tuple(row.get(column) for column in key_columns)
        if key in seen:
            problems.append(Problem(str(sheet.path), number, key_columns[0], "/".join(map(str, key)),
                                    f"duplicate {'+'.join(key_columns)}: already used in row {seen[key]}"))
        else:
            seen[key] = number
    return problems


def _study_rules(sheet: Sheet, bib_keys: frozenset[str] | None) -> Iterable[Problem]:
    for row, number in zip(sheet.rows, sheet.row_numbers):
        where = (str(sheet.path), number)
        patients = row.get("patients")
        if _known(patients) and _known(row.get("males")) and _known(row.get("females")):
            if row["males"] + row["females"] > patients:
                yield Problem(*where, "males", str(row["males"]),
                              f"males + females ({row['males']} + {row['females']}) must not exceed patients ({patients})")
        low, central, high = row.get("age_min"), row.get("age_value"), row.get("age_max")
        if _known(low) and _known(high) and low > high:
            yield Problem(*where, "age_min", str(low), f"age_min must not exceed age_max ({high})")
        if _known(central) and _known(low) and _known(high) and not low <= central <= high:
            yield Problem(*where, "age_value", str(central), f"age_value must lie inside its range [{low}, {high}]")
        if row.get("age_statistic") == "value" and _known(patients) and patients != 1:
            yield Problem(*where, "age_statistic", "value", "a single age ('value') needs patients = 1; use 'mean'")
        if _known(row.get("thrombophilia_positive")) and _known(patients) and row["thrombophilia_positive"] > patients:
            yield Problem(*where, "thrombophilia_positive", str(row["thrombophilia_positive"]),
                          f"thrombophilia_positive must not exceed patients ({patients})")
        if bib_keys is not None and isinstance(row.get("ref_key"), str) and row["ref_key"] not in bib_keys:
            yield Problem(*where, "ref_key", row["ref_key"], "unknown reference key: not in manuscript/references.bib")


def _index(sheet: Sheet | None, column: str) -> dict[Any, Row]:
    return {} if sheet is None else {row.get(column): row for row in sheet.rows}


def _foreign_key_problems(sheet: Sheet, column: str, target: Sheet | None, target_column: str) -> Iterable[Problem]:
    if target is None:
        return
    known = {row.get(target_column) for row in target.rows}
    for row, number in zip(sheet.rows, sheet.row_numbers):
        if row.get(column) not in known:
            yield Problem(str(sheet.path), number, column, str(row.get(column)),
                          f"unknown {column}: no such {target_column} in {target.path.name}")


def _count_rules(sheet: Sheet, capped: Sequence[str]) -> Iterable[Problem]:
    for row, number in zip(sheet.rows, sheet.row_numbers):
        for column in capped:
            if _known(row.get(column)) and _known(row.get("patients")) and row[column] > row["patients"]:
                yield Problem(str(sheet.path), number, column, str(row[column]),
                              f"{column} ({row[column]}) must not exceed patients ({row['patients']})")


def _outcome_rules(sheet: Sheet, studies: Sheet | None) -> Iterable[Problem]:
    yield from _foreign_key_problems(sheet, "study_id", studies, "study_id")
    by_id = _index(studies, "study_id")
    for row, number in zip(sheet.rows, sheet.row_numbers):
        patients = by_id.get(row.get("study_id"), {}).get("patients")
        for column in ("responders", "recurrences"):
            if _known(row.get(column)) and _known(patients) and row[column] > patients:
                yield Problem(str(sheet.path), number, column, str(row[column]),
                              f"{column} ({row[column]}) must not exceed the study's patients ({patients}, studies.csv)")


def _dose_group_rules(sheet: Sheet, studies: Sheet | None, outcomes: Sheet | None) -> Iterable[Problem]:
    yield from _foreign_key_problems(sheet, "study_id", studies, "study_id")
    yield from _count_rules(sheet, ("responders", "recurrences"))
    for row, number in zip(sheet.rows, sheet.row_numbers):
        group_id, study_id, group = row.get("group_id"), row.get("study_id"), row.get("dose_group")
        suffix = {"high": "high", "low": "low", "not_grouped": "none"}.get(group)
        if isinstance(group_id, str) and suffix and group_id != f"{study_id}-{suffix}":
            yield Problem(str(sheet.path), number, "group_id", group_id,
                          f"group_id must be '<study_id>-<high|low|none>' matching study_id and dose_group ({study_id}-{suffix})")
    if not sheet.complete:
        return  # an unread row would look like a missing group (see Sheet)
    members_of: dict[object, list[tuple[Row, int]]] = {}
    for row, number in zip(sheet.rows, sheet.row_numbers):
        members_of.setdefault(row.get("study_id"), []).append((row, number))
    outcome_of = _index(outcomes, "study_id")
    for study_id, study in _index(studies, "study_id").items():
        members = members_of.get(study_id, [])
        if not members:
            yield Problem(str(sheet.path), None, "study_id", str(study_id), "every study needs at least one dose-group row")
            continue
        first_row = members[0][1]
        totals = {"patients": study.get("patients"), "responders": outcome_of.get(study_id, {}).get("responders")}
        for column, expected in totals.items():
            values = [r.get(column) for r, _ in members]
            if _known(expected) and all(_known(v) for v in values) and sum(values) != expected:
                source = "studies.csv" if column == "patients" else "outcomes.csv"
                yield Problem(str(sheet.path), first_row, column, "+".join(map(str, values)),
                              f"the groups of study {study_id} sum to {sum(values)} {column}, {source} says {expected}")


def _regimen_rules(sheet: Sheet, dose_groups: Sheet | None) -> Iterable[Problem]:
    yield from _foreign_key_problems(sheet, "group_id", dose_groups, "group_id")
    for row, number in zip(sheet.rows, sheet.row_numbers):
        for low, high in (("days_min", "days_max"), ("interval_days_min", "interval_days_max")):
            if _known(row.get(low)) and _known(row.get(high)) and row[low] > row[high]:
                yield Problem(str(sheet.path), number, low, str(row[low]), f"{low} must not exceed {high} ({row[high]})")
        if _known(row.get("dose_g_kg")) and row.get("dose_basis") == NOT_AVAILABLE:
            yield Problem(str(sheet.path), number, "dose_basis", NOT_AVAILABLE, "a dose needs its basis (per_day or per_cycle)")
        if row.get("dose_basis") == "per_day" and not _known(row.get("days_min")):
            yield Problem(str(sheet.path), number, "days_min", str(row.get("days_min")), "a per-day dose needs its number of days")


def _aggregate_rules(sheet: Sheet, studies: Sheet | None) -> Iterable[Problem]:
    by_id = _index(studies, "study_id")
    for row, number in zip(sheet.rows, sheet.row_numbers):
        ids = [int(part) for part in str(row.get("source_studies", "")).split(";") if part.isdigit()]
        unknown = [i for i in ids if studies is not None and i not in by_id]
        if unknown:
            yield Problem(str(sheet.path), number, "source_studies", row.get("source_studies"),
                          f"unknown study id(s) {unknown}: not in studies.csv")
        pool = sum(by_id[i]["patients"] for i in ids if i in by_id and _known(by_id[i].get("patients")))
        # Without a readable studies sheet there is no pool to compare with (its own problems say why).
        if studies is not None and _known(row.get("patients")) and ids and not unknown and row["patients"] > pool:
            yield Problem(str(sheet.path), number, "patients", str(row["patients"]),
                          f"patients ({row['patients']}) must not exceed the source studies' patients ({pool})")
        if _known(row.get("patients")) and _known(row.get("denominator")) and row["patients"] > row["denominator"]:
            yield Problem(str(sheet.path), number, "patients", str(row["patients"]),
                          f"patients must not exceed denominator ({row['denominator']})")


# --- entry points ---------------------------------------------------------------------------------------


def _usable(other: Sheet | None) -> Sheet | None:
    """A sheet that cross-sheet rules may rely on: readable, every row read (its own problems say why not)."""
    return other if other is not None and other.complete else None


SheetReader = Callable[[str], tuple[Sheet | None, list[Problem]]]


def sheet_reader(raw_dir: Path, schema_dir: Path = SCHEMA_DIR) -> SheetReader:
    """Reads a named sheet of ``raw_dir`` with its schema."""
    def read(name: str) -> tuple[Sheet | None, list[Problem]]:
        return read_sheet(name, raw_dir / f"{name}.csv", load_schema(name, schema_dir))
    return read


def validate_sheet(sheet: str, raw_dir: Path, bib_path: Path | None = None, schema_dir: Path = SCHEMA_DIR,
                   read: SheetReader | None = None) -> tuple[Sheet | None, list[Problem]]:
    """Every problem of one sheet: schema, keys, and the cross-field rules that read the sheets it depends on.

    ``read`` reads this sheet and those it depends on (default: :func:`sheet_reader`); validate_all passes
    one that reads each sheet once.
    """
    read = read or sheet_reader(raw_dir, schema_dir)
    parsed, read_problems = read(sheet)
    if parsed is None:
        return None, read_problems
    problems = [*read_problems, *_primary_key_problems(parsed, load_schema(sheet, schema_dir))]
    others = {name: _usable(read(name)[0]) for name in SHEET_DEPENDENCIES[sheet]}
    if sheet == "studies":
        bib_keys, bib_problems = _bib_keys(bib_path) if bib_path else (None, [])
        problems += bib_problems
        problems += _study_rules(parsed, bib_keys)
    elif sheet == "outcomes":
        problems += _outcome_rules(parsed, others["studies"])
    elif sheet == "dose_groups":
        problems += _dose_group_rules(parsed, others["studies"], others["outcomes"])
    elif sheet == "regimens":
        problems += _regimen_rules(parsed, others["dose_groups"])
    elif sheet == "aggregates":
        problems += _aggregate_rules(parsed, others["studies"])
    return parsed, sorted(set(problems), key=_problem_sort_key)


def validate_all(raw_dir: Path, bib_path: Path | None = None, schema_dir: Path = SCHEMA_DIR) -> list[Problem]:
    """Every problem in every sheet, the PRISMA sheet included, for the single summary message."""
    from engine.prisma import find_problems

    # Each sheet is read once, though the cross-sheet rules of several others read it too.
    read = functools.cache(sheet_reader(raw_dir, schema_dir))
    problems: list[Problem] = []
    for sheet in SHEETS:
        problems += validate_sheet(sheet, raw_dir, bib_path, schema_dir, read)[1]
    return problems + find_problems(raw_dir / PRISMA_SHEET)


def write_validated(sheet: Sheet, out_path: Path, schema_dir: Path = SCHEMA_DIR) -> None:
    """Write the typed sheet as CSV: a numeric column's "NA" becomes an empty cell; text keeps "NA" as printed."""
    properties = load_schema(sheet.name, schema_dir)["properties"]
    numeric = {c for c in sheet.columns if _allowed_types(properties[c]) & {"integer", "number"}}
    with atomic_path(out_path) as partial, open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(sheet.columns)
        for row in sheet.rows:
            writer.writerow(["" if c in numeric and row[c] == NOT_AVAILABLE else row[c] for c in sheet.columns])


def _table_cell(text: str) -> str:
    return text.replace("|", "\\|")


def codebook_markdown(schema_dir: Path = SCHEMA_DIR) -> str:
    """The codebook: every sheet and column with its meaning, unit and allowed values, from the schemas."""
    lines = ["# Codebook", "",
             "Generated from `config/schemas/*.schema.yaml` by `python -m engine.sheets codebook`;"
             " do not edit by hand (a test checks it is current).", "",
             f"Missing values: `{NOT_AVAILABLE}` means the review gives no value (its own abbreviation,"
             " 'not available'). Text columns (`*_text`) keep the printed wording, abbreviations included.", ""]
    for sheet in SHEETS:
        schema = load_schema(sheet, schema_dir)
        lines += [f"## `data/raw/{sheet}.csv`", "", " ".join(schema["description"].split()), "",
                  f"Key: {', '.join(schema.get('x-primary-key', []))}.", "",
                  "| column | meaning | unit | allowed values |", "|---|---|---|---|"]
        for column, spec in schema["properties"].items():
            meaning = _table_cell(" ".join(spec.get("description", "").split()))
            lines.append(f"| `{column}` | {meaning} | {spec.get('unit', '')} | {_table_cell(describe(spec))} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("validate", help="validate one sheet and write its typed copy")
    one.add_argument("--sheet", choices=SHEETS, required=True)
    one.add_argument("--raw-dir", type=Path, default=Path("data/raw"))
    one.add_argument("--bib", type=Path, default=Path("manuscript/references.bib"))
    one.add_argument("--out", type=Path, required=True)
    every = commands.add_parser("check", help="validate every sheet and print one summary")
    every.add_argument("--raw-dir", type=Path, default=Path("data/raw"))
    every.add_argument("--bib", type=Path, default=Path("manuscript/references.bib"))
    commands.add_parser("codebook", help="print the codebook (Markdown)")
    args = parser.parse_args(argv)

    if args.command == "codebook":
        sys.stdout.write(codebook_markdown())
        return 0
    if args.command == "check":
        problems = validate_all(args.raw_dir, args.bib)
        print(format_problems(problems) if problems else f"All {len(SHEETS)} sheets and {PRISMA_SHEET} are valid.",
              file=sys.stderr if problems else sys.stdout)
        return 1 if problems else 0
    parsed, problems = validate_sheet(args.sheet, args.raw_dir, args.bib)
    if problems or parsed is None:
        print(format_problems(problems), file=sys.stderr)
        return 1
    write_validated(parsed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def read_validated(path: Path, sheet: str | None = None, schema_dir: Path = SCHEMA_DIR) -> "pandas.DataFrame":
    """A validated sheet as a DataFrame with the schema's types (nullable Int64/Float64; missing = <NA>)."""
    import pandas  # imported here so that validation alone stays light

    schema = load_schema(sheet or path.stem, schema_dir)
    dtypes: dict[str, str] = {}
    for column, spec in schema["properties"].items():
        types = _allowed_types(spec)
        dtypes[column] = "Int64" if types == {"integer"} else "Float64" if "number" in types else "string"
    frame = pandas.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8")
    for column, dtype in dtypes.items():
        if dtype == "string":
            continue
        frame[column] = pandas.to_numeric(frame[column].mask(frame[column] == "")).astype(dtype)
    return frame
