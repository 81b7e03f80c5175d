"""Plug-ins of this review for the registry: the numbers only the Gao & Jin text quotes.

Named under ``values.plugins`` in config/review.yaml. Each takes the validated sheets and the registry
built so far and returns entries; a number whose inputs are not reported comes back ``Absent`` with the
reason, never as 0. The engine's own values (studies, patients, responders, countries, years, the
analyses, PRISMA, the ledger) are declared in the manifest instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from engine.numbers import decimal
from engine.values import Absent, Entry, Value, count, known_values, share

if TYPE_CHECKING:
    import pandas

# Anticoagulant and antiplatelet drugs as Table 2 names them ("ASP", "LMWH", "oral anticoagulation", ...).
ANTITHROMBOTIC = re.compile(r"\b(ASA|ASP|aspirin|clopidogrel|heparin|LMWH|dalteparin|enoxaparin|warfarin"
                            r"|anticoagula\w*|antiplatelet\w*)\b", re.IGNORECASE)
UNIT_FRACTION_WORDS = {2: "half", 3: "third", 4: "quarter", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth",
                       9: "ninth", 10: "tenth"}
CASE_DESIGNS = ("case_report", "case_series")


def design_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Study designs as the review's reference list identifies them (codes of studies.design)."""
    studies = sheets["studies"]
    designs = studies["design"].value_counts()
    case = int(sum(designs.get(design, 0) for design in CASE_DESIGNS))
    return [
        count("n_case_reports_series", case, "Studies recorded as case reports or case series"),
        count("n_non_case_studies", len(studies) - case,
              "Studies not recorded as case reports or case series (the review's 'studies')"),
        count("n_case_reports", int(designs.get("case_report", 0)), "Single-patient case reports"),
        count("n_prospective_trials", int(designs.get("prospective_open_trial", 0)), "Open prospective trials"),
        count("n_retrospective_identified", int(designs.get("retrospective_study", 0)),
              "Retrospective studies identifiable from the review's reference list"),
        count("n_design_unclassified", int(designs.get("NA", 0)), "Studies whose design the review leaves open"),
        # The review's 3 "studies" are 2 retrospective and 1 open prospective trial: with the trial known, the
        # other two are retrospective, whichever they are.
        count("n_retrospective_implied", len(studies) - case - int(designs.get("prospective_open_trial", 0)),
              "Retrospective studies the review's design counts imply (its 'studies' less the open trial)"),
    ]


def sex_and_age_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Sex and age over the studies that report them (review Table 1)."""
    studies = sheets["studies"]
    patients = int(studies["patients"].sum())
    males, females = known_values(studies["males"]), known_values(studies["females"])
    entries: list[Entry] = []
    if males.empty and females.empty:
        reason = "no study reports the sex of its patients"
        for key in ("males", "females", "sex_not_reported", "males_pct", "males_ratio", "females_pct",
                    "females_ratio", "male_female_ratio"):
            entries.append(Absent(key, reason, f"Sex of the patients ({key})"))
    else:
        n_males, n_females = int(males.sum()), int(females.sum())
        entries += [
            count("males", n_males, "Male patients, sum of Table 1"),
            count("females", n_females, "Female patients, sum of Table 1"),
            count("sex_not_reported", patients - n_males - n_females, "Patients whose sex Table 1 does not give"),
            *share("males", n_males, patients, "Male share of all patients"),
            *share("females", n_females, patients, "Female share of all patients"),
            Value("male_female_ratio", round(n_females / n_males, 10), f"1:{decimal(n_females / n_males)}",
                  "Male-to-female ratio, from Table 1") if n_males
            else Absent("male_female_ratio", "no male patient is reported", "Male-to-female ratio, from Table 1"),
        ]
    aged = studies[studies["age_value"].notna()]
    described = "Mean age over patients: study means (or single ages) weighted by patients"
    if aged.empty:
        entries.append(Absent("age_mean_weighted", "no study reports an age", described))
    else:
        weighted = float((aged["age_value"] * aged["patients"]).sum() / aged["patients"].sum())
        entries.append(Value("age_mean_weighted", round(weighted, 10), decimal(weighted), described))
    lowest = known_values(studies["age_min"].fillna(studies["age_value"]))
    highest = known_values(studies["age_max"].fillna(studies["age_value"]))
    for key, found, pick, description in (("age_min", lowest, min, "Youngest patient, years"),
                                          ("age_max", highest, max, "Oldest patient, years")):
        if found.empty:
            entries.append(Absent(key, "no study reports an age", description))
        else:
            age = float(pick(found))
            entries.append(Value(key, age, decimal(age), description))
    return entries


def thrombophilia_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Screening for thrombophilic factors; a study counts as screened when Table 1 reports a result."""
    studies = sheets["studies"]
    screened = studies[studies["thrombophilia_positive"].notna()]
    patients, positive = int(screened["patients"].sum()), int(screened["thrombophilia_positive"].sum())
    return [
        count("thrombophilia_studies", len(screened), "Studies reporting a thrombophilia screening result"),
        count("thrombophilia_screened", patients, "Patients in studies reporting a thrombophilia screening"),
        count("thrombophilia_positive", positive, "Patients with at least one thrombophilic factor"),
        *share("thrombophilia", positive, patients, "Share of screened patients with a thrombophilic factor"),
        thrombophilia_fraction(positive, patients),
    ]


def unit_fraction_below(part: int, whole: int) -> int:
    """The n of the largest unit fraction 1/n strictly below part/whole ("more than one-fifth": 14/63 -> 5)."""
    return math.floor(whole / part) + 1


def thrombophilia_fraction(positive: int, screened: int) -> Entry:
    """The review's "more than one-fifth": the largest unit fraction below the share, in words ("none" for 0)."""
    description = "Largest unit fraction below the share of screened patients with a thrombophilic factor"
    if screened == 0:
        return Absent("thrombophilia_fraction_words", "no study reports a thrombophilia screening", description)
    if positive == 0:
        return Value("thrombophilia_fraction_words", 0, "none", description)
    n = unit_fraction_below(positive, screened)
    words = f"one-{UNIT_FRACTION_WORDS[n]}" if n in UNIT_FRACTION_WORDS else f"1/{n}"
    return Value("thrombophilia_fraction_words", round(1 / n, 10), words, description)


def combination_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Studies whose Table 2 combination treatment names an anticoagulant or antiplatelet drug."""
    outcomes = sheets["outcomes"]
    named = outcomes["combination_text"].fillna("").map(lambda cell: bool(ANTITHROMBOTIC.search(cell)))
    return [count("n_studies_antithrombotic_combination", int(named.sum()),
                  "Studies combining IVIG with an anticoagulant or antiplatelet drug (Table 2)")]


def recurrence_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Recurrences as Table 2 counts them; studies where the count is not stated are counted apart."""
    outcomes = sheets["outcomes"]
    stated = outcomes[outcomes["recurrences"].notna()]
    relapsing = stated[stated["recurrences"] > 0]
    return [
        count("recurrence_patients", int(stated["recurrences"].sum()), "Patients with a recurrence (Table 2 counts)"),
        count("recurrence_studies", len(relapsing), "Studies reporting at least one recurrence"),
        count("recurrence_count_stated", len(stated), "Studies whose recurrence count Table 2 states (0 included)"),
        count("recurrence_count_not_stated", len(outcomes) - len(stated), "Studies with no recurrence count"),
    ]


def aggregate_values(sheets: Mapping[str, pandas.DataFrame], registry: Mapping[str, Value]) -> list[Entry]:
    """Comorbidity counts (Table 3) and adverse-event rates; aggregate counts, quoted as printed.

    An adverse event without a printed denominator is a share of all patients (``n_patients``).
    """
    aggregates = sheets["aggregates"]
    all_patients = registry.get("n_patients")
    values: list[Entry] = []
    for row in aggregates.to_dict("records"):
        slug = "_".join(str(row["category"]).lower().replace("-", " ").split())
        prefix = "comorbidity" if row["measure"] == "comorbidity" else "ae"
        values.append(count(f"{prefix}_{slug}", int(row["patients"]), f"{row['category']} ({row['source']})"))
        if row["measure"] == "adverse_event":
            printed = row["denominator"]
            denominator = int(printed) if printed is not None and printed == printed else (
                int(all_patients.value) if all_patients is not None else None)
            if denominator is None:
                values += [Absent(f"ae_{slug}_{part}", "no denominator is printed and n_patients is absent",
                                  f"{row['category']} rate") for part in ("pct", "ratio")]
            else:
                values += share(f"ae_{slug}", int(row["patients"]), denominator, f"{row['category']} rate")
            values.append(count(f"ae_{slug}_studies", len(str(row["source_studies"]).split(";")),
                                f"Studies the {row['category'].lower()} count comes from"))
    comorbid = aggregates[aggregates["measure"] == "comorbidity"]
    values.append(count("n_comorbidity_categories", len(comorbid), "Comorbidity categories in Table 3"))
    return values


def adverse_event_denominator_values(sheets: Mapping[str, pandas.DataFrame],
                                     registry: Mapping[str, Value]) -> list[Entry]:
    """The headache rate over the patients of the reports that describe adverse events, beside the review's.

    The review divides its headache count by all patients, including those of reports whose Table 2 gives
    no adverse-event information ("NA"); a report whose Table 2 entry names events or says "None" describes
    them. Both rates are kept: the review's over all patients, this one over the patients described.
    """
    from engine.meta_analysis import clopper_pearson

    joined = sheets["studies"][["study_id", "patients"]].merge(
        sheets["outcomes"][["study_id", "adverse_events_text"]], on="study_id", validate="one_to_one")
    described = joined["adverse_events_text"].fillna("NA").astype(str).str.strip() != "NA"
    patients, silent = int(joined.loc[described, "patients"].sum()), int(joined.loc[~described, "patients"].sum())
    entries: list[Entry] = [
        count("ae_described_patients", patients, "Patients of the reports whose Table 2 entry describes adverse events"),
        count("ae_described_studies", int(described.sum()), "Reports whose Table 2 entry describes adverse events"),
        count("ae_not_described_patients", silent, "Patients of the reports with no adverse-event information (NA)"),
        count("ae_not_described_studies", int((~described).sum()), "Reports with no adverse-event information"),
    ]
    headache = registry.get("ae_headache")
    if headache is None or patients == 0:
        reason = "no headache count" if headache is None else "no report describes adverse events"
        return entries + [Absent(f"ae_headache_described_{part}", reason, "Headache rate over the patients described")
                          for part in ("pct", "ratio", "ci")]
    events = int(headache.value)
    exact = clopper_pearson(events, patients)
    entries += share("ae_headache_described", events, patients,
                     "Headache rate over the patients whose reports describe adverse events", decimals=1)
    entries.append(Value("ae_headache_described_ci", f"{exact.lower:.6f}–{exact.upper:.6f}",
                         f"{100 * exact.lower:.1f}–{100 * exact.upper:.1f}%",
                         "Headache rate over the patients described: Clopper-Pearson interval"))
    return entries
