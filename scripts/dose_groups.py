"""Plug-ins of this review for its dose groups (Table 4: high 2-2.1 vs low 1-1.5 g/kg per cycle).

Named in config/review.yaml: the registry values the text quotes about the groups and their doses. The
arithmetic (and the daily-dose class the daily-dose subgroup analysis groups by) lives in
scripts/dosing.py; the validation rule of the group ids in scripts/dose_group_rules.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from engine.values import Absent, Entry, Value, count, share, text_value
from scripts import dosing

if TYPE_CHECKING:
    import pandas

def dose_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """High- vs low-dose groups (Table 4) and the daily-dose split within the high-dose group."""
    dose_groups, regimens = sheets["dose_groups"], sheets["regimens"]
    grouped = dose_groups[dose_groups["dose_group"] != "not_grouped"]
    high = grouped[grouped["dose_group"] == "high"]
    low = grouped[grouped["dose_group"] == "low"]
    total = int(grouped["patients"].sum())
    daily = high.assign(daily_class=high["group_id"].map(dosing.daily_dose_classes(regimens)))
    by_class = daily.groupby("daily_class")["patients"].sum()
    values: list[Entry] = [
        count("dose_grouped_patients", total, "Patients in Table 4's dose groups"),
        count("dose_not_grouped_patients", int(dose_groups["patients"].sum()) - total,
              "Patients left out of Table 4's dose groups"),
        count("dose_not_grouped_studies", int((dose_groups["dose_group"] == "not_grouped").sum()),
              "Studies left out of Table 4"),
        count("dose_high_patients", int(high["patients"].sum()), "Patients in the high-dose group"),
        count("dose_low_patients", int(low["patients"].sum()), "Patients in the low-dose group"),
        count("dose_high_studies", high["study_id"].nunique(), "Studies with patients in the high-dose group"),
        count("dose_low_studies", low["study_id"].nunique(), "Studies with patients in the low-dose group"),
        *share("dose_high", int(high["patients"].sum()), total, "High-dose share of grouped patients"),
        *share("dose_low", int(low["patients"].sum()), total, "Low-dose share of grouped patients"),
        count("daily_high_patients", int(by_class.get("high", 0)), "High-dose patients with a daily dose > 0.5 g/kg"),
        count("daily_conventional_patients", int(by_class.get("conventional", 0)),
              "High-dose patients with a daily dose of 0.4-0.5 g/kg"),
        count("daily_unclear_patients", int(by_class.get("unclear", 0)),
              "High-dose patients whose daily dose straddles 0.5 g/kg"),
        count("daily_unclear_studies", daily.loc[daily["daily_class"] == "unclear", "study_id"].nunique(),
              "High-dose studies whose daily dose straddles 0.5 g/kg"),
    ]
    for name, group in (("high", high), ("low", low)):
        known = group[group["responders"].notna()]
        values += [
            count(f"dose_{name}_responders", int(known["responders"].sum()), f"Responders, {name}-dose group"),
            *share(f"dose_{name}_response", int(known["responders"].sum()), int(known["patients"].sum()),
                   f"Crude response rate, {name}-dose group"),
        ]
    return values


def dose_span_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """The span of the doses per cycle in Table 4's groups, and the studies that give no dose at all."""
    dose_groups, regimens = sheets["dose_groups"], sheets["regimens"]
    grouped = dose_groups[dose_groups["dose_group"] != "not_grouped"]
    cycles = [dosing.per_cycle(dosing.regimen_from_row(row))
              for row in regimens[regimens["group_id"].isin(grouped["group_id"])].to_dict("records")]
    known = [c for c in cycles if c is not None]
    no_dose = regimens.groupby("group_id")["dose_g_kg"].apply(lambda doses: bool(doses.isna().all()))
    missing = dose_groups[dose_groups["group_id"].map(no_dose).fillna(False).astype(bool)]
    description = "Dose per cycle over the regimens of Table 4's groups, g/kg"
    span: Entry = (text_value("dose_per_cycle_range",
                              dosing.format_range((min(c[0] for c in known), max(c[1] for c in known))), description)
                   if known else Absent("dose_per_cycle_range", "no regimen of a dose group gives its dose", description))
    return [
        span,
        count("dose_not_available_studies", missing["study_id"].nunique(), "Studies whose dose Table 2 does not give"),
        count("dose_not_available_patients", int(missing["patients"].sum()),
              "Patients of the studies whose dose Table 2 does not give"),
    ]
