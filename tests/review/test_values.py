"""The values registry, recomputed from data/raw without reading results/.

Two independent checks: (1) the published review's own numbers, where the review's tables support them;
(2) a second, deliberately naive computation straight from the raw CSV files with the csv module.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from engine.numbers import decimal
from engine.sheets import read_sheets
from engine.values import build_registry, meta_document, percent, present
from tests.conftest import RAW, REPO, RESULTS, REVIEW


def raw_rows(sheet: str) -> list[dict[str, str]]:
    with open(RAW / f"{sheet}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def registry(validated_dir: Path) -> dict:
    return build_registry(REVIEW, read_sheets(REVIEW, validated_dir))


# Numbers printed in Gao & Jin 2022 that its own tables support (Abstract, Results, Discussion).
PUBLISHED = {
    "n_studies": "17",
    "n_patients": "80",
    "responders": "76",
    "response_ratio": "76/80",
    "response_pct": "95%",
    "females": "56",
    "females_pct": "70%",
    "thrombophilia_screened": "63",
    "thrombophilia_positive": "14",
    "thrombophilia_pct": "22.22%",
    "dose_high_patients": "65",
    "dose_high_pct": "84.42%",
    "dose_high_ratio": "65/77",
    "dose_low_patients": "12",
    "dose_low_pct": "15.58%",
    "dose_low_ratio": "12/77",
    "daily_high_patients": "27",
    "daily_conventional_patients": "31",
    "ae_headache": "11",
    "ae_headache_pct": "13.75%",
    "ae_headache_ratio": "11/80",
    "comorbidity_hypertension": "22",
    "comorbidity_diabetes_mellitus": "9",
    "n_countries": "12",
    "n_case_reports_series": "14",
    "age_min": "17",
    "age_max": "83",
}


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_published_number_reproduces(registry: dict, key: str) -> None:
    assert registry[key].display == PUBLISHED[key]


def test_counts_from_the_raw_csv_directly(registry: dict) -> None:
    studies, outcomes = raw_rows("studies"), raw_rows("outcomes")
    patients = sum(int(s["patients"]) for s in studies)
    responders = sum(int(o["responders"]) for o in outcomes if o["responders"] != "NA")
    males = sum(int(s["males"]) for s in studies if s["males"] != "NA")
    screened = [s for s in studies if s["thrombophilia_positive"] != "NA"]
    recurrences = sum(int(o["recurrences"]) for o in outcomes if o["recurrences"] != "NA")
    assert registry["n_patients"].value == patients
    assert registry["responders"].value == responders
    assert registry["males"].value == males
    assert registry["thrombophilia_screened"].value == sum(int(s["patients"]) for s in screened)
    assert registry["recurrence_patients"].value == recurrences


def test_weighted_mean_age_by_hand(registry: dict) -> None:
    # sum(patients x age) over Table 1 = 3696.00, over 80 patients = 46.2 years (the review prints 46.64).
    total = sum(int(s["patients"]) * float(s["age_value"]) for s in raw_rows("studies"))
    assert total == pytest.approx(3696.0)
    assert registry["age_mean_weighted"].display == "46.2"


def test_known_disagreements_with_the_text_stay_visible(registry: dict) -> None:
    # Table 1 sums to 23 men (the text says 24) and Table 2 to 22 recurrences (the text says 23).
    assert registry["males"].display == "23"
    assert registry["recurrence_patients"].display == "22"


def test_every_value_names_the_files_that_made_it(registry: dict) -> None:
    # The engine's values name engine/values.py; each plug-in's values name its own file in scripts/.
    made_by = {entry.made_by for entry in registry.values()}
    assert made_by == {"rule values (engine/values.py)", "rule values (scripts/review_values.py)",
                       "rule values (scripts/dose_groups.py)", "rule values (scripts/primary_report.py)"}
    assert registry["n_patients"].made_by == "rule values (engine/values.py)"
    assert registry["dose_high_patients"].made_by == "rule values (scripts/dose_groups.py)"
    assert registry["primary14_patients"].made_by == "rule values (scripts/primary_report.py)"
    for text in made_by:
        assert (REPO / text.removeprefix("rule values (").removesuffix(")")).is_file(), text


def test_percent_formatting_follows_the_review() -> None:
    assert percent(76, 80) == "95%"
    assert percent(14, 63) == "22.22%"
    assert percent(11, 80) == "13.75%"
    assert decimal(56 / 24) == "2.33"


def test_meta_spans_escape_markdown() -> None:
    from engine.values import Value

    document = meta_document({"odd": Value("odd", 1, "*1* [x]", "a \"quoted\" thing")})
    span = document["v"]["odd"]
    assert span.startswith(r"[\*1\* \[x\]]{.value key=")
    assert '"quoted"' not in span


def test_written_registry_is_not_stale(registry: dict, built_paper: None) -> None:
    """results/values.yml from the last build holds the values the data give now."""
    path = RESULTS / "values.yml"
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, entry in present(registry).items():
        assert written[key]["display"] == entry.display, key
    for key in set(registry) - set(present(registry)):
        assert written["_absent"][key]["reason"] == registry[key].reason, key
