"""The values registry: every number the manuscript quotes, computed from the validated sheets.

``results/values.yml`` maps each key to its value, its display text exactly as the manuscript prints it,
what it means and which rule and script made it. ``results/values-meta.yml`` is the same registry as
Quarto metadata: ``v.<key>`` holds a Markdown span ``[display]{.value key="..." title="..."}``, so the
manuscript's ``{{< meta v.<key> >}}`` shortcode prints the value marked with its key under Quarto and under
the project's Pandoc filter alike, and the HTML audit can find every bound number.

Percentages follow the review's style: two decimals, trailing zeros dropped ("95%", "22.22%").
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from scripts import dosing
from scripts.dosing import decimal
from engine.sheets import YAML_LOADER

if TYPE_CHECKING:
    import pandas

    from engine.ledger import Claim

MADE_BY = "rule values (engine/values.py)"
PRIMARY_STUDY_ID = 14  # the study whose primary report data/raw/primary_scarpone2020.csv transcribes
# Anticoagulant and antiplatelet drugs as Table 2 names them ("ASP", "LMWH", "oral anticoagulation", ...).
ANTITHROMBOTIC = re.compile(r"\b(ASA|ASP|aspirin|clopidogrel|heparin|LMWH|dalteparin|enoxaparin|warfarin"
                            r"|anticoagula\w*|antiplatelet\w*)\b", re.IGNORECASE)
UNIT_FRACTION_WORDS = {2: "half", 3: "third", 4: "quarter", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth",
                       9: "ninth", 10: "tenth"}


@dataclass(frozen=True)
class Value:
    """One registry entry."""

    key: str
    value: int | float | str
    display: str
    description: str
    made_by: str = MADE_BY


def percent(part: float, whole: float, decimals: int = 2) -> str:
    """A share as the review prints it: "95%", "22.22%"."""
    return f"{decimal(100 * part / whole, decimals)}%"


def count(key: str, number: int, description: str) -> Value:
    return Value(key, int(number), str(int(number)), description)


def text_value(key: str, display: str, description: str) -> Value:
    """An entry whose value is its display text (a list or a table cell, not a number)."""
    return Value(key, display, display, description)


def unit_fraction_below(part: int, whole: int) -> int:
    """The n of the largest unit fraction 1/n strictly below part/whole ("more than one-fifth": 14/63 -> 5)."""
    return math.floor(whole / part) + 1


def share(key: str, part: int, whole: int, description: str, decimals: int = 2) -> list[Value]:
    """Three entries for a proportion: "<key>_pct" ("95%"), "<key>_ratio" ("76/80") and the proportion."""
    return [
        Value(f"{key}_pct", round(100 * part / whole, 10), percent(part, whole, decimals), f"{description} (percent)"),
        Value(f"{key}_ratio", f"{part}/{whole}", f"{part}/{whole}", f"{description} (count/denominator)"),
    ]


# --- the registry, topic by topic ------------------------------------------------------------------------


def general_values(studies: pandas.DataFrame) -> list[Value]:
    """Studies, patients, countries, designs, years, sex and age (review Table 1)."""
    patients = int(studies["patients"].sum())
    males, females = int(studies["males"].sum()), int(studies["females"].sum())
    designs = studies["design"].value_counts()
    weighted_age = float((studies["age_value"] * studies["patients"]).sum() / patients)
    single = studies[studies["patients"] == 1]
    return [
        count("n_studies", len(studies), "Included studies"),
        count("n_patients", patients, "LV patients treated with IVIG, all studies"),
        count("n_countries", studies["country"].nunique(), "Countries the studies come from"),
        count("year_first", int(studies["year"].min()), "Year of the earliest included study"),
        count("year_last", int(studies["year"].max()), "Year of the latest included study"),
        count("n_case_reports_series", int(designs.get("case_report", 0) + designs.get("case_series", 0)),
              "Studies recorded as case reports or case series"),
        count("n_non_case_studies",
              len(studies) - int(designs.get("case_report", 0) + designs.get("case_series", 0)),
              "Studies not recorded as case reports or case series (the review's 'studies')"),
        count("n_case_reports", int(designs.get("case_report", 0)), "Single-patient case reports"),
        count("n_single_patient", len(single), "Studies with a single patient"),
        count("n_prospective_trials", int(designs.get("prospective_open_trial", 0)), "Open prospective trials"),
        count("n_retrospective_identified", int(designs.get("retrospective_study", 0)),
              "Retrospective studies identifiable from the review's reference list"),
        count("n_design_unclassified", int(designs.get("NA", 0)), "Studies whose design the review leaves open"),
        count("largest_study_patients", int(studies["patients"].max()), "Patients in the largest study"),
        count("males", males, "Male patients, sum of Table 1"),
        count("females", females, "Female patients, sum of Table 1"),
        count("sex_not_reported", patients - males - females, "Patients whose sex Table 1 does not give"),
        *share("males", males, patients, "Male share of all patients"),
        *share("females", females, patients, "Female share of all patients"),
        Value("male_female_ratio", round(females / males, 10), f"1:{decimal(females / males)}",
              "Male-to-female ratio, from Table 1"),
        Value("age_mean_weighted", round(weighted_age, 10), decimal(weighted_age),
              "Mean age over patients: study means (or single ages) weighted by patients"),
        Value("age_min", float(studies["age_min"].fillna(studies["age_value"]).min()),
              decimal(float(studies["age_min"].fillna(studies["age_value"]).min())), "Youngest patient, years"),
        Value("age_max", float(studies["age_max"].fillna(studies["age_value"]).max()),
              decimal(float(studies["age_max"].fillna(studies["age_value"]).max())), "Oldest patient, years"),
    ]


def thrombophilia_values(studies: pandas.DataFrame) -> list[Value]:
    """Screening for thrombophilic factors; a study counts as screened when Table 1 reports a result."""
    screened = studies[studies["thrombophilia_positive"].notna()]
    patients, positive = int(screened["patients"].sum()), int(screened["thrombophilia_positive"].sum())
    return [
        count("thrombophilia_studies", len(screened), "Studies reporting a thrombophilia screening result"),
        count("thrombophilia_screened", patients, "Patients in studies reporting a thrombophilia screening"),
        count("thrombophilia_positive", positive, "Patients with at least one thrombophilic factor"),
        *share("thrombophilia", positive, patients, "Share of screened patients with a thrombophilic factor"),
        thrombophilia_fraction(positive, patients),
    ]


def thrombophilia_fraction(positive: int, screened: int) -> Value:
    """The review's "more than one-fifth": the largest unit fraction below the share, in words ("none" for 0)."""
    description = "Largest unit fraction below the share of screened patients with a thrombophilic factor"
    if positive == 0:
        return Value("thrombophilia_fraction_words", 0, "none", description)
    n = unit_fraction_below(positive, screened)
    words = f"one-{UNIT_FRACTION_WORDS[n]}" if n in UNIT_FRACTION_WORDS else f"1/{n}"
    return Value("thrombophilia_fraction_words", round(1 / n, 10), words, description)


def combination_values(outcomes: pandas.DataFrame) -> list[Value]:
    """Studies whose Table 2 combination treatment names an anticoagulant or antiplatelet drug."""
    named = outcomes["combination_text"].fillna("").map(lambda cell: bool(ANTITHROMBOTIC.search(cell)))
    return [count("n_studies_antithrombotic_combination", int(named.sum()),
                  "Studies combining IVIG with an anticoagulant or antiplatelet drug (Table 2)")]


def response_values(studies: pandas.DataFrame, outcomes: pandas.DataFrame) -> list[Value]:
    """Responders over all patients (the review's crude 'effective rate')."""
    merged = studies.merge(outcomes, on="study_id")
    responders, patients = int(merged["responders"].sum()), int(merged["patients"].sum())
    all_responded = int((merged["responders"] == merged["patients"]).sum())
    return [
        count("responders", responders, "Patients who responded to IVIG"),
        count("non_responders", patients - responders, "Patients who did not respond"),
        count("n_studies_all_responded", all_responded, "Studies in which every patient responded"),
        *share("response", responders, patients, "Crude response rate"),
    ]


def recurrence_values(outcomes: pandas.DataFrame) -> list[Value]:
    """Recurrences as Table 2 counts them; studies where the count is not stated are counted apart."""
    stated = outcomes[outcomes["recurrences"].notna()]
    relapsing = stated[stated["recurrences"] > 0]
    return [
        count("recurrence_patients", int(stated["recurrences"].sum()), "Patients with a recurrence (Table 2 counts)"),
        count("recurrence_studies", len(relapsing), "Studies reporting at least one recurrence"),
        count("recurrence_count_stated", len(stated), "Studies whose recurrence count Table 2 states (0 included)"),
        count("recurrence_count_not_stated", len(outcomes) - len(stated), "Studies with no recurrence count"),
    ]


def dose_values(dose_groups: pandas.DataFrame, regimens: pandas.DataFrame) -> list[Value]:
    """High- vs low-dose groups (Table 4) and the daily-dose split within the high-dose group."""
    grouped = dose_groups[dose_groups["dose_group"] != "not_grouped"]
    high = grouped[grouped["dose_group"] == "high"]
    low = grouped[grouped["dose_group"] == "low"]
    total = int(grouped["patients"].sum())
    daily = high.assign(daily_class=high["group_id"].map(dosing.daily_dose_classes(regimens)))
    by_class = daily.groupby("daily_class")["patients"].sum()
    values = [
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


def dose_span_values(dose_groups: pandas.DataFrame, regimens: pandas.DataFrame) -> list[Value]:
    """The span of the doses per cycle in Table 4's groups, and the studies that give no dose at all."""
    grouped = dose_groups[dose_groups["dose_group"] != "not_grouped"]
    cycles = [dosing.per_cycle(dosing.regimen_from_row(row))
              for row in regimens[regimens["group_id"].isin(grouped["group_id"])].to_dict("records")]
    known = [c for c in cycles if c is not None]
    no_dose = regimens.groupby("group_id")["dose_g_kg"].apply(lambda doses: bool(doses.isna().all()))
    missing = dose_groups[dose_groups["group_id"].map(no_dose).fillna(False).astype(bool)]
    return [
        text_value("dose_per_cycle_range", dosing.format_range((min(c[0] for c in known), max(c[1] for c in known))),
             "Dose per cycle over the regimens of Table 4's groups, g/kg"),
        count("dose_not_available_studies", missing["study_id"].nunique(), "Studies whose dose Table 2 does not give"),
        count("dose_not_available_patients", int(missing["patients"].sum()),
              "Patients of the studies whose dose Table 2 does not give"),
    ]


def aggregate_values(aggregates: pandas.DataFrame, n_patients: int) -> list[Value]:
    """Comorbidity counts (Table 3) and the headache rate; aggregate counts, quoted as printed."""
    values: list[Value] = []
    for row in aggregates.to_dict("records"):
        slug = "_".join(str(row["category"]).lower().replace("-", " ").split())
        prefix = "comorbidity" if row["measure"] == "comorbidity" else "ae"
        values.append(count(f"{prefix}_{slug}", int(row["patients"]), f"{row['category']} ({row['source']})"))
        if row["measure"] == "adverse_event":
            denominator = n_patients if row["denominator"] is None or row["denominator"] != row["denominator"] \
                else int(row["denominator"])
            values += share(f"ae_{slug}", int(row["patients"]), denominator, f"{row['category']} rate")
            values.append(count(f"ae_{slug}_studies", len(str(row["source_studies"]).split(";")),
                                f"Studies the {row['category'].lower()} count comes from"))
    comorbid = aggregates[aggregates["measure"] == "comorbidity"]
    values.append(count("n_comorbidity_categories", len(comorbid), "Comorbidity categories in Table 3"))
    return values


def _items(cell: str) -> list[str]:
    """The items of a "; "-separated list cell; "NA" is none."""
    return [] if cell == "NA" else [item.strip() for item in cell.split(";")]


def _patients(n: int) -> str:
    return f"{n} patient{'' if n == 1 else 's'}"


def recurrence_cell(relapsed: int, relapse_free: int) -> str:
    """Recurrence in the words of the review's Table 2: "1 patient relapsed; 1 patient NR"."""
    parts = [f"{_patients(relapsed)} relapsed"] if relapsed else []
    return "; ".join(parts + ([f"{_patients(relapse_free)} NR"] if relapse_free else []))


def primary_values(primary: pandas.DataFrame, outcomes: pandas.DataFrame) -> list[Value]:
    """Study 14 as its primary report gives it, written like the review's cells so the two can be compared."""
    import pandas

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
        count("primary14_patients", len(patients), f"LV patients ({source})"),
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


def prisma_values(prisma_counts: pandas.DataFrame) -> list[Value]:
    """The study-selection counts (reported or derived by engine/prisma.py) and the exclusion reasons."""
    values = []
    for row in prisma_counts.to_dict("records"):
        if row["n"] is None or row["n"] != row["n"]:
            continue
        reason = row.get("reason")
        if isinstance(reason, str) and reason:
            slug = "_".join(reason.lower().replace("-", " ").split())
            values.append(count(f"prisma_excluded_{slug}", int(row["n"]), f"Reports excluded: {reason}"))
        else:
            values.append(count(f"prisma_{row['data']}", int(row["n"]), f"PRISMA {row['data']} ({row['status']})"))
    return values


def analysis_values(analysis: Mapping[str, Any]) -> list[Value]:
    """Model estimates written by the meta-analysis rule, already formatted there."""
    made_by = analysis.get("made_by", "rule meta_analysis (engine/meta_analysis.py)")
    return [Value(key, entry["value"], entry["display"], entry["description"], made_by)
            for key, entry in analysis.get("values", {}).items()]


def build_registry(sheets: Mapping[str, pandas.DataFrame], prisma_counts: pandas.DataFrame | None = None,
                   analysis: Mapping[str, Any] | None = None,
                   claims: Sequence[Claim] | None = None) -> dict[str, Value]:
    """All registry values, by key.

    With ``claims`` (the published review's numbers, data/published/claims.csv), the ledger's counts are
    added last, from the classification of the claims against everything built before them.
    """
    studies = sheets["studies"]
    entries: list[Value] = [
        *general_values(studies),
        *thrombophilia_values(studies),
        *response_values(studies, sheets["outcomes"]),
        *recurrence_values(sheets["outcomes"]),
        *combination_values(sheets["outcomes"]),
        *dose_values(sheets["dose_groups"], sheets["regimens"]),
        *dose_span_values(sheets["dose_groups"], sheets["regimens"]),
        *aggregate_values(sheets["aggregates"], int(studies["patients"].sum())),
        *primary_values(sheets["primary_scarpone2020"], sheets["outcomes"]),
    ]
    if prisma_counts is not None:
        entries += prisma_values(prisma_counts)
    if analysis is not None:
        entries += analysis_values(analysis)
    registry = _by_key(entries)
    if claims is not None:
        from engine.ledger import classify, ledger_values

        displays = {key: entry.display for key, entry in registry.items()}
        registry = _by_key([*registry.values(), *ledger_values(classify(claims, displays))])
    return registry


def _by_key(entries: Iterable[Value]) -> dict[str, Value]:
    """Entries by key; a key made twice is a programming error."""
    registry: dict[str, Value] = {}
    for entry in entries:
        if entry.key in registry:
            raise ValueError(f"registry key {entry.key!r} is made twice")
        registry[entry.key] = entry
    return registry


# --- writing ---------------------------------------------------------------------------------------------


def _markdown_escape(text: str) -> str:
    """Escape Markdown punctuation so a display text is printed as is inside the span."""
    return "".join("\\" + char if char in "\\`*_{}[]()<>#+!|~^$@" else char for char in text)


def registry_document(registry: Mapping[str, Value]) -> dict[str, dict[str, Any]]:
    return {key: {"value": entry.value, "display": entry.display, "description": entry.description,
                  "made_by": entry.made_by} for key, entry in sorted(registry.items())}


def meta_document(registry: Mapping[str, Value]) -> dict[str, dict[str, str]]:
    """The Quarto metadata form: ``v.<key>`` -> a Markdown span carrying key and provenance."""
    spans = {}
    for key, entry in sorted(registry.items()):
        title = f"{key}: {entry.description} [{entry.made_by}]".replace('"', "'")
        spans[key] = f'[{_markdown_escape(entry.display)}]{{.value key="{key}" title="{title}"}}'
    return {"v": spans}


def _dump(document: Mapping[str, Any], path: Path, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(document), sort_keys=True, allow_unicode=True, width=1000)
    path.write_text(f"# {header}\n{text}", encoding="utf-8")


def load_inputs(validated_dir: Path, prisma_counts: Path | None, analysis: Path | None,
                claims: Path | None = None) -> dict[str, Any]:
    import pandas

    from engine.ledger import load_claims
    from engine.sheets import SHEETS, read_validated

    sheets = {name: read_validated(validated_dir / f"{name}.csv", name) for name in SHEETS}
    return {
        "sheets": sheets,
        "prisma_counts": pandas.read_csv(prisma_counts) if prisma_counts else None,
        "analysis": json.loads(analysis.read_text(encoding="utf-8")) if analysis else None,
        "claims": load_claims(claims) if claims else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the values registry.")
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--prisma-counts", type=Path)
    parser.add_argument("--analysis", type=Path)
    parser.add_argument("--claims", type=Path, help="data/published/claims.csv: adds the ledger's counts")
    parser.add_argument("--out", type=Path, required=True, help="results/values.yml")
    parser.add_argument("--meta-out", type=Path, required=True, help="results/values-meta.yml")
    args = parser.parse_args(argv)
    registry = build_registry(**load_inputs(args.validated_dir, args.prisma_counts, args.analysis, args.claims))
    _dump(registry_document(registry), args.out, "Generated by engine/values.py: every number the manuscript quotes.")
    _dump(meta_document(registry), args.meta_out, "Generated by engine/values.py: the registry as Quarto metadata.")
    print(f"values: {len(registry)} registry entries -> {args.out}")
    return 0


def read_displays(registry_path: Path) -> dict[str, str]:
    """Key -> display text of a written registry (results/values.yml): what the text must show."""
    document = yaml.load(registry_path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
    return {key: str(entry["display"]) for key, entry in document.items()}


if __name__ == "__main__":
    sys.exit(main())
