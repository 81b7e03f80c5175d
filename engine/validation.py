"""Validation of a review's sheets: each against its schema, then the rules its manifest declares.

``validate_all`` is the build's gate (the Snakefile's onstart): every problem of every sheet, the PRISMA
counts and the manifest itself, in one summary before any job runs. ``validate_sheet`` checks one sheet
(the validate_sheet jobs, which also write the typed copy the other rules read).

An optional sheet (``optional: true`` in the manifest) may be missing or hold only its header: it then
validates as a sheet without rows. A required sheet must exist and hold records.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine import rules as rule_checks
from engine.manifest import ManifestError, Review, load_review
from engine.sheets import (
    Problem,
    Sheet,
    bib_keys_or_problem,
    format_problems,
    load_schema,
    problem_sort_key,
    read_sheet,
    write_validated,
)

SheetReader = Callable[[str], tuple[Sheet | None, list[Problem]]]


def sheet_reader(review: Review) -> SheetReader:
    """Reads a declared sheet with its schema; an optional sheet that is missing or empty reads as no rows."""

    def read(name: str) -> tuple[Sheet | None, list[Problem]]:
        spec = review.sheet(name)
        schema = load_schema(spec.schema)
        if spec.optional and (not spec.csv.exists() or _header_only(spec.csv)):
            columns = tuple(schema["properties"])
            return Sheet(name, spec.csv, columns, (), ()), []
        return read_sheet(name, spec.csv, schema)

    return read


def _header_only(path: Path) -> bool:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return len(lines) <= 1


def _usable(other: Sheet | None) -> Sheet | None:
    """A sheet that cross-sheet rules may rely on: readable, every row read (its own problems say why not)."""
    return other if other is not None and other.complete else None


def validate_sheet(review: Review, sheet: str, read: SheetReader | None = None) -> tuple[Sheet | None, list[Problem]]:
    """Every problem of one sheet: schema, keys, and the manifest's rules for it.

    ``read`` reads this sheet and those its rules read (default: :func:`sheet_reader`); validate_all passes
    one that reads each sheet once.
    """
    read = read or sheet_reader(review)
    parsed, problems = read(sheet)
    if parsed is None:
        return None, problems
    schema = load_schema(review.sheet(sheet).schema)
    problems = [*problems, *rule_checks.primary_key_problems(parsed, schema.get("x-primary-key", []))]
    others: dict[str, Sheet | None] = {name: _usable(read(name)[0]) for name in review.dependencies(sheet)}
    others[sheet] = parsed
    for rule in review.rules_of(sheet):
        problems += _check(review, rule, parsed, others)
    return parsed, sorted(set(problems), key=problem_sort_key)


def _check(review: Review, rule: Mapping[str, Any], sheet: Sheet, others: Mapping[str, Sheet | None]) -> list[Problem]:
    if rule["check"] == "citation":
        if review.bibliography is None:
            return []
        keys, problems = bib_keys_or_problem(review.bibliography)
        return problems + list(rule_checks.citation(sheet, rule, others, keys, review.bibliography))
    if rule["check"] == "plugin":
        return list(review.plugin(rule["function"])(sheet, others))
    return list(rule_checks.CHECKS[rule["check"]](sheet, rule, others))


def validate_all(review: Review) -> list[Problem]:
    """Every problem in every sheet, the PRISMA sheet included, for the single summary message."""
    from engine.prisma import find_problems

    # Each sheet is read once, though the rules of several others read it too.
    read = functools.cache(sheet_reader(review))
    problems: list[Problem] = []
    for sheet in review.sheet_names:
        problems += validate_sheet(review, sheet, read)[1]
    if review.prisma is not None:
        problems += find_problems(review.prisma)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    from engine.sheets import codebook_markdown

    parser = argparse.ArgumentParser(description="Validate a review's sheets against their schemas and rules.")
    parser.add_argument("--manifest", type=Path, default=Path("config/review.yaml"))
    parser.add_argument("--raw-dir", type=Path, help="the sheets' folder (default data/raw beside the manifest)")
    parser.add_argument("--bib", type=Path, help="the bibliography citation rules check keys against")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("validate", help="validate one sheet and write its typed copy")
    one.add_argument("--sheet", required=True)
    one.add_argument("--out", type=Path, required=True)
    commands.add_parser("check", help="validate every sheet and print one summary")
    commands.add_parser("codebook", help="print the codebook (Markdown)")
    args = parser.parse_args(argv)
    try:
        review = load_review(args.manifest, args.raw_dir, args.bib)
    except ManifestError as error:
        print(error, file=sys.stderr)
        return 1
    if args.command == "codebook":
        sys.stdout.write(codebook_markdown(review))
        return 0
    if args.command == "check":
        problems = validate_all(review)
        prisma = " and prisma.csv" if review.prisma else ""
        print(format_problems(problems) if problems else f"All {len(review.sheets)} sheets{prisma} are valid.",
              file=sys.stderr if problems else sys.stdout)
        return 1 if problems else 0
    if args.sheet not in review.sheet_names:
        parser.error(f"unknown sheet {args.sheet!r}: the manifest declares {', '.join(review.sheet_names)}")
    parsed, problems = validate_sheet(review, args.sheet)
    if problems or parsed is None:
        print(format_problems(problems), file=sys.stderr)
        return 1
    write_validated(parsed, args.out, review.sheet(args.sheet).schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
