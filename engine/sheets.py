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

import csv
import functools
import re
import sys
from collections.abc import Mapping, Sequence
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

    from engine.manifest import Review

# jsonschema imports rfc3987_syntax, when installed (Jupyter pulls it in), only to check the "iri" string
# format, which no schema of this project (nor Snakemake's config schema) uses. Building its grammar takes
# 2-3 s, longer than all the validation of a build, in every process that validates: each validation job
# and Snakemake itself, which imports this module before it validates the config. Marking the module absent
# before jsonschema is first imported makes jsonschema skip that one format; nothing else changes.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

NOT_AVAILABLE = "NA"

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
        where = [shown_path(self.file)]
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
        self.problems = tuple(sorted(problems, key=problem_sort_key))
        super().__init__(format_problems(self.problems))


def shown_path(path: str) -> str:
    """A file as the user names it: relative to the working directory (the review's folder, in a build)
    when it lies inside it, so that a message says data/raw/studies.csv and not the whole path."""
    absolute = Path(path)
    if absolute.is_absolute() and absolute.is_relative_to(Path.cwd()):
        return absolute.relative_to(Path.cwd()).as_posix()
    return path


def problem_sort_key(problem: Problem) -> tuple[str, int, str, str, str]:
    # Total, so that the message lists problems in the same order in every run (they pass through sets).
    return (problem.file, problem.row or 0, problem.column or "", problem.rule, problem.value or "")


def format_problems(problems: Sequence[Problem]) -> str:
    """The one message a user sees: a count, then every problem on its own line."""
    files = sorted({shown_path(p.file) for p in problems})
    head = f"Validation failed: {len(problems)} problem(s) in {', '.join(files)}"
    return "\n".join([head, *(f"  - {p}" for p in problems)])


# libyaml's loader when PyYAML was built with it (the wheels are): the gate reads every schema before each
# build, and the pure-Python loader took most of its time.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load_schema(path: Path) -> dict[str, Any]:
    """The JSON Schema of a sheet (``config/schemas/<sheet>.schema.yaml``), read once per process."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=YAML_LOADER)


def read_bib_keys(bib_path: Path) -> frozenset[str]:
    """Citation keys defined in a BibTeX file."""
    return frozenset(_BIB_KEY.findall(bib_path.read_text(encoding="utf-8")))


def bib_keys_or_problem(bib_path: Path) -> tuple[frozenset[str] | None, list[Problem]]:
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


def read_sheet(sheet: str, path: Path, schema: Mapping[str, Any]) -> tuple[Sheet | None, list[Problem]]:
    """Parse and check one sheet against its schema; returns the typed sheet (None if unreadable) and problems."""
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


def write_validated(sheet: Sheet, out_path: Path, schema_path: Path) -> None:
    """Write the typed sheet as CSV: a numeric column's "NA" becomes an empty cell; text keeps "NA" as printed."""
    properties = load_schema(schema_path)["properties"]
    numeric = {c for c in sheet.columns if _allowed_types(properties[c]) & {"integer", "number"}}
    with atomic_path(out_path) as partial, open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(sheet.columns)
        for row in sheet.rows:
            writer.writerow(["" if c in numeric and row[c] == NOT_AVAILABLE else row[c] for c in sheet.columns])


def _table_cell(text: str) -> str:
    return text.replace("|", "\\|")


def codebook_markdown(review: Review) -> str:
    """The codebook: every sheet and column with its meaning, unit and allowed values, from the schemas."""
    lines = ["# Codebook", "",
             "Generated from `config/schemas/*.schema.yaml` by `python -m engine.validation codebook`;"
             " do not edit by hand (a test checks it is current).", "",
             f"Missing values: `{NOT_AVAILABLE}` means the review gives no value (its own abbreviation,"
             " 'not available'). Text columns (`*_text`) keep the printed wording, abbreviations included.", ""]
    for spec in review.sheets:
        schema = load_schema(spec.schema)
        optional = " (optional)" if spec.optional else ""
        lines += [f"## `data/raw/{spec.name}.csv`{optional}", "", " ".join(schema["description"].split()), "",
                  f"Key: {', '.join(schema.get('x-primary-key', []))}.", "",
                  "| column | meaning | unit | allowed values |", "|---|---|---|---|"]
        for column, spec in schema["properties"].items():
            meaning = _table_cell(" ".join(spec.get("description", "").split()))
            lines.append(f"| `{column}` | {meaning} | {spec.get('unit', '')} | {_table_cell(describe(spec))} |")
        lines.append("")
    if review.prisma is not None:
        lines += _prisma_codebook()
    return "\n".join(lines)


# The PRISMA sheet has no JSON Schema: engine/prisma.py checks it (its fields, statuses and identities).
_PRISMA_COLUMNS = (
    ("data", "PRISMA 2020 template field (the `data` names of the PRISMA2020 R package's template), or an "
             "extension documented in engine/prisma.py", "", "a template field"),
    ("reason", "The item's label for itemised fields (an exclusion reason, a database); empty on a total row", "",
     "text"),
    ("n", "The count as the review states it; empty when `status` is NR", "records", "integer >= 0 or empty"),
    ("status", "`reported`: the review states the count; `NR`: the review does not report it (counts the "
               "pipeline works out are never typed in: they are drawn as derived)", "", "reported, NR"),
    ("source_quote", "The review's own words the count comes from", "", "text"),
    ("note", "Why a count is not reported, or how an ambiguous sentence was read", "", "text"),
)


def _prisma_codebook() -> list[str]:
    lines = ["## `data/raw/prisma.csv`", "",
             "PRISMA 2020 flow counts of the study selection, one row per template field (checked and drawn by "
             "engine/prisma.py).", "",
             "**NR here means _not reported_** (the review gives no count for the field), whatever NR may mean "
             "in the review's own tables: an NR copied from those keeps the meaning its sheet's description "
             "gives.", "",
             "Key: data, reason.", "",
             "| column | meaning | unit | allowed values |", "|---|---|---|---|"]
    lines += [f"| `{column}` | {_table_cell(meaning)} | {unit} | {_table_cell(allowed)} |"
              for column, meaning, unit, allowed in _PRISMA_COLUMNS]
    return [*lines, ""]


def read_validated(path: Path, schema_path: Path) -> pandas.DataFrame:
    """A validated sheet as a DataFrame with the schema's types (nullable Int64/Float64; missing = <NA>)."""
    import pandas  # imported here so that validation alone stays light

    schema = load_schema(schema_path)
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


def read_sheets(review: Review, validated_dir: Path) -> dict[str, pandas.DataFrame]:
    """Every declared sheet's validated copy (``results/validated/<sheet>.csv``) as a DataFrame."""
    return {spec.name: read_validated(validated_dir / f"{spec.name}.csv", spec.schema) for spec in review.sheets}
