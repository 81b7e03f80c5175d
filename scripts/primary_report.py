"""Plug-in of this review for the registry: study 14 (Scarpone 2020) as its primary report gives it.

The optional sheet data/raw/primary_scarpone2020.csv transcribes the primary report of the review's study
14 patient by patient; these values write it the way the review's Table 2 cells are written, so that the
ledger and tests/review/test_source_verification.py can set the two side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import TYPE_CHECKING

from engine.numbers import decimal
from engine.values import Absent, Entry, Value, count, text_value
from scripts import dosing

if TYPE_CHECKING:
    import pandas

PRIMARY_STUDY_ID = 14  # the study whose primary report the sheet transcribes
PRIMARY_SHEET = "primary_scarpone2020"
# The keys quoted from the sheet: absent, with the reason, when it holds no rows.
PRIMARY_KEYS = ("primary14_patients", "primary14_age_text", "primary14_sex", "primary14_dosage_text",
                "primary14_cycles_text", "primary14_responders", "primary14_recurrences",
                "primary14_recurrence_text", "primary14_adverse_events", "primary14_combination",
                "primary14_previous_treatments", "recurrence_patients_with_primary")


def _items(cell: str) -> list[str]:
    """The items of a "; "-separated list cell; "NA" is none."""
    return [] if cell == "NA" else [item.strip() for item in cell.split(";")]


def _patients(n: int) -> str:
    return f"{n} patient{'' if n == 1 else 's'}"


def recurrence_cell(relapsed: int, relapse_free: int) -> str:
    """Recurrence in the words of the review's Table 2: "1 patient relapsed; 1 patient NR"."""
    parts = [f"{_patients(relapsed)} relapsed"] if relapsed else []
    return "; ".join(parts + ([f"{_patients(relapse_free)} NR"] if relapse_free else []))


def primary_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Study 14 as its primary report gives it, written like the review's cells so the two can be compared."""
    import pandas

    primary, outcomes = sheets[PRIMARY_SHEET], sheets["outcomes"]
    if primary.empty:
        return [Absent(key, f"{PRIMARY_SHEET}.csv holds no rows", f"Study {PRIMARY_STUDY_ID}'s primary report")
                for key in PRIMARY_KEYS]
    facts = {(int(row["patient"]), row["field"]): str(row["value"]) for row in primary.to_dict("records")}
    patients = sorted({patient for patient, _ in facts})

    def column(field: str) -> list[str]:
        return [facts[(patient, field)] for patient in patients]

    def union(field: str) -> str:
        return ", ".join(dict.fromkeys(item for cell in column(field) for item in _items(cell)))

    ages = [float(age) for age in column("age_at_first_ivig")]
    cycles = [float(n) for n in column("cycles")]
    doses = [float(dose) for dose in column("dose_g_kg_per_cycle")]
    relapsed, relapse_free = column("recurrence").count("yes"), column("recurrence").count("no")
    cycles_by_class: dict[str, list[str]] = {}
    for dose, n in zip(doses, cycles):
        cycles_by_class.setdefault(dosing.per_cycle_class((dose, dose)), []).append(decimal(n))
    # The primary report's relapses count only where Table 2 leaves the study's count unstated.
    unstated = pandas.isna(outcomes.set_index("study_id").loc[PRIMARY_STUDY_ID, "recurrences"])
    adverse = union("adverse_events")
    regimens = "; ".join(f"{decimal(dose)} g/kg over {days} days"
                         for dose, days in sorted(zip(doses, column("days_per_cycle"))))
    source = f"primary report of study {PRIMARY_STUDY_ID}"
    return [
        count("primary14_patients", len(patients), f"Patients ({source})"),
        text_value("primary14_age_text",
                   f"{decimal(statistics.mean(ages))} [{dosing.format_range((min(ages), max(ages)))}]",
                   f"Mean [range] of the ages at the first IVIG dose ({source})"),
        text_value("primary14_sex", f"{column('sex').count('male')}/{column('sex').count('female')}",
                   f"Males/females ({source})"),
        text_value("primary14_dosage_text", regimens, f"Dose per cycle over its infusion days ({source})"),
        text_value("primary14_cycles_text",
                   f"Median {decimal(statistics.median(cycles))} ({dosing.format_range((min(cycles), max(cycles)))})"
                   " cycles", f"IVIG cycles, median (range) ({source})"),
        *(text_value(f"primary14_cycles_{dose_class}", f"{'; '.join(found)} cycles",
                     f"IVIG cycles of the {dose_class}-dose patient ({source})")
          for dose_class, found in sorted(cycles_by_class.items())),
        count("primary14_responders", column("outcome").count("responded"), f"Patients who responded ({source})"),
        count("primary14_recurrences", relapsed, f"Patients whose disease recurred ({source})"),
        text_value("primary14_recurrence_text", recurrence_cell(relapsed, relapse_free),
                   f"Recurrence in the words of Table 2 ({source})"),
        text_value("primary14_adverse_events", adverse[:1].upper() + adverse[1:], f"Adverse events ({source})"),
        text_value("primary14_combination", union("combination_treatment"), f"Combination treatment ({source})"),
        text_value("primary14_previous_treatments", union("previous_treatments"), f"Previous treatments ({source})"),
        count("recurrence_patients_with_primary", int(outcomes["recurrences"].sum()) + (relapsed if unstated else 0),
              f"Patients with a recurrence: Table 2 counts plus the relapses the {source} gives"),
    ]
