"""The Gao & Jin plug-ins on data that report less: a number whose inputs are not reported is absent from
the registry, with the reason, never a 0 from a division by zero, an empty-list crash or an "NA" counted."""

from __future__ import annotations

from pathlib import Path

import pandas
import pytest

from engine.values import Absent, Value
from scripts import dose_groups, primary_report, review_values
from tests.conftest import REVIEW


@pytest.fixture
def sheets(validated_dir: Path) -> dict[str, pandas.DataFrame]:
    from engine.sheets import read_sheets

    return read_sheets(REVIEW, validated_dir)


def blank(frame: pandas.DataFrame, *columns: str) -> pandas.DataFrame:
    return frame.assign(**{column: pandas.Series([pandas.NA] * len(frame), dtype=frame[column].dtype)
                           for column in columns})


def by_key(entries) -> dict:
    return {entry.key: entry for entry in entries}


def test_no_sex_reported_gives_no_sex_numbers(sheets) -> None:
    studies = blank(sheets["studies"], "males", "females")
    found = by_key(review_values.sex_and_age_values({**sheets, "studies": studies}, {}))
    for key in ("males", "females", "males_pct", "male_female_ratio", "sex_not_reported"):
        assert isinstance(found[key], Absent) and found[key].reason == "no study reports the sex of its patients"


def test_no_age_reported_gives_no_age_numbers(sheets) -> None:
    studies = blank(sheets["studies"], "age_value", "age_min", "age_max")
    found = by_key(review_values.sex_and_age_values({**sheets, "studies": studies}, {}))
    assert all(isinstance(found[key], Absent) for key in ("age_mean_weighted", "age_min", "age_max"))


def test_no_male_patient_leaves_the_ratio_absent(sheets) -> None:
    studies = sheets["studies"].assign(males=0)
    found = by_key(review_values.sex_and_age_values({**sheets, "studies": studies}, {}))
    assert found["males"].display == "0"
    assert isinstance(found["male_female_ratio"], Absent)


def test_no_thrombophilia_screening_gives_no_share(sheets) -> None:
    studies = blank(sheets["studies"], "thrombophilia_positive")
    found = by_key(review_values.thrombophilia_values({**sheets, "studies": studies}, {}))
    assert found["thrombophilia_studies"].display == "0"
    assert isinstance(found["thrombophilia_pct"], Absent) and isinstance(found["thrombophilia_fraction_words"], Absent)


def test_no_dose_reported_gives_no_dose_span(sheets) -> None:
    regimens = blank(sheets["regimens"], "dose_g_kg")
    found = by_key(dose_groups.dose_span_values({**sheets, "regimens": regimens}, {}))
    assert isinstance(found["dose_per_cycle_range"], Absent)
    assert found["dose_per_cycle_range"].reason == "no regimen of a dose group gives its dose"


def test_an_empty_primary_report_sheet_gives_absent_values(sheets) -> None:
    empty = sheets[primary_report.PRIMARY_SHEET].iloc[0:0]
    found = primary_report.primary_values({**sheets, primary_report.PRIMARY_SHEET: empty}, {})
    assert {entry.key for entry in found} == set(primary_report.PRIMARY_KEYS)
    assert all(isinstance(entry, Absent) for entry in found)


def test_an_adverse_event_without_denominator_is_a_share_of_all_patients(sheets) -> None:
    aggregates = blank(sheets["aggregates"], "denominator")
    found = by_key(review_values.aggregate_values({**sheets, "aggregates": aggregates},
                                                  {"n_patients": Value("n_patients", 80, "80", "")}))
    assert found["ae_headache_ratio"].display == "11/80"
    missing = by_key(review_values.aggregate_values({**sheets, "aggregates": aggregates}, {}))
    assert isinstance(missing["ae_headache_pct"], Absent)
