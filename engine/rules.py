"""The cross-field and cross-sheet rules a review's manifest declares (``rules:`` in config/review.yaml).

Each rule names its sheet and its check; the checks are general (a key that must exist in another sheet,
a count that must not exceed another, columns that must be ordered, rows that must sum to a total), so a
review declares which apply instead of the engine choosing them by sheet name. A check that only one
review needs is a ``plugin`` rule: a function ``(sheet, others) -> problems`` of the review's scripts/.

A rule never judges a missing value ("NA"): a count that is not reported cannot exceed anything. Rules
that need every row of another sheet stay silent when that sheet could not be read whole (its own problems
say why), so that an unread row is not reported as a missing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.sheets import NOT_AVAILABLE, Problem, Row, Sheet, shown_path

Check = Callable[[Sheet, Mapping[str, Any], Mapping[str, "Sheet | None"]], Iterable[Problem]]


def known(value: Any) -> bool:
    """A reported number (not "NA", not text)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rows(sheet: Sheet) -> Iterable[tuple[Row, int]]:
    return zip(sheet.rows, sheet.row_numbers)


def _split(cell: Any, separator: str | None) -> list[Any]:
    """The keys a cell names: itself, or the parts of a list cell ("9;13;16"), as integers where they are."""
    if separator is None:
        return [cell]
    parts = [part.strip() for part in str(cell).split(separator) if part.strip()]
    return [int(part) if part.lstrip("-").isdigit() else part for part in parts]


def _column_of(reference: str) -> tuple[str, str]:
    sheet, _, column = reference.partition(".")
    return sheet, column


def _index(sheet: Sheet, column: str) -> dict[Any, Row]:
    return {row.get(column): row for row in sheet.rows}


def references(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """Every key in ``column`` exists in ``target`` (``<sheet>.<column>``)."""
    target_sheet, target_column = _column_of(rule["target"])
    target = others.get(target_sheet)
    if target is None:
        return
    present = {row.get(target_column) for row in target.rows}
    column, separator = rule["column"], rule.get("separator")
    for row, number in _rows(sheet):
        cell = row.get(column)
        if separator is None:
            if cell not in present:
                yield Problem(str(sheet.path), number, column, str(cell),
                              f"unknown {column}: no such {target_column} in {target.path.name}")
            continue
        missing = [key for key in _split(cell, separator) if key not in present]
        if missing:
            yield Problem(str(sheet.path), number, column, str(cell),
                          f"unknown {target_column}(s) {', '.join(map(str, missing))}: not in {target.path.name}")


def _bound(row: Row, rule: Mapping[str, Any], others: Mapping[str, Sheet | None],
           indexes: dict[str, dict[Any, Row]]) -> tuple[Any, str] | None:
    """The bound of ``at_most`` for one row and how to name it; None when it cannot be known."""
    bound = rule["bound"]
    if "." not in bound:
        return row.get(bound), bound
    target_sheet, target_column = _column_of(bound)
    target = others.get(target_sheet)
    if target is None:
        return None
    index = indexes.setdefault(target_sheet, _index(target, rule["via"]))
    via = row.get(rule["via"])
    if rule.get("separator") is None:
        linked = index.get(via)
        if linked is None:
            return None  # an unknown key is the references rule's problem
        return linked.get(target_column), f"{target_column} of {rule['via']} {via} ({target.path.name})"
    keys = _split(via, rule["separator"])
    if not keys or any(key not in index for key in keys):
        return None
    values = [index[key].get(target_column) for key in keys]
    if not all(known(value) for value in values):
        return None
    return sum(values), f"the sum of {target_column} over {rule['via']} {via} ({target.path.name})"


def at_most(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """Each of ``columns`` is at most ``bound``: a column of the row, or of the row(s) ``via`` links to."""
    indexes: dict[str, dict[Any, Row]] = {}
    for row, number in _rows(sheet):
        found = _bound(row, rule, others, indexes)
        if found is None or not known(found[0]):
            continue
        limit, named = found
        for column in rule["columns"]:
            value = row.get(column)
            if known(value) and value > limit:
                yield Problem(str(sheet.path), number, column, str(value),
                              f"{column} ({value}) must not exceed {named} ({limit})")


def sum_at_most(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """The columns together are at most ``bound`` (males + females <= patients)."""
    columns, bound = rule["columns"], rule["bound"]
    for row, number in _rows(sheet):
        values = [row.get(column) for column in columns]
        if known(row.get(bound)) and all(known(value) for value in values) and sum(values) > row[bound]:
            yield Problem(str(sheet.path), number, columns[0], str(values[0]),
                          f"{' + '.join(columns)} ({' + '.join(map(str, values))}) must not exceed"
                          f" {bound} ({row[bound]})")


def ordered(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """The first column is at most the last, and the columns between lie inside that range."""
    columns = rule["columns"]
    first, last = columns[0], columns[-1]
    for row, number in _rows(sheet):
        low, high = row.get(first), row.get(last)
        if known(low) and known(high) and low > high:
            yield Problem(str(sheet.path), number, first, str(low), f"{first} must not exceed {last} ({high})")
            continue
        for middle in columns[1:-1]:
            value = row.get(middle)
            if known(value) and known(low) and known(high) and not low <= value <= high:
                yield Problem(str(sheet.path), number, middle, str(value),
                              f"{middle} must lie inside its range [{low}, {high}]")


def _holds(cell: Any, expected: Any) -> bool | None:
    """Whether a cell meets a condition of ``implies``; None when a missing value leaves it open."""
    if expected == "known":
        return known(cell)
    if expected == "not NA":
        return cell != NOT_AVAILABLE
    if cell == NOT_AVAILABLE or (known(expected) and not known(cell)):
        return None  # missing, or not a number where one is expected (the schema's problem): nothing to judge
    return cell == expected


def implies(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """Where every ``when`` condition holds, every ``then`` condition must (a missing value is not a breach)."""
    when, then = rule["when"], rule["then"]
    for row, number in _rows(sheet):
        if not all(_holds(row.get(column), expected) for column, expected in when.items()):
            continue
        for column, expected in then.items():
            if _holds(row.get(column), expected) is False:
                named = rule.get("column", column)
                message = rule.get("message") or f"{column} must be {expected} where " + ", ".join(
                    f"{c} is {e}" for c, e in when.items())
                yield Problem(str(sheet.path), number, named, str(row.get(named)), message)


def covers(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """Every key of ``target`` has at least one row here (every study has a row in a per-group sheet)."""
    target_sheet, target_column = _column_of(rule["target"])
    target = others.get(target_sheet)
    if target is None or not sheet.complete:
        return
    present = {row.get(rule["column"]) for row in sheet.rows}
    for row in target.rows:
        key = row.get(target_column)
        if key not in present:
            yield Problem(str(sheet.path), None, rule["column"], str(key),
                          f"{target_column} {key} of {target.path.name} has no row here: every one needs at least one")


def group_sum(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """The rows sharing a ``by`` key sum to the value ``equals`` names for that key."""
    target_sheet, target_column = _column_of(rule["equals"])
    target = others.get(target_sheet) if target_sheet != sheet.name else sheet
    if target is None or not sheet.complete:
        return
    by, column = rule["by"], rule["column"]
    members: dict[Any, list[tuple[Row, int]]] = {}
    for row, number in _rows(sheet):
        members.setdefault(row.get(by), []).append((row, number))
    for key, linked in _index(target, by).items():
        rows = members.get(key, [])
        values = [row.get(column) for row, _ in rows]
        expected = linked.get(target_column)
        if rows and known(expected) and all(known(value) for value in values) and sum(values) != expected:
            yield Problem(str(sheet.path), rows[0][1], column, "+".join(map(str, values)),
                          f"the rows with {by} {key} sum to {sum(values)} {column},"
                          f" {target.path.name} says {expected}")


def citation(sheet: Sheet, rule: Mapping[str, Any], others: Mapping[str, Sheet | None],
             bib_keys: frozenset[str] | None = None, bib_path: Path | None = None) -> Iterable[Problem]:
    """Every key in ``column`` is a key of the bibliography."""
    if bib_keys is None:
        return
    for row, number in _rows(sheet):
        key = row.get(rule["column"])
        if isinstance(key, str) and key != NOT_AVAILABLE and key not in bib_keys:
            where = shown_path(str(bib_path)) if bib_path else "the bibliography"
            yield Problem(str(sheet.path), number, rule["column"], key, f"unknown reference key: not in {where}")


CHECKS: Mapping[str, Check] = {
    "references": references,
    "at_most": at_most,
    "sum_at_most": sum_at_most,
    "ordered": ordered,
    "implies": implies,
    "covers": covers,
    "group_sum": group_sum,
}


def primary_key_problems(sheet: Sheet, key_columns: list[str]) -> list[Problem]:
    """A key (the schema's ``x-primary-key``) used by two rows."""
    seen: dict[tuple[Any, ...], int] = {}
    problems = []
    for row, number in _rows(sheet):
        key = tuple(row.get(column) for column in key_columns)
        if key in seen:
            problems.append(Problem(str(sheet.path), number, key_columns[0], "/".join(map(str, key)),
                                    f"duplicate {'+'.join(key_columns)}: already used in row {seen[key]}"))
        else:
            seen[key] = number
    return problems
