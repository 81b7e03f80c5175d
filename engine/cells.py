"""What a cell of a CSV sheet may hold, for every sheet the pipeline reads (engine/sheets.py, engine/prisma.py).

A sheet is typed by hand or saved by a spreadsheet program, and its text reaches the paper (HTML, Typst),
the figures (SVG) and CSV files that a spreadsheet opens again. Some characters pass every schema yet break
one of those or hide from the reader:

* control characters (NUL and the other C0 controls but tab and line breaks, and DEL): Typst and XML
  refuse them, late and naming no cell;
* invisible characters (a byte-order mark inside a cell, zero-width space, word joiner): the cell prints
  with a character no one can see or search;
* a text cell starting with ``=``, ``+``, ``-`` or ``@``: a spreadsheet opening the sheet, or any CSV the
  pipeline writes from it (``results/validated/*.csv``, ``results/derived/prisma_counts.csv``, the report's
  downloads), runs it as a formula ("CSV injection").

The convention for the last one: such a cell is refused where it is typed, unless it is a number (``-1``
is a number to a spreadsheet too). The pipeline then writes no formula-like cell without escaping
anything, so every CSV it writes reads back as written, by the pipeline and by a person alike.

Numbers are written with the digits 0-9 only. Python's ``int`` and ``float`` also accept Arabic-Indic
(``٣``), full-width (``３``) and other Unicode digits and underscores (``2_0``), which a reader checking the
sheet against the source would not expect to be read as numbers; :data:`ASCII_INTEGER` and
:data:`ASCII_NUMBER` accept only what a spreadsheet shows as a number.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata
from collections.abc import Iterator

ASCII_INTEGER = re.compile(r"^[+-]?[0-9]+$")
ASCII_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
FORMULA_STARTS = ("=", "+", "-", "@")
# Tab, line feed and carriage return are text (a quoted cell may hold a line break).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = {"\ufeff": "a byte-order mark", "\u200b": "a zero-width space", "\u2060": "a word joiner"}
_FORBIDDEN = re.compile(f"{_CONTROL.pattern}|[{''.join(_INVISIBLE)}]")
# The csv module stops at 131,072 characters a field by default; an aggregate's source_studies lists
# every study id it pools (a review of 100,000 studies has cells of over 600,000 characters). The
# largest limit the platform's C long holds: a cell is bounded by the file only.
FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


def read_records(text: str, strict: bool = False) -> Iterator[list[str]]:
    """The CSV records of ``text``, with no limit on a cell's length but the file's."""
    csv.field_size_limit(FIELD_LIMIT)
    return csv.reader(io.StringIO(text, newline=""), strict=strict)


def character_problem(cell: str) -> str | None:
    """Why ``cell`` holds a character no sheet may hold (control or invisible), or None."""
    found = _FORBIDDEN.search(cell)
    if found is None:
        return None
    character, position = found[0], found.start() + 1
    if character in _INVISIBLE:
        return (
            f"holds an invisible character ({_INVISIBLE[character]}, U+{ord(character):04X}) at position "
            f"{position}: delete it (retype the text around it)"
        )
    code = ord(character)
    return (
        f"holds a control character (U+{code:04X}{' NUL' if code == 0 else ''}) at position {position}, which the paper cannot "
        "print: delete it (it often comes from a copy out of a PDF or another program)"
    )


def formula_problem(cell: str) -> str | None:
    """Why a text cell would run as a spreadsheet formula, or None (numbers are not formulas)."""
    if not cell.startswith(FORMULA_STARTS) or ASCII_NUMBER.match(cell):
        return None
    return (
        f"starts with {cell[0]!r}, so a spreadsheet opening this sheet or the CSV files made from it would "
        f"run it as a formula: reword the text so that it does not start with {' '.join(FORMULA_STARTS)}"
    )


def non_ascii_digits(cell: str) -> str | None:
    """The name of the first digit in ``cell`` that is not 0-9 (``ARABIC-INDIC DIGIT THREE``), or None."""
    for character in cell:
        if character.isdigit() and not "0" <= character <= "9":
            return unicodedata.name(character, f"U+{ord(character):04X}")
    return None
