"""The review's extraction of study 14 (Scarpone 2020) against the study's primary report.

data/raw/primary_scarpone2020.csv transcribes what the primary report says of its two livedoid vasculopathy
patients; the review's cells for the study are rows 14 of studies.csv and outcomes.csv and the groups
14-high and 14-low of dose_groups.csv and regimens.csv. Both are read here with the csv module, not through
the pipeline. Every disagreement found must be a "differs" claim of the ledger (data/published/claims.csv,
sections "Table N (vs primary report)"), and the ledger may list no disagreement this test does not find.
"""

from __future__ import annotations

import csv
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RAW, REPO

SOURCE = (Path(__file__).resolve().parents[3] / "shared" / "sources"
          / "study-scarpone-2020-ivig-32-immune-dermatoses.txt")
# Table 1 of the review spells the comorbidity "Polynuropathy" (the study note of studies.csv says so).
SPELLING = {"polynuropathy": "polyneuropathy"}


def rows(sheet: str) -> list[dict[str, str]]:
    with open(RAW / f"{sheet}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def items(cell: str, separator: str) -> set[str]:
    """A list cell as a set of lower-case items; "NA" is the empty set."""
    found = {item.strip().lower() for item in cell.split(separator)}
    return set() if cell == "NA" else {SPELLING.get(item, item) for item in found}


@pytest.fixture(scope="module")
def facts() -> dict[tuple[int, str], str]:
    return {(int(r["patient"]), r["field"]): r["value"] for r in rows("primary_scarpone2020")}


@pytest.fixture(scope="module")
def review() -> dict[str, dict[str, str]]:
    """The review's rows for study 14, by sheet (dose groups and regimens by group)."""
    found = {
        "studies": next(r for r in rows("studies") if r["study_id"] == "14"),
        "outcomes": next(r for r in rows("outcomes") if r["study_id"] == "14"),
    }
    for group in ("high", "low"):
        found[f"dose_groups/{group}"] = next(r for r in rows("dose_groups") if r["group_id"] == f"14-{group}")
        found[f"regimens/{group}"] = next(r for r in rows("regimens") if r["group_id"] == f"14-{group}")
    return found


# --- the primary report's facts, by hand --------------------------------------------------------------


def test_the_primary_facts_as_the_report_gives_them(facts: dict[tuple[int, str], str]) -> None:
    # The first patient described: 39 at her first dose, 1 g/kg over 2 days; the second: 28, 6 doses of 2 g/kg
    # over 2 days. Both women, both responded; the first deteriorated when her intervals were stretched.
    assert (facts[1, "age_at_first_ivig"], facts[2, "age_at_first_ivig"]) == ("39", "28")
    assert (facts[1, "sex"], facts[2, "sex"]) == ("female", "female")
    assert (facts[1, "dose_g_kg_per_cycle"], facts[2, "dose_g_kg_per_cycle"]) == ("1", "2")
    assert (facts[1, "days_per_cycle"], facts[2, "days_per_cycle"]) == ("2", "2")
    assert (facts[1, "outcome"], facts[2, "outcome"]) == ("responded", "responded")
    assert (facts[1, "recurrence"], facts[2, "recurrence"]) == ("yes", "no")
    assert items(facts[1, "adverse_events"], ";") | items(facts[2, "adverse_events"], ";") == {"headache", "nausea"}


def test_the_derived_cycles_agree_with_table_ii(facts: dict[tuple[int, str], str]) -> None:
    # Table II, livedoid vasculopathy (n = 2): cycles 25 (6-44), cumulative dose 28 (12-44) g/kg.
    cycles = [int(facts[p, "cycles"]) for p in (1, 2)]
    cumulative = [float(facts[p, "cumulative_dose_g_kg"]) for p in (1, 2)]
    assert cycles == [44, 6] and (statistics.median(cycles), min(cycles), max(cycles)) == (25, 6, 44)
    assert (statistics.median(cumulative), min(cumulative), max(cumulative)) == (28, 12, 44)
    for patient in (1, 2):  # cumulative dose = cycles x dose per cycle: 44 x 1 and 6 x 2
        assert cumulative[patient - 1] == cycles[patient - 1] * float(facts[patient, "dose_g_kg_per_cycle"])


def test_every_quote_is_in_the_primary_report() -> None:
    if not SOURCE.exists():
        pytest.skip(f"source text not available: {SOURCE}")
    text = " ".join(re.sub(r"-\n\s*", "", SOURCE.read_text(encoding="utf-8")).split())
    for row in rows("primary_scarpone2020"):
        if row["quote"] == "NA":
            continue
        position = 0
        for part in row["quote"].split("[...]"):
            found = text.find(part.strip(), position)
            assert found >= 0, f"patient {row['patient']}, {row['field']}: {part.strip()!r} is not in the report"
            position = found + len(part.strip())


# --- the review against the report --------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One fact of study 14: the review's cell as printed, what it means, and what the report gives."""

    claim_id: str  # the ledger row that must exist when the two disagree
    printed: str
    review: object
    primary: object

    @property
    def agrees(self) -> bool:
        return self.review == self.primary


def _regimen(dose: str, days: str) -> str:
    return f"{dose} g/kg over {days} days"


def comparisons(facts: dict[tuple[int, str], str], review: dict[str, dict[str, str]]) -> list[Comparison]:
    """Every fact of study 14 that the review's sheets and the primary report both give."""
    study, outcome = review["studies"], review["outcomes"]
    patients = sorted({p for p, _ in facts})

    def union(field: str) -> set[str]:
        return set().union(*(items(facts[p, field], ";") for p in patients))

    ages = [float(facts[p, "age_at_first_ivig"]) for p in patients]
    cycles = [int(facts[p, "cycles"]) for p in patients]
    relapsed = sum(facts[p, "recurrence"] == "yes" for p in patients)
    relapse_free = sum(facts[p, "recurrence"] == "no" for p in patients)
    stated_free = re.fullmatch(r"(\d+) patients? NR", outcome["recurrence_text"])
    # The review's groups: high 2-2.1, low 1-1.5 g/kg per cycle.
    group_of = {p: "high" if 2 <= float(facts[p, "dose_g_kg_per_cycle"]) <= 2.1 else "low" for p in patients}
    found = [
        Comparison("primary_table1_patients", study["patients"], int(study["patients"]), len(patients)),
        Comparison("primary_table1_age", study["age_text"], study["age_text"],
                   f"{sum(ages) / len(ages):g} [{min(ages):g}\u2013{max(ages):g}]"),
        Comparison("primary_table1_sex", f"{study['males']}/{study['females']}",
                   (int(study["males"]), int(study["females"])),
                   tuple(sum(facts[p, "sex"] == sex for p in patients) for sex in ("male", "female"))),
        Comparison("primary_table1_comorbidity", study["comorbidities_text"], items(study["comorbidities_text"], ";"),
                   union("comorbidity")),
        # The second patient's anticoagulant is not named; LMWH in the review's list covers it.
        Comparison("primary_table1_previous_treatments", study["previous_treatments_text"],
                   items(study["previous_treatments_text"], ","), union("previous_treatments") - {"anticoagulant"}),
        Comparison("primary_table2_dosage", outcome["dosage_text"], items(outcome["dosage_text"], ";"),
                   {_regimen(facts[p, "dose_g_kg_per_cycle"], facts[p, "days_per_cycle"]) for p in patients}),
        Comparison("primary_table2_first_interval", outcome["frequency_text"],
                   {outcome["frequency_text"].split(" and ")[0]},
                   {facts[p, "interval_text"].split(";")[0].removesuffix(" at first") for p in patients}),
        Comparison("primary_table2_duration", outcome["duration_text"], outcome["duration_text"],
                   f"Median {statistics.median(cycles):g} ({min(cycles)}\u2013{max(cycles)}) cycles"),
        Comparison("primary_table2_responders", outcome["responders"], int(outcome["responders"]),
                   sum(facts[p, "outcome"] == "responded" for p in patients)),
        # Table 2 gives a relapse count ("recurrences") and a relapse-free count only where it states them.
        Comparison("primary_table2_recurrence", outcome["recurrence_text"],
                   (None if outcome["recurrences"] == "NA" else int(outcome["recurrences"]),
                    int(stated_free.group(1)) if stated_free else None),
                   (relapsed, relapse_free)),
        Comparison("primary_table2_combination", outcome["combination_text"], items(outcome["combination_text"], ","),
                   union("combination_treatment")),
        Comparison("primary_table2_adverse_events", outcome["adverse_events_text"],
                   items(outcome["adverse_events_text"], ","), union("adverse_events")),
    ]
    for group in ("high", "low"):
        members = [p for p in patients if group_of[p] == group]
        row, regimen = review[f"dose_groups/{group}"], review[f"regimens/{group}"]
        found += [
            Comparison(f"primary_table4_{group}_patients", row["patients"], int(row["patients"]), len(members)),
            Comparison(f"primary_table4_{group}_regimen", row["regimen_text"], row["regimen_text"],
                       "; ".join(_regimen(facts[p, "dose_g_kg_per_cycle"], facts[p, "days_per_cycle"])
                                 for p in members)),
            Comparison(f"primary_regimens_{group}_dose", regimen["regimen_text"],
                       [(float(regimen["dose_g_kg"]), regimen["dose_basis"], regimen["days_min"], regimen["days_max"])],
                       [(float(facts[p, "dose_g_kg_per_cycle"]), "per_cycle", facts[p, "days_per_cycle"],
                         facts[p, "days_per_cycle"]) for p in members]),
            Comparison(f"primary_table4_{group}_duration", row["duration_text"], row["duration_text"],
                       "; ".join(f"{facts[p, 'cycles']} cycles" for p in members)),
            Comparison(f"primary_table4_{group}_responders", row["responders"], int(row["responders"]),
                       sum(facts[p, "outcome"] == "responded" for p in members)),
            Comparison(f"primary_table4_{group}_adverse_events", row["adverse_events_text"],
                       items(row["adverse_events_text"], ","),
                       set().union(*(items(facts[p, "adverse_events"], ";") for p in members))),
        ]
    return found


@pytest.fixture(scope="module")
def found(facts: dict[tuple[int, str], str], review: dict[str, dict[str, str]]) -> list[Comparison]:
    return comparisons(facts, review)


# What the brief of the check names, written out by hand: these must agree.
AGREEMENTS = {
    "primary_table1_age": "33.5 [28\u201339]",  # ages 28 and 39
    "primary_table1_sex": "0/2",
    "primary_table2_dosage": "1 g/kg over 2 days; 2 g/kg over 2 days",
    "primary_table2_duration": "Median 25 (6\u201344) cycles",
    "primary_table2_adverse_events": "Headache, nausea",
    "primary_table2_responders": "2",
    "primary_table4_high_regimen": "2 g/kg over 2 days",
    "primary_table4_low_regimen": "1 g/kg over 2 days",
}


@pytest.mark.parametrize("claim_id", sorted(AGREEMENTS))
def test_the_review_agrees_with_the_report(found: list[Comparison], claim_id: str) -> None:
    comparison = next(c for c in found if c.claim_id == claim_id)
    assert comparison.printed == AGREEMENTS[claim_id]
    assert comparison.agrees, f"review {comparison.review!r}, primary report {comparison.primary!r}"


def test_every_drug_the_review_lists_is_in_the_report(found: list[Comparison]) -> None:
    for claim_id in ("primary_table1_previous_treatments", "primary_table2_combination"):
        comparison = next(c for c in found if c.claim_id == claim_id)
        assert comparison.review <= comparison.primary, claim_id  # type: ignore[operator]


def ledger_disagreements() -> dict[str, dict[str, str]]:
    with open(REPO / "data" / "published" / "claims.csv", newline="", encoding="utf-8") as handle:
        return {r["claim_id"]: r for r in csv.DictReader(handle)
                if r["section"].endswith("(vs primary report)") and r["expected_class"] == "differs"}


def test_every_disagreement_is_in_the_ledger(found: list[Comparison]) -> None:
    disagreements = {c.claim_id: c for c in found if not c.agrees}
    ledger = ledger_disagreements()
    assert sorted(disagreements) == sorted(ledger), "a disagreement must be a 'differs' claim, and only a real one"
    for claim_id, comparison in disagreements.items():
        assert ledger[claim_id]["published"] == comparison.printed, claim_id
        assert ledger[claim_id]["section"].startswith(("Table 1 ", "Table 2 ", "Table 4 "))


def test_the_known_disagreements(found: list[Comparison]) -> None:
    """Written out by hand, so a comparison that silently stops comparing is caught."""
    disagreements = {c.claim_id: (c.review, c.primary) for c in found if not c.agrees}
    # Table 4 prints no duration for either Scarpone group; the report gives 6 and 44 cycles.
    assert disagreements["primary_table4_high_duration"] == ("NA", "6 cycles")
    assert disagreements["primary_table4_low_duration"] == ("NA", "44 cycles")
    # Table 2: "1 patient NR", no relapse count; the report: 1 relapsed (the first patient), 1 did not.
    assert disagreements["primary_table2_recurrence"] == ((None, 1), (1, 1))
    # Table 1 leaves out two drugs the report names for the first patient.
    review, primary = disagreements["primary_table1_previous_treatments"]
    assert primary - review == {"dipyridamole", "prazosin"}
    assert len(disagreements) == 4
