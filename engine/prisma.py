"""PRISMA 2020 flow counts of a review: load, check, derive, draw.

The sheet ``data/raw/prisma.csv`` holds one row per PRISMA2020 template field
(the ``data`` names of ``inst/extdata/PRISMA.csv`` in the PRISMA2020 R
package), with the review's own words in ``source_quote``.  A count is either
``reported`` (the review states it) or ``NR`` (it does not).  Nothing computed
is typed into the sheet: every number the pipeline works out is produced here,
carries the status ``derived`` and the identity it came from, and is labelled
"derived" in the diagram.

Sheet conventions beyond the template
-------------------------------------
* Itemised fields (``dbr_excluded``, ``other_excluded``,
  ``database_specific_results``, ``register_specific_results``) take one row per
  item with the item's label in ``reason``; the total row of an itemised field
  has an empty ``reason``.  The template packs these items into one string
  ("Reason1, xxx; Reason2, xxx"); one row per item keeps each number checkable.
* ``records_after_duplicates`` (extension; the PRISMA 2009 box "records after
  duplicates removed").  When present, the identification arithmetic is split
  in two: ``records_after_duplicates = database_results + register_results -
  duplicates - excluded_automatic - excluded_other`` and ``records_screened =
  records_after_duplicates (+ pooled records)``.  When absent, the two are one
  identity.
* ``citations_pooled_at_screening`` (extension) is the explicit pooling flag:
  its presence says the review screened the records found by other methods
  together with the database records.  Then ``records_screened``,
  ``dbr_assessed``, ``dbr_excluded`` and the included counts cover both routes,
  the flag's count must equal the other-methods records identified, the
  template's own other-methods column (``other_*``) must not be reported, and
  the included identity uses the left column only.
* A template field left out of the sheet is a route the review did not use
  (no register, website or organisation search): it takes no part in any
  identity.  A field in the sheet with status NR is part of the flow but its
  count is unknown.  The fields every review has (``REQUIRED_FIELDS``) must be
  in the sheet.

The 39 / 20 / 41 reading
------------------------
The review writes "The initial search process yielded 39 articles from the
PubMed, Cochrane, and Embase online electronic databases, removing 20
duplicating records. Another two articles were from references of screened
articles. Two investigators independently screened the abstracts of all 41
identified records".  If 39 were the yield *before* deduplication, the review
would have screened 39 - 20 + 2 = 21 records, not 41; if 39 is what was left
*after* removing the 20 duplicates, 39 + 2 = 41 as stated.  The sheet records
the second reading (39 as ``records_after_duplicates``), the only one under
which the review's own numbers agree, and says so in its notes.  The number
identified before deduplication (``database_results``) is not stated and stays
NR: 39 + 20 would equal it only if nothing but duplicates was removed before
screening, and the review gives no count for other removals
(``excluded_other`` is NR), so the identity that could yield it has two
unknowns and derives nothing.  Under the other reading the sheet would record
``database_results`` = 39 with no ``records_after_duplicates`` row, and
``validated_counts`` stops the build with
"records_screened (41) != database_results (39) - duplicates (20) - ... +
citations_pooled_at_screening (2) = 21".

Derivation rules
----------------
An identity whose terms are all known is checked.  An identity with exactly
one unknown term derives it.  An identity whose unknown terms all enter with
the same sign and whose known terms leave nothing for them derives them all
as 0, because counts cannot be negative (this is how 41 records screened and
41 full texts assessed give 0 records excluded at screening and 0 reports not
retrieved).  A derived value below 0, or any failed check, is an arithmetic
error.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.atomic import atomic_path
from engine.cells import ASCII_INTEGER, character_problem, formula_problem, non_ascii_digits, read_records

if TYPE_CHECKING:
    from engine.sheets import Problem

Status = Literal["reported", "NR", "derived"]
Key = tuple[str, str]  # (data, reason)

SHEET_COLUMNS = ("data", "reason", "n", "status", "source_quote", "note")
SHEET_STATUSES = ("reported", "NR")

TEMPLATE_FIELDS = frozenset(
    {
        "previous_studies", "previous_reports",
        "database_results", "database_specific_results",
        "register_results", "register_specific_results",
        "website_results", "organisation_results", "citations_results",
        "duplicates", "excluded_automatic", "excluded_other",
        "records_screened", "records_excluded",
        "dbr_sought_reports", "dbr_notretrieved_reports",
        "dbr_assessed", "dbr_excluded",
        "other_sought_reports", "other_notretrieved_reports",
        "other_assessed", "other_excluded",
        "new_studies", "new_reports", "total_studies", "total_reports",
    }
)
EXTENSION_FIELDS = frozenset({"records_after_duplicates", "citations_pooled_at_screening"})
ITEMISED_FIELDS = frozenset(
    {"dbr_excluded", "other_excluded", "database_specific_results", "register_specific_results"}
)
# Itemised fields that are lists of labels only; they have no total row.
LABEL_ONLY_FIELDS = frozenset({"database_specific_results", "register_specific_results"})
REQUIRED_FIELDS = (
    "database_results", "duplicates", "records_screened", "records_excluded",
    "dbr_sought_reports", "dbr_notretrieved_reports", "dbr_assessed",
    "dbr_excluded", "new_studies", "new_reports",
)
OTHER_METHOD_SOURCES = ("website_results", "organisation_results", "citations_results")
OTHER_METHOD_FLOW = (
    "other_sought_reports", "other_notretrieved_reports", "other_assessed", "other_excluded",
)
POOLING_FIELD = "citations_pooled_at_screening"
ORDER = (
    "previous_studies", "previous_reports",
    "database_results", "database_specific_results",
    "register_results", "register_specific_results",
    "website_results", "organisation_results", "citations_results",
    "duplicates", "excluded_automatic", "excluded_other",
    "records_after_duplicates", "citations_pooled_at_screening",
    "records_screened", "records_excluded",
    "dbr_sought_reports", "dbr_notretrieved_reports", "dbr_assessed", "dbr_excluded",
    "other_sought_reports", "other_notretrieved_reports", "other_assessed", "other_excluded",
    "new_studies", "new_reports", "total_studies", "total_reports",
)


class PrismaSheetError(ValueError):
    """The sheet is malformed (unknown field, bad status, typed-in derived value...).

    ``row`` is the spreadsheet row at fault (header = 1), when one row is, and ``column`` its column, when
    one cell is.
    """

    def __init__(self, message: str, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.row = row
        self.column = column


class PrismaArithmeticError(ValueError):
    """The reported counts contradict each other."""

    def __init__(self, errors: Sequence[str]):
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"PRISMA counts are inconsistent ({len(self.errors)} failing):\n{lines}")


@dataclass(frozen=True)
class Count:
    """One count of the flow: a sheet row, or a value the pipeline derived."""

    data: str
    n: int | None
    status: Status
    reason: str = ""
    source_quote: str = ""
    note: str = ""
    derivation: str = ""

    @property
    def key(self) -> Key:
        return (self.data, self.reason)

    @property
    def known(self) -> bool:
        return self.n is not None

    def label(self) -> str:
        """``n = 41``, ``n = 0, derived`` or ``n = NR``, as printed in the diagram."""
        if self.n is None:
            return "n = NR"
        if self.status == "derived":
            return f"n = {self.n}, derived"
        return f"n = {self.n}"


@dataclass(frozen=True)
class PrismaCounts:
    """The flow's counts in sheet order; reported, NR and (after resolve) derived."""

    rows: tuple[Count, ...]

    def get(self, data: str, reason: str = "") -> Count | None:
        for row in self.rows:
            if row.data == data and row.reason == reason:
                return row
        return None

    def n(self, data: str, reason: str = "") -> int | None:
        row = self.get(data, reason)
        return None if row is None else row.n

    def has(self, data: str) -> bool:
        return any(row.data == data for row in self.rows)

    def items(self, data: str) -> tuple[Count, ...]:
        """The itemised rows of ``data`` (exclusion reasons, database names)."""
        return tuple(row for row in self.rows if row.data == data and row.reason)

    @property
    def pooled(self) -> bool:
        return self.has(POOLING_FIELD)

    def replacing(self, updates: Mapping[Key, Count]) -> PrismaCounts:
        return PrismaCounts(tuple(updates.get(row.key, row) for row in self.rows))


@dataclass(frozen=True)
class Identity:
    """``lhs = sum(sign * term)`` over counts; ``derive_only`` ones are never reported as checks."""

    lhs: Key
    terms: tuple[tuple[int, Key], ...]
    derive_only: bool = False
    text: str = ""

    def keys(self) -> tuple[Key, ...]:
        return (self.lhs,) + tuple(k for _, k in self.terms)


@dataclass(frozen=True)
class Resolution:
    """Counts after derivation, with an account of what was checked and derived."""

    counts: PrismaCounts
    checked: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())
    error_keys: tuple[Key, ...] = ()  # the count each error is about, in step with ``errors``


# --------------------------------------------------------------------------- loading


def _parse_n(raw: str, where: str) -> int | None:
    """A count as typed: empty, or the digits 0-9 (engine/cells.py: no spaces, underscores or other digits)."""
    if raw == "":
        return None
    if raw != raw.strip():
        raise PrismaSheetError(f"{where}: n {raw!r} has leading or trailing spaces: delete them", column="n")
    if not ASCII_INTEGER.match(raw):
        digit = non_ascii_digits(raw)
        hint = f" ({raw!r} has digits other than 0-9: {digit}; type it with 0-9)" if digit else ""
        raise PrismaSheetError(f"{where}: n must be an integer or empty, got {raw!r}{hint}", column="n")
    value = int(raw)
    if value < 0:
        raise PrismaSheetError(f"{where}: n must not be negative, got {value}", column="n")
    return value


def _check_text(raw: Mapping[str, str], where: str) -> None:
    """The text cells hold no control or invisible character, and no text reads as a spreadsheet formula."""
    for column in SHEET_COLUMNS:
        if column == "n":
            continue
        problem = character_problem(raw[column]) or formula_problem(raw[column].strip())
        if problem:
            raise PrismaSheetError(f"{where}: {column} {problem}", column=column)


def _check_row(row: Count, where: str) -> None:
    if row.data not in TEMPLATE_FIELDS | EXTENSION_FIELDS:
        raise PrismaSheetError(f"{where}: unknown field {row.data!r} (not a PRISMA2020 template field)")
    if row.status not in SHEET_STATUSES:
        raise PrismaSheetError(
            f"{where}: status must be one of {', '.join(SHEET_STATUSES)}, got {row.status!r}"
            " (derived values are computed by the pipeline, never typed into the sheet)"
        )
    if row.status == "reported" and row.n is None:
        raise PrismaSheetError(f"{where}: status 'reported' needs a number in n")
    if row.status == "NR" and row.n is not None:
        raise PrismaSheetError(f"{where}: status 'NR' must leave n empty, got {row.n}")
    if row.status == "reported" and not row.source_quote.strip():
        raise PrismaSheetError(f"{where}: a reported count needs the review's words in source_quote")
    if row.status == "NR" and not row.note.strip():
        raise PrismaSheetError(f"{where}: an NR row needs a note saying what the source does (not) say")
    if row.reason and row.data not in ITEMISED_FIELDS:
        raise PrismaSheetError(
            f"{where}: reason is only for itemised fields ({', '.join(sorted(ITEMISED_FIELDS))}), "
            f"not {row.data!r}"
        )
    if not row.reason and row.data in LABEL_ONLY_FIELDS:
        raise PrismaSheetError(f"{where}: {row.data} rows need the item's name in reason")


def load_prisma(path: str | Path) -> PrismaCounts:
    """Read the PRISMA sheet, keeping reported and NR apart; raise PrismaSheetError if malformed.

    Read strictly: the header is exactly the sheet's columns and every row has one field per column, so
    that a trailing comma or an unquoted comma in a cell stops the build instead of dropping text.
    """
    path = Path(path)
    records = list(read_records(path.read_text(encoding="utf-8")))
    header = [column.strip() for column in records[0]] if records else []
    missing = [c for c in SHEET_COLUMNS if c not in header]
    if missing:
        raise PrismaSheetError(f"{path}: missing columns {missing}", row=1)
    unknown = [c for c in header if c not in SHEET_COLUMNS or header.count(c) > 1]
    if unknown:
        raise PrismaSheetError(
            f"{path}: unknown or repeated columns {unknown} (the header is {', '.join(SHEET_COLUMNS)}; "
            "a trailing comma makes an empty column)", row=1)
    rows: list[Count] = []
    seen: set[Key] = set()
    for line_no, record in enumerate(records[1:], start=2):
        where = f"{path}:{line_no}"
        if not any(cell.strip() for cell in record):
            continue
        try:
            if len(record) != len(header):
                raise PrismaSheetError(
                    f"{where}: has {len(record)} fields, the header has {len(header)}: quote a cell that holds a "
                    "comma, and end no row with a comma")
            raw = dict(zip(header, record))
            _check_text(raw, where)
            row = Count(
                data=raw["data"].strip(),
                n=_parse_n(raw["n"], where),
                status=raw["status"].strip(),  # type: ignore[arg-type]
                reason=raw["reason"].strip(),
                source_quote=raw["source_quote"],
                note=raw["note"],
            )
            _check_row(row, where)
            if row.key in seen:
                raise PrismaSheetError(f"{where}: duplicate row for {row.data} {row.reason!r}".rstrip())
        except PrismaSheetError as error:
            raise PrismaSheetError(str(error), row=line_no, column=error.column) from None
        seen.add(row.key)
        rows.append(row)
    counts = PrismaCounts(tuple(rows))
    absent = [f for f in REQUIRED_FIELDS if counts.get(f) is None]
    if absent:
        raise PrismaSheetError(f"{path}: required fields missing (use status NR if unknown): {absent}")
    if counts.pooled:
        separate = [f for f in OTHER_METHOD_FLOW if (c := counts.get(f)) is not None and c.known]
        separate += [c.data for c in counts.items("other_excluded") if c.known]
        if separate:
            raise PrismaSheetError(
                f"{path}: {POOLING_FIELD} says the other-methods records were screened with the "
                f"database records, yet {sorted(set(separate))} are reported separately "
                "(they would be counted twice)"
            )
    return counts


# --------------------------------------------------------------------------- identities


def _present(counts: PrismaCounts, *fields: str) -> list[Key]:
    return [(f, "") for f in fields if counts.get(f) is not None]


def build_identities(counts: PrismaCounts) -> list[Identity]:
    """The flow identities that apply to this sheet (see the module docstring)."""
    ids: list[Identity] = []
    sources = [(+1, k) for k in _present(counts, "database_results", "register_results")]
    removed = [(-1, k) for k in _present(counts, "duplicates", "excluded_automatic", "excluded_other")]
    pooled = [(+1, (POOLING_FIELD, ""))] if counts.pooled else []
    other_sources = [(+1, k) for k in _present(counts, *OTHER_METHOD_SOURCES)]

    if counts.get("records_after_duplicates") is not None:
        ids.append(Identity(("records_after_duplicates", ""), tuple(sources + removed),
                            text="records left after removal before screening"))
        ids.append(Identity(("records_screened", ""), ((+1, ("records_after_duplicates", "")),) + tuple(pooled),
                            text="records screened"))
    else:
        ids.append(Identity(("records_screened", ""), tuple(sources + removed + pooled),
                            text="records screened"))
    if counts.pooled and other_sources:
        ids.append(Identity((POOLING_FIELD, ""), tuple(other_sources),
                            text="pooled records = records identified by other methods"))

    ids.append(Identity(("dbr_sought_reports", ""),
                        ((+1, ("records_screened", "")), (-1, ("records_excluded", ""))),
                        text="reports sought"))
    ids.append(Identity(("dbr_assessed", ""),
                        ((+1, ("dbr_sought_reports", "")), (-1, ("dbr_notretrieved_reports", ""))),
                        text="reports assessed"))
    # Chaining the two identities above lets non-negativity settle both unknown
    # exclusions at once when screened and assessed are equal.
    ids.append(Identity(("dbr_assessed", ""),
                        ((+1, ("records_screened", "")), (-1, ("records_excluded", "")),
                         (-1, ("dbr_notretrieved_reports", ""))),
                        derive_only=True, text="reports assessed (screened less both exclusions)"))
    for total in ("dbr_excluded", "other_excluded"):
        reasons = counts.items(total)
        if reasons and counts.get(total) is not None:
            ids.append(Identity((total, ""), tuple((+1, r.key) for r in reasons),
                                text=f"{total} = sum of its reasons"))

    included = [(+1, ("dbr_assessed", "")), (-1, ("dbr_excluded", ""))]
    if not counts.pooled and other_sources:
        flow = _present(counts, *OTHER_METHOD_FLOW)
        if ("other_sought_reports", "") in flow:
            ids.append(Identity(("other_sought_reports", ""), tuple(other_sources),
                                text="other-methods reports sought"))
        if {("other_assessed", ""), ("other_sought_reports", ""), ("other_notretrieved_reports", "")} <= set(flow):
            ids.append(Identity(("other_assessed", ""),
                                ((+1, ("other_sought_reports", "")), (-1, ("other_notretrieved_reports", ""))),
                                text="other-methods reports assessed"))
        if {("other_assessed", ""), ("other_excluded", "")} <= set(flow):
            included += [(+1, ("other_assessed", "")), (-1, ("other_excluded", ""))]
    ids.append(Identity(("new_reports", ""), tuple(included), text="reports of included studies"))

    for total, new, previous in (("total_studies", "new_studies", "previous_studies"),
                                 ("total_reports", "new_reports", "previous_reports")):
        if counts.get(total) is not None:
            terms = [(+1, (new, ""))] + [(+1, k) for k in _present(counts, previous)]
            ids.append(Identity((total, ""), tuple(terms), text=total))
    return ids


INEQUALITIES: tuple[tuple[str, str], ...] = (
    ("new_studies", "new_reports"),
    ("total_studies", "total_reports"),
)


# --------------------------------------------------------------------------- resolution


def _name(key: Key) -> str:
    data, reason = key
    return f"{data} '{reason}'" if reason else data


def _shown(row: Count) -> str:
    if row.n is None:
        return f"{_name(row.key)} (NR)"
    suffix = ", derived" if row.status == "derived" else ""
    return f"{_name(row.key)} ({row.n}{suffix})"


def _rhs_text(ident: Identity, rows: Mapping[Key, Count]) -> str:
    parts = []
    for i, (sign, key) in enumerate(ident.terms):
        piece = _shown(rows[key])
        parts.append(piece if i == 0 and sign > 0 else f"{'+' if sign > 0 else '-'} {piece}")
    return " ".join(parts) if parts else "0"


def _lookup(counts: PrismaCounts, key: Key) -> Count:
    row = counts.get(*key)
    if row is None:
        raise PrismaSheetError(f"identity refers to {_name(key)}, which is not in the sheet")
    return row


def resolve(counts: PrismaCounts) -> Resolution:
    """Derive what the identities force, then check every identity that is fully known."""
    identities = build_identities(counts)
    rows: dict[Key, Count] = {row.key: row for row in counts.rows}
    for ident in identities:
        for key in ident.keys():
            rows.setdefault(key, _lookup(counts, key))
    derived_notes: list[str] = []
    errors: list[str] = []
    error_keys: list[Key] = []
    used_to_derive: set[int] = set()

    changed = True
    while changed:
        changed = False
        for idx, ident in enumerate(identities):
            coef = {ident.lhs: 1}
            for sign, key in ident.terms:
                coef[key] = coef.get(key, 0) - sign
            unknown = [k for k in coef if rows[k].n is None and coef[k] != 0]
            if not unknown:
                continue
            residual = -sum(c * rows[k].n for k, c in coef.items() if rows[k].n is not None)
            eq = f"{_name(ident.lhs)} = {_rhs_text(ident, rows)}"
            values: dict[Key, int]
            if len(unknown) == 1:
                key = unknown[0]
                value = residual * coef[key]  # dividing by +1 or -1 is multiplying by it
                if value < 0:
                    errors.append(f"{_name(key)} would be {value} (< 0) from {eq}")
                    return Resolution(counts.replacing(rows), errors=tuple(errors), error_keys=(key,))
                values = {key: value}
                basis = f"from {eq}"
            else:
                signs = {1 if coef[k] > 0 else -1 for k in unknown}
                if len(signs) != 1:
                    continue
                # Unknowns of one sign must absorb the residual; counts are >= 0.
                if residual * signs.pop() < 0:
                    errors.append(f"{', '.join(_name(k) for k in unknown)} would sum below 0 from {eq}")
                    return Resolution(counts.replacing(rows), errors=tuple(errors), error_keys=(unknown[0],))
                if residual != 0:
                    continue
                values = {key: 0 for key in unknown}
                basis = f"from {eq}, as counts cannot be negative"
            for key, value in values.items():
                rows[key] = replace(rows[key], n=value, status="derived", derivation=basis)
            derived_notes.append(
                f"{', '.join(f'{_name(k)} = {v}' for k, v in values.items())} derived {basis}"
            )
            used_to_derive.add(idx)
            changed = True

    checked: list[str] = []
    unchecked: list[str] = []
    for idx, ident in enumerate(identities):
        if ident.derive_only:
            continue
        lhs = rows[ident.lhs]
        if any(rows[k].n is None for k in ident.keys()):
            unchecked.append(f"{_shown(lhs)} = {_rhs_text(ident, rows)}: has NR terms")
            continue
        total = sum(sign * rows[k].n for sign, k in ident.terms)
        if lhs.n != total:
            errors.append(f"{_shown(lhs)} != {_rhs_text(ident, rows)} = {total}")
            error_keys.append(ident.lhs)
        elif idx not in used_to_derive:
            checked.append(f"{_shown(lhs)} = {_rhs_text(ident, rows)}")
    for small, large in INEQUALITIES:
        a, b = rows.get((small, "")) or counts.get(small), rows.get((large, "")) or counts.get(large)
        if a is None or b is None:
            continue
        if a.n is None or b.n is None:
            unchecked.append(f"{_shown(a)} <= {_shown(b)}: has NR terms")
        elif a.n > b.n:
            errors.append(f"{_shown(a)} > {_shown(b)}: a study needs at least one report")
            error_keys.append(a.key)
        else:
            checked.append(f"{_shown(a)} <= {_shown(b)}")
    return Resolution(
        counts=counts.replacing(rows),
        checked=tuple(checked),
        derived=tuple(derived_notes),
        unchecked=tuple(unchecked),
        errors=tuple(errors),
        error_keys=tuple(error_keys),
    )


def check_arithmetic(counts: PrismaCounts) -> list[str]:
    """Every failing flow identity, with its numbers; [] when the counts agree."""
    return list(resolve(counts).errors)


def validated_counts(path: str | Path) -> Resolution:
    """Load, derive and check; raise PrismaArithmeticError listing every failing identity."""
    resolution = resolve(load_prisma(path))
    if resolution.errors:
        raise PrismaArithmeticError(resolution.errors)
    return resolution


def find_problems(path: Path) -> list[Problem]:
    """Every reason the sheet cannot be used, in the validation format (file, row, column, value, rule).

    This is how the PRISMA sheet joins the one summary of ``python -m engine.validation check``: encoding,
    a malformed row (the first one found) or every failing identity, each placed on the row of the count it
    is about.
    """
    from engine.sheets import Problem, decode_sheet

    name = str(path)
    if not path.is_file():
        return [Problem(name, None, None, None, "the file does not exist")]
    text, problems = decode_sheet(path, path.read_bytes())
    if text is None or problems:
        return problems
    try:
        resolution = resolve(load_prisma(path))
    except PrismaSheetError as error:
        rule = str(error).removeprefix(f"{path}:{error.row}: ").removeprefix(f"{path}: ")
        return [Problem(name, error.row, error.column, None, rule)]
    records = list(read_records(text))
    header = [column.strip() for column in records[0]]
    at = {column: header.index(column) for column in ("data", "reason", "n")}
    cells = {(r[at["data"]].strip(), r[at["reason"]].strip()): (number, r[at["n"]])
             for number, r in enumerate(records[1:], start=2) if any(cell.strip() for cell in r)}
    found = []
    for key, error in zip(resolution.error_keys, resolution.errors, strict=True):
        row, n = cells[key]
        found.append(Problem(name, row, "n", n or None, error))
    return found


def write_counts_csv(counts: PrismaCounts, path: str | Path) -> None:
    """Final counts for the values registry: status reported / derived / NR."""
    rank = {name: i for i, name in enumerate(ORDER)}
    rows = sorted(enumerate(counts.rows), key=lambda item: (rank.get(item[1].data, len(rank)), item[0]))
    with atomic_path(Path(path)) as partial, partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["data", "reason", "n", "status", "derivation", "source_quote"])
        for _, row in rows:
            writer.writerow([row.data, row.reason, "" if row.n is None else row.n,
                             row.status, row.derivation, row.source_quote])


# --------------------------------------------------------------------------- diagram

FONT = "DejaVu Sans"
BODY_PT = 7.0
HEAD_PT = 7.5
LINE_PT = BODY_PT * 1.3
PAD_IN = 0.06
FIG_WIDTH_IN = 16 / 2.54
HEADER_FILL = "#FFD966"  # the template's yellow "via databases and registers" header
OTHER_FILL = "#D9D9D9"  # and its grey "via other methods" header
PHASE_FILL = "#9DC3E6"  # and its blue phase labels
EDGE = "#404040"
FOOTNOTE = ("NR: not reported in the review. derived: computed by the pipeline from the reported "
            "counts, not stated in the review.")


@dataclass
class _Box:
    lines: list[tuple[str, bool]]  # (text, bold)
    x: float
    width: float
    height: float = 0.0
    y: float = 0.0  # top, inches from the top of the figure
    fill: str = "white"
    dashed: bool = False
    italic: bool = False

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height


def _text_width_pt(text: str, size: float, bold: bool = False, italic: bool = False) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family=FONT, size=size, weight="bold" if bold else "normal",
                          style="italic" if italic else "normal")
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return width


def _wrap(text: str, width_in: float, size: float, bold: bool = False, italic: bool = False) -> list[str]:
    """Greedy word wrap by measured glyph widths; over-long words are split by character."""
    limit = width_in * 72
    lines: list[str] = []
    current = ""
    # "(n = 41, derived)" is kept whole so a count never breaks across lines.
    for word in re.findall(r"\(n = [^)]*\)[:;,.]?|\S+", text):
        trial = f"{current} {word}" if current else word
        if _text_width_pt(trial, size, bold, italic) <= limit:
            current = trial
            continue
        if current:
            lines.append(current)
        current = ""
        while _text_width_pt(word, size, bold, italic) > limit:
            cut = len(word)
            while cut > 1 and _text_width_pt(word[:cut], size, bold, italic) > limit:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current or not lines:
        lines.append(current)
    return lines


def _make_box(paragraphs: Sequence[tuple[str, bool]], x: float, width: float, **style) -> _Box:
    lines: list[tuple[str, bool]] = []
    for text, bold in paragraphs:
        lines += [(t, bold) for t in _wrap(text, width - 2 * PAD_IN, BODY_PT, bold, style.get("italic", False))]
    height = len(lines) * LINE_PT / 72 + 2 * PAD_IN
    return _Box(lines, x, width, height, **style)


def _count_phrase(counts: PrismaCounts, data: str, label: str, reason: str = "") -> str:
    row = counts.get(data, reason)
    return f"{label} ({'n = NR' if row is None else row.label()})"


def _identified_paragraphs(counts: PrismaCounts) -> list[tuple[str, bool]]:
    paras = [("Records identified from:", True)]
    names = counts.items("database_specific_results")
    db = _count_phrase(counts, "database_results", "Databases")
    if names and all(r.n is None for r in names):
        paras.append((f"{db}: {', '.join(r.reason for r in names)}", False))
    else:
        paras.append((db + (":" if names else ""), False))
        paras += [(f"{r.reason} ({r.label()})", False) for r in names]
    if counts.get("register_results") is not None:
        paras.append((_count_phrase(counts, "register_results", "Registers"), False))
        paras += [(f"{r.reason} ({r.label()})", False) for r in counts.items("register_specific_results")]
    return paras


def _removed_paragraphs(counts: PrismaCounts) -> list[tuple[str, bool]]:
    paras = [("Records removed before screening:", True)]
    for data, label in (("duplicates", "Duplicate records"),
                        ("excluded_automatic", "Records marked as ineligible by automation tools"),
                        ("excluded_other", "Records removed for other reasons")):
        if counts.get(data) is not None:
            paras.append((_count_phrase(counts, data, label), False))
    return paras


def _screened_paragraphs(counts: PrismaCounts) -> list[tuple[str, bool]]:
    paras = [(_count_phrase(counts, "records_screened", "Records screened"), True)]
    if counts.get("records_after_duplicates") is not None:
        paras.append((_count_phrase(counts, "records_after_duplicates",
                                    "from databases after removal of duplicates"), False))
    if counts.pooled:
        paras.append((_count_phrase(counts, POOLING_FIELD,
                                    "from other methods, screened together by the review"), False))
    return paras


def _excluded_paragraphs(counts: PrismaCounts, total: str) -> list[tuple[str, bool]]:
    reasons = counts.items(total)
    paras = [(_count_phrase(counts, total, "Reports excluded") + (":" if reasons else ""), True)]
    paras += [(f"{r.reason} ({r.label()})", False) for r in reasons]
    return paras


def _other_identified_paragraphs(counts: PrismaCounts) -> list[tuple[str, bool]]:
    paras = [("Records identified from:", True)]
    for data, label in (("website_results", "Websites"), ("organisation_results", "Organisations"),
                        ("citations_results", "Citation searching")):
        if counts.get(data) is not None:
            paras.append((_count_phrase(counts, data, label), False))
    return paras


def _layout(counts: PrismaCounts):
    """Place every box; returns (boxes by name, headers, phases, arrows, height)."""
    has_other = any(counts.get(f) is not None for f in OTHER_METHOD_SOURCES)
    split_other = has_other and not counts.pooled
    margin, phase_w, gap = 0.06, 0.26, 0.14
    usable = FIG_WIDTH_IN - 2 * margin - phase_w - gap
    if split_other:
        widths = [(usable - 3 * gap) / 4] * 4
    elif has_other:
        widths = [usable * 0.35, usable * 0.35, usable * 0.30]
        widths = [w - gap * 2 / 3 for w in widths]
    else:
        widths = [(usable - gap) * 0.48, (usable - gap) * 0.52]
    xs = [margin + phase_w + gap]
    for w in widths[:-1]:
        xs.append(xs[-1] + w + gap)

    boxes: dict[str, _Box] = {}
    col = dict(zip(("main", "excl", "omain", "oexcl"), zip(xs, widths)))
    if has_other and not split_other:
        col["omain"] = (xs[2], widths[2])

    def put(name: str, column: str, paragraphs, **style) -> None:
        x, w = col[column]
        boxes[name] = _make_box(paragraphs, x, w, **style)

    put("identified", "main", _identified_paragraphs(counts))
    put("removed", "excl", _removed_paragraphs(counts))
    put("screened", "main", _screened_paragraphs(counts))
    put("records_excluded", "excl", [(_count_phrase(counts, "records_excluded", "Records excluded"), False)])
    put("sought", "main", [(_count_phrase(counts, "dbr_sought_reports", "Reports sought for retrieval"), False)])
    put("notretrieved", "excl", [(_count_phrase(counts, "dbr_notretrieved_reports", "Reports not retrieved"), False)])
    put("assessed", "main", [(_count_phrase(counts, "dbr_assessed", "Reports assessed for eligibility"), False)])
    put("excluded", "excl", _excluded_paragraphs(counts, "dbr_excluded"))
    included = [(_count_phrase(counts, "new_studies", "Studies included in review"), True),
                (_count_phrase(counts, "new_reports", "Reports of included studies"), False)]
    put("included", "main", included)
    if has_other:
        put("o_identified", "omain", _other_identified_paragraphs(counts))
    if has_other and counts.pooled:
        put("o_note", "omain", [(
            "Screened together with the database records by the review: reports sought, not "
            "retrieved, assessed and excluded are not reported separately for this route (n = NR).",
            False)], dashed=True, italic=True)
    if split_other:
        put("o_sought", "omain", [(_count_phrase(counts, "other_sought_reports", "Reports sought for retrieval"), False)])
        put("o_notretrieved", "oexcl", [(_count_phrase(counts, "other_notretrieved_reports", "Reports not retrieved"), False)])
        put("o_assessed", "omain", [(_count_phrase(counts, "other_assessed", "Reports assessed for eligibility"), False)])
        put("o_excluded", "oexcl", _excluded_paragraphs(counts, "other_excluded"))

    rows = [
        ("Identification", ["identified", "removed", "o_identified"]),
        ("Screening", ["screened", "records_excluded", "o_note"]),
        ("Screening", ["sought", "notretrieved", "o_sought", "o_notretrieved"]),
        ("Screening", ["assessed", "excluded", "o_assessed", "o_excluded"]),
        ("Included", ["included"]),
    ]
    header_specs = [(xs[0], xs[1] + widths[1] - xs[0],
                     "Identification of studies via databases and registers", HEADER_FILL)]
    if has_other:
        header_specs.append((xs[2], xs[-1] + widths[-1] - xs[2],
                             "Identification of studies via other methods", OTHER_FILL))
    headers = [(x, w, _wrap(label, w - 2 * PAD_IN, HEAD_PT, bold=True), fill)
               for x, w, label, fill in header_specs]
    header_h = max(0.3, max(len(h[2]) for h in headers) * HEAD_PT * 1.3 / 72 + 2 * PAD_IN)
    top = margin + header_h + 0.16
    row_gap = 0.24
    heights = [max(boxes[n].height for n in names if n in boxes) for _, names in rows]
    # A phase's rows must be tall enough for its rotated side label.
    for phase in dict.fromkeys(p for p, _ in rows):
        idx = [i for i, (p, _) in enumerate(rows) if p == phase]
        need = _text_width_pt(phase, HEAD_PT, bold=True) / 72 + 2 * PAD_IN
        have = sum(heights[i] for i in idx) + row_gap * (len(idx) - 1)
        for i in idx:
            heights[i] += max(0.0, need - have) / len(idx)
    row_spans: list[tuple[str, float, float]] = []
    for (phase, names), height in zip(rows, heights):
        present = [boxes[n] for n in names if n in boxes]
        for b in present:
            b.y = top + (height - b.height) / 2
        row_spans.append((phase, top, top + height))
        top += height + row_gap
    footnote = _wrap(FOOTNOTE, FIG_WIDTH_IN - 2 * margin, BODY_PT - 1)
    height_in = top - row_gap + 0.12 + len(footnote) * (BODY_PT - 1) * 1.3 / 72 + margin
    phases: list[tuple[str, float, float]] = []
    for phase, y0, y1 in row_spans:
        if phases and phases[-1][0] == phase:
            phases[-1] = (phase, phases[-1][1], y1)
        else:
            phases.append((phase, y0, y1))
    return boxes, headers, phases, footnote, (margin, phase_w, header_h), height_in, split_other


def draw_flow_diagram(counts: PrismaCounts, svg_path: str | Path) -> None:
    """Draw the PRISMA 2020 flow diagram (vector SVG, byte-stable across runs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    rc = {
        "svg.hashsalt": "prisma",
        "svg.fonttype": "none",  # real <text> in the SVG, so its words stay searchable
        "font.family": FONT,
        "text.usetex": False,
        "path.simplify": False,
    }
    with matplotlib.rc_context(rc):
        boxes, headers, phases, footnote, (margin, phase_w, header_h), height, split_other = _layout(counts)
        fig = plt.figure(figsize=(FIG_WIDTH_IN, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, FIG_WIDTH_IN)
        ax.set_ylim(height, 0)
        ax.axis("off")

        def text(x, y, s, **kw):
            # Data text: never parsed as mathtext or TeX, so "$x$" prints as typed.
            return ax.text(x, y, s, fontsize=kw.pop("size", BODY_PT), usetex=False,
                           parse_math=False, **kw)

        for x, w, lines, fill in headers:
            ax.add_patch(FancyBboxPatch((x, margin), w, header_h, boxstyle="round,pad=0,rounding_size=0.06",
                                        facecolor=fill, edgecolor=EDGE, linewidth=0.8))
            step = HEAD_PT * 1.3 / 72
            first = margin + header_h / 2 - (len(lines) - 1) * step / 2
            for i, line in enumerate(lines):
                text(x + w / 2, first + i * step, line, size=HEAD_PT, weight="bold",
                     ha="center", va="center_baseline")
        for label, y0, y1 in phases:
            ax.add_patch(FancyBboxPatch((margin, y0), phase_w, y1 - y0, boxstyle="round,pad=0,rounding_size=0.06",
                                        facecolor=PHASE_FILL, edgecolor=EDGE, linewidth=0.8))
            text(margin + phase_w / 2, (y0 + y1) / 2, label, size=HEAD_PT, weight="bold",
                 ha="center", va="center", rotation=90)
        for box in boxes.values():
            ax.add_patch(Rectangle((box.x, box.y), box.width, box.height, facecolor=box.fill,
                                   edgecolor=EDGE, linewidth=0.8, linestyle="--" if box.dashed else "-"))
            for i, (line, bold) in enumerate(box.lines):
                text(box.x + PAD_IN, box.y + PAD_IN + (i + 0.5) * LINE_PT / 72, line,
                     weight="bold" if bold else "normal", style="italic" if box.italic else "normal",
                     ha="left", va="center_baseline")

        def arrow(points: Sequence[tuple[float, float]], dashed: bool = False) -> None:
            style = "--" if dashed else "-"
            for (x0, y0), (x1, y1) in zip(points[:-2], points[1:-1]):
                ax.plot([x0, x1], [y0, y1], color=EDGE, linewidth=0.8, linestyle=style,
                        solid_capstyle="butt")
            ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>,head_length=4,head_width=2.2",
                                         color=EDGE, linewidth=0.8, linestyle=style,
                                         shrinkA=0, shrinkB=0, mutation_scale=1))

        chain = ["identified", "screened", "sought", "assessed", "included"]
        for a, b in zip(chain, chain[1:]):
            arrow([(boxes[a].cx, boxes[a].bottom), (boxes[a].cx, boxes[b].y)])
        for a, b in (("identified", "removed"), ("screened", "records_excluded"),
                     ("sought", "notretrieved"), ("assessed", "excluded")):
            arrow([(boxes[a].x + boxes[a].width, boxes[a].cy), (boxes[b].x, boxes[a].cy)])
        if "o_identified" in boxes and counts.pooled:
            src, dst = boxes["o_identified"], boxes["screened"]
            mid_y = (boxes["identified"].bottom + dst.y) / 2
            mid_y = max(mid_y, src.bottom + 0.06)
            tx = dst.x + dst.width * 0.8
            arrow([(src.cx, src.bottom), (src.cx, mid_y), (tx, mid_y), (tx, dst.y)], dashed=True)
        if split_other:
            for a, b in (("o_identified", "o_sought"), ("o_sought", "o_assessed")):
                arrow([(boxes[a].cx, boxes[a].bottom), (boxes[a].cx, boxes[b].y)])
            for a, b in (("o_sought", "o_notretrieved"), ("o_assessed", "o_excluded")):
                arrow([(boxes[a].x + boxes[a].width, boxes[a].cy), (boxes[b].x, boxes[a].cy)])
            src, dst = boxes["o_assessed"], boxes["included"]
            arrow([(src.cx, src.bottom), (src.cx, dst.cy), (dst.x + dst.width, dst.cy)])

        step = (BODY_PT - 1) * 1.3 / 72
        for i, line in enumerate(footnote):
            text(margin, height - margin - (len(footnote) - 1 - i + 0.5) * step, line, size=BODY_PT - 1,
                 ha="left", va="center_baseline", color="#333333")

        # Creator names this script: the manuscript's caption links the figure to it.
        with atomic_path(Path(svg_path)) as partial:
            fig.savefig(partial, format="svg", metadata={"Date": None, "Creator": "engine/prisma.py"})
        plt.close(fig)


# --------------------------------------------------------------------------- CLI


def _report(resolution: Resolution) -> str:
    def block(title: str, items: Iterable[str]) -> str:
        items = list(items)
        body = "\n".join(textwrap.indent(i, "  - ") for i in items) if items else "  (none)"
        return f"{title}:\n{body}"

    return "\n".join([
        block("identities checked", resolution.checked),
        block("used to derive", resolution.derived),
        block("not checkable (NR terms)", resolution.unchecked),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", required=True, type=Path)
    parser.add_argument("--svg", required=True, type=Path)
    parser.add_argument("--counts", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        resolution = validated_counts(args.sheet)
    except (PrismaArithmeticError, PrismaSheetError) as error:
        print(error, file=sys.stderr)
        return 1
    write_counts_csv(resolution.counts, args.counts)
    draw_flow_diagram(resolution.counts, args.svg)
    print(_report(resolution))
    return 0


if __name__ == "__main__":
    sys.exit(main())
