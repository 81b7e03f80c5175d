"""The published-claims ledger: each number the published review quotes, set beside what its data give.

The review's claims file (``claims:`` in its manifest, e.g. ``data/published/claims.csv``) lists the
numbers the published review prints (abstract, methods, results, discussion, table notes), one row per
number as printed, with the registry key (``results/values.yml``) that recomputes it, if any. A review
decides what it lists; a rebuild may, for example, also set the review's cells for one study
beside that study's primary report.

Columns: ``claim_id`` (stable slug), ``section`` ("Abstract", "Results: <subsection>", "Table 3", ...),
``context`` (a few words of the review around the number, enough to find it), ``published`` (the number
exactly as printed), ``registry_key`` (empty if none), ``expected_class`` and ``reason`` (required unless
the claim is expected to reproduce).

Each claim falls in one class. A number:

* ``reproduced``: it has a registry key whose value is recomputed from the sheets, and the registry's display
  equals the printed text after :func:`normalise`;
* ``transcribed``: its registry key only carries a count transcribed into the sheets as printed (a PRISMA
  count, an aggregate count): equal by construction, so it is not evidence that anything reproduces;
* ``differs``: it has a registry key, and the display is not the printed text;
* ``not_derivable``: no registry key, because the number is a fact of the literature (another review, one
  study's report), a rule the review sets itself (a bound of its own grouping), or something its data do not
  determine.

A comparative or concluding sentence (``published`` then quotes its words) is judged against the registry
values it rests on (``registry_key``: one or more keys separated by ";"), whose displays the ledger shows:

* ``supported``: those values bear it out;
* ``contradicted``: they do not;
* ``not_derivable`` (no key): nothing in the sheets can decide it.

The judgement is the file's (``expected_class``), with its reason; the ledger checks that every key exists and
shows the values. Every class but ``reproduced`` carries its reason in the file.

The file also states the class each claim is expected to fall in; tests/review/test_ledger.py fails when a claim
leaves it, and the build only warns.

Normalisation (applied to both sides alike, nothing else is tolerated):

1. lower case, runs of white space as one space;
2. number words as digits: "Eighty" -> "80", "Twenty-three" -> "23", "eighty percent" -> "80%";
3. ranges with an en dash: "1 to 2.1", "1-2.1", "4- to 6" -> "1–2.1", "4–6";
4. a raised decimal point as a point ("4·24" -> "4.24"), and no thousands separator ("2,610" -> "2610");
5. trailing decimal zeros dropped: "95.00%" -> "95%". There is no rounding: a rounded "46.6" does not
   equal "46.64", so a recomputed value reproduces a printed one only to the digits the review prints;
6. a list ("fever, nausea"; items separated by ", " or "; ") is compared as the set of its items.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from engine import atomic
from engine.tables import Column, TableSpec, include_file
from engine.values import Value, count, read_displays

ClaimClass = Literal["reproduced", "transcribed", "differs", "not_derivable", "supported", "contradicted"]
CLASSES: tuple[ClaimClass, ...] = ("reproduced", "transcribed", "differs", "not_derivable", "supported",
                                   "contradicted")
# Classes of a sentence: judged against the values it rests on, not compared as a number.
JUDGED: tuple[ClaimClass, ...] = ("supported", "contradicted")
KEY_SEPARATOR = ";"
COLUMNS = ("claim_id", "section", "context", "published", "registry_key", "expected_class", "reason")
MADE_BY = "rule values (engine/ledger.py)"
NO_VALUE = "\u2014"  # em dash: the recomputed cell of a claim without a registry key

_SLUG = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORD = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:-({'|'.join(_UNITS[1:10])}))?|({'|'.join(_UNITS)}))\b")
_RANGE = re.compile(r"(\d)\s*(?:-\s*to|to|-|\u2013|\u2014)\s*(\d)")
_DECIMAL = re.compile(r"\d+\.\d+")
# Some journals (The Lancet) print the decimal point raised: "4·24" is 4.24.
_MIDDLE_DOT = re.compile(r"(?<=\d)\u00b7(?=\d)")
# A thousands separator ("2,610"); items of a list are separated by ", " with a space, which this leaves.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_LIST_SEPARATOR = re.compile(r"\s*;\s+|,\s+")


@dataclass(frozen=True)
class Claim:
    """One number as the published review prints it (a row of claims.csv)."""

    claim_id: str
    section: str
    context: str
    published: str
    registry_key: str  # "" when no registry value recomputes it; "a;b" for a sentence resting on several

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key.strip() for key in self.registry_key.split(KEY_SEPARATOR) if key.strip())
    expected_class: ClaimClass
    reason: str


@dataclass(frozen=True)
class ClassifiedClaim:
    """A claim with the registry's display (None without a key) and the class it falls in."""

    claim: Claim
    recomputed: str | None
    found_class: ClaimClass

    @property
    def as_expected(self) -> bool:
        return self.found_class == self.claim.expected_class


def _number_word(match: re.Match[str]) -> str:
    tens, unit, single = match.groups()
    if single:
        return str(_UNITS.index(single))
    return str(_TENS[tens] + (_UNITS.index(unit) if unit else 0))


def _canonical_decimal(match: re.Match[str]) -> str:
    return match.group(0).rstrip("0").rstrip(".")


def normalise(text: str) -> str:
    """The form in which a printed number and a registry display are compared (see the module docstring)."""
    value = " ".join(text.lower().split())
    value = _MIDDLE_DOT.sub(".", value)
    value = _THOUSANDS.sub("", value)
    value = _NUMBER_WORD.sub(_number_word, value)
    value = re.sub(r"(\d) ?percent\b", r"\1%", value)
    value = _RANGE.sub("\\1\u2013\\2", value)
    value = _DECIMAL.sub(_canonical_decimal, value)
    items = _LIST_SEPARATOR.split(value)
    return "; ".join(sorted(set(items))) if len(items) > 1 else value


def load_claims(path: Path) -> list[Claim]:
    """The claims of a claims.csv, in file order; every malformed row is reported at once (ValueError)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: the header must be {','.join(COLUMNS)}")
        rows = list(reader)
    problems, claims, seen = [], [], set()
    for number, row in enumerate(rows, start=2):
        where = f"{path}, row {number}"
        if not _SLUG.match(row["claim_id"]):
            problems.append(f"{where}: claim_id {row['claim_id']!r} must be a lower-case slug")
        if row["claim_id"] in seen:
            problems.append(f"{where}: claim_id {row['claim_id']!r} is used twice")
        seen.add(row["claim_id"])
        if row["expected_class"] not in CLASSES:
            problems.append(f"{where}: expected_class must be one of {', '.join(CLASSES)}")
        elif (row["expected_class"] == "not_derivable") != (row["registry_key"] == ""):
            problems.append(f"{where}: a registry_key is needed for every class but not_derivable, and none for it")
        elif KEY_SEPARATOR in row["registry_key"] and row["expected_class"] not in JUDGED:
            problems.append(f"{where}: several registry keys only for a sentence judged supported or contradicted")
        if row["expected_class"] != "reproduced" and not row["reason"].strip():
            problems.append(f"{where}: every class but reproduced needs its reason")
        for column in ("section", "context", "published"):
            if not row[column].strip():
                problems.append(f"{where}: {column} is empty")
        claims.append(Claim(**{column: row[column] for column in COLUMNS}))  # type: ignore[arg-type]
    if problems:
        raise ValueError("\n".join(problems))
    return claims


def classify(claims: Sequence[Claim], displays: Mapping[str, str]) -> list[ClassifiedClaim]:
    """Each claim's class against the registry displays; a registry key that does not exist is an error."""
    missing = sorted({key for c in claims for key in c.keys if key not in displays})
    if missing:
        raise ValueError(f"claims name registry keys that do not exist: {', '.join(missing)}")
    classified = []
    for claim in claims:
        if not claim.registry_key:
            classified.append(ClassifiedClaim(claim, None, "not_derivable"))
            continue
        if claim.expected_class in JUDGED:
            shown = "; ".join(f"{displays[key]} ({key})" for key in claim.keys)
            classified.append(ClassifiedClaim(claim, shown, claim.expected_class))
            continue
        display = displays[claim.registry_key]
        same = normalise(display) == normalise(claim.published)
        agreeing: ClaimClass = "transcribed" if claim.expected_class == "transcribed" else "reproduced"
        classified.append(ClassifiedClaim(claim, display, agreeing if same else "differs"))
    return classified


def ledger_counts(classified: Sequence[ClassifiedClaim]) -> dict[str, int]:
    """Claims per class, every class present, and the total."""
    counts = {name: sum(c.found_class == name for c in classified) for name in CLASSES}
    return {**counts, "total": len(classified)}


def ledger_values(classified: Sequence[ClassifiedClaim]) -> list[Value]:
    """The ledger's counts as registry entries, so the manuscript can quote them."""
    counts = ledger_counts(classified)
    descriptions = {
        "reproduced": "Published numbers the rebuilt data reproduce",
        "transcribed": "Published numbers the sheets carry as printed (equal by construction, not recomputed)",
        "differs": "Published numbers the rebuilt data do not reproduce",
        "not_derivable": "Published numbers or sentences nothing in the data can decide (literature facts, definitions)",
        "supported": "Published comparative or concluding sentences the registry values bear out",
        "contradicted": "Published comparative or concluding sentences the registry values do not bear out",
        "total": "Published numbers in the ledger (data/published/claims.csv)",
    }
    return [replace(count(f"ledger_{name}", counts[name], descriptions[name]), made_by=MADE_BY)
            for name in (*CLASSES, "total")]


def ledger_table(classified: Sequence[ClassifiedClaim]) -> TableSpec:
    """The appendix table: every claim, its recomputed value and its class, in the order of claims.csv."""
    rows = tuple(
        {"section": c.claim.section, "context": c.claim.context, "published": c.claim.published,
         "recomputed": NO_VALUE if c.recomputed is None else c.recomputed,
         "class": c.found_class.replace("_", " "), "reason": c.claim.reason}
        for c in classified
    )
    return TableSpec(
        name="ledger",
        columns=(Column("section", "Section", width="0.9fr"), Column("context", "Context", width="1.3fr"),
                 Column("published", "Published", width="0.8fr"), Column("recomputed", "Recomputed", width="0.8fr"),
                 Column("class", "Class", width="auto"), Column("reason", "Reason", width="2.4fr")),
        rows=rows,
        notes=("Published: the number as the review prints it; recomputed: the registry value that rebuilds it "
               f"({NO_VALUE}: none). Compared after normalisation: case, number words (\u2018Eighty\u2019 = 80), "
               "range dashes, trailing decimal zeros and the order of list items are ignored; nothing is rounded.",
               "Reproduced: the data give the printed number; transcribed: the sheets carry it as printed, so "
               "nothing recomputes it; differs: the data give another; not derivable: a fact of the literature, "
               "a definition, or something the review's data do not determine; supported / contradicted: a "
               "sentence of the review judged against the registry values shown."),
        sources=("claims",),
        source_dir="data/published",
        generator="engine/ledger.py",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the published-claims ledger as a Quarto include.")
    parser.add_argument("--claims", type=Path, required=True, help="data/published/claims.csv")
    parser.add_argument("--registry", type=Path, required=True, help="results/values.yml")
    parser.add_argument("--out", type=Path, required=True, help="results/tables/ledger.md")
    args = parser.parse_args(argv)
    classified = classify(load_claims(args.claims), read_displays(args.registry))
    for c in classified:
        if not c.as_expected:
            print(f"ledger: {c.claim.claim_id} is {c.found_class}, claims.csv expects {c.claim.expected_class}"
                  f" (published {c.claim.published!r}, recomputed {c.recomputed!r})", file=sys.stderr)
    atomic.write_text(args.out, include_file(ledger_table(classified)))
    counts = ledger_counts(classified)
    print("ledger: " + ", ".join(f"{counts[name]} {name}" for name in (*CLASSES, "total")) + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
