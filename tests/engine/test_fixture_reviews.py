"""The engine on reviews that are not Gao & Jin: small fixture reviews with the edge cases a user's review
has (one study, every study with one patient, descriptive columns nobody reports, events not reported, an
empty optional sheet, no subgroups, no PRISMA, no claims), each checked against a hand computation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from engine.manifest import ManifestError, load_review
from engine.recompute import fresh_registry
from engine.tables import declared_table
from engine.validation import validate_all
from engine.values import Absent, Value
from tests.engine.review_fixture import MANIFEST, read_sheets_of, write_review


def displays(registry: dict) -> dict[str, str]:
    return {key: entry.display for key, entry in registry.items() if isinstance(entry, Value)}


def reasons(registry: dict) -> dict[str, str]:
    return {key: entry.reason for key, entry in registry.items() if isinstance(entry, Absent)}


def incomplete_beta_3_2(p: float) -> float:
    """I_p(3, 2) = 4p^3 - 3p^4, by integrating the Beta(3, 2) density 12 p^2 (1 - p) by hand."""
    return 4 * p**3 - 3 * p**4


def bisect(f, target: float, low: float = 0.0, high: float = 1.0) -> float:
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if f(middle) < target else (low, middle)
    return (low + high) / 2


def test_a_single_study_reports_its_own_proportion_and_no_pooled_model(tmp_path: Path) -> None:
    review = write_review(tmp_path, "1,Ames,2001,Chile,3,4,hospital")
    assert validate_all(review) == []
    registry = fresh_registry(review)
    shown = displays(registry)
    # Clopper-Pearson for 3/4 by hand: lower solves I_p(3, 2) = 0.025; upper is 0.975^(1/4) (x = n - 1).
    lower, upper = bisect(incomplete_beta_3_2, 0.025), 0.975 ** 0.25
    assert shown["ma_all_crude_ci"] == f"{100 * lower:.1f}–{100 * upper:.1f}%" == "19.4–99.4%"
    assert (shown["ma_all_k"], shown["ma_all_crude_pct"], shown["event_ratio"]) == ("1", "75.0%", "3/4")
    for key in ("ma_all_glmm_pct", "ma_all_re_logit_ci", "ma_all_i2", "ma_all_q_p"):
        assert key not in shown
        assert reasons(registry)[key] == "All studies: a single study, nothing to pool"


def test_every_study_with_one_patient_pools(tmp_path: Path) -> None:
    review = write_review(tmp_path, """
        1,Ames,2001,Chile,1,1,hospital
        2,Berg,2002,Peru,0,1,clinic
        3,Cole,2003,Peru,1,1,hospital
    """)
    shown = displays(fresh_registry(review))
    assert (shown["n_studies"], shown["n_patients"], shown["n_events"], shown["event_pct"]) == ("3", "3", "2", "66.67%")
    assert shown["ma_all_k"] == "3"
    # The pooled estimate lies strictly inside (0, 100%) and inside its interval.
    estimate = float(shown["ma_all_glmm_pct"].rstrip("%"))
    low, high = (float(part) for part in shown["ma_all_glmm_ci"].rstrip("%").split("–"))
    assert 0 < low < estimate < high < 100


def test_descriptive_columns_nobody_reports_give_no_number(tmp_path: Path) -> None:
    review = write_review(tmp_path, """
        1,Ames,NA,NA,3,4,NA
        2,Berg,NA,NA,5,9,NA
    """)
    registry = fresh_registry(review)
    # An unknown country is not a country, an unknown year has no minimum: both absent, with the reason.
    assert reasons(registry)["n_countries"] == "no row of studies reports country"
    assert reasons(registry)["year_first"] == "no row of studies reports year"
    # A count of rows matching a filter is a count: no study is recorded as a hospital study.
    assert displays(registry)["n_hospital"] == "0"
    # The study label leaves the unknown year out rather than printing "NA" or "<NA>".
    table = declared_table(review, "studies", read_sheets_of(review, tmp_path))
    assert [row["c0"] for row in table.rows] == ["Ames", "Berg"]
    assert [row["c1"] for row in table.rows] == ["NA", "NA"]


def test_a_study_without_its_events_is_left_out_of_the_pooling_and_of_the_sums(tmp_path: Path) -> None:
    review = write_review(tmp_path, """
        1,Ames,2001,Chile,NA,4,hospital
        2,Berg,2002,Peru,5,9,clinic
        3,Cole,2003,Peru,2,9,clinic
    """)
    registry = fresh_registry(review)
    shown = displays(registry)
    assert shown["n_patients"] == "22" and shown["ma_all_k"] == "2"
    assert (shown["ma_all_events"], shown["ma_all_total"]) == ("7", "18")
    assert reasons(registry)["n_events"] == "1 of 3 studies do not report it"
    assert "event_pct" in reasons(registry)


def test_an_empty_optional_sheet_is_accepted_and_a_missing_one_too(tmp_path: Path) -> None:
    rows = "1,Ames,2001,Chile,3,4,hospital"
    empty = write_review(tmp_path / "empty", rows, notes="study_id,note\n")
    assert validate_all(empty) == []
    missing = write_review(tmp_path / "missing", rows)
    assert validate_all(missing) == []
    # A required sheet with only its header is refused, naming the file.
    (tmp_path / "missing" / "data" / "raw" / "studies.csv").write_text(
        "study_id,first_author,year,country,events,total,setting\n", encoding="utf-8")
    problems = validate_all(missing)
    assert [p.rule for p in problems] == ["the file has a header but no records"]


def test_an_optional_sheet_with_rows_is_checked_by_its_rules(tmp_path: Path) -> None:
    review = write_review(tmp_path, "1,Ames,2001,Chile,3,4,hospital", notes="study_id,note\n7,x\n")
    problems = validate_all(review)
    assert [(p.row, p.column, p.value, p.rule) for p in problems] == [
        (2, "study_id", "7", "unknown study_id: no such study_id in studies.csv")]


def test_events_above_the_total_are_refused_by_the_declared_rule(tmp_path: Path) -> None:
    review = write_review(tmp_path, "1,Ames,2001,Chile,5,4,hospital")
    problems = validate_all(review)
    assert [(p.row, p.column, p.rule) for p in problems] == [(2, "events", "events (5) must not exceed total (4)")]


def test_a_declared_table_prints_the_sheet_as_it_is(tmp_path: Path) -> None:
    review = write_review(tmp_path, "1,Ames,2001,Chile,3,4,hospital\n2,van der Berg,2002,Peru,5,9,clinic")
    table = declared_table(review, "studies", read_sheets_of(review, tmp_path))
    assert [column.label for column in table.columns] == ["Study", "Country", "Events/total"]
    # No "et al." or any other decoration the manifest does not ask for.
    assert [tuple(row.values()) for row in table.rows] == [("Ames 2001", "Chile", "3/4"),
                                                           ("van der Berg 2002", "Peru", "5/9")]


def test_a_subgroup_with_one_level_present_is_left_out(tmp_path: Path) -> None:
    manifest = copy.deepcopy(MANIFEST)
    manifest["analyses"]["subgroups"] = [{"key": "ma_setting", "title": "Setting", "by": "setting",
                                          "levels": {"hospital": "Hospital", "clinic": "Clinic"}}]
    review = write_review(tmp_path, "1,Ames,2001,Chile,3,4,hospital\n2,Berg,2002,Peru,5,9,hospital", manifest)
    shown = displays(fresh_registry(review))
    assert not any(key.startswith("ma_setting") for key in shown)


def test_a_subgroup_analysis_by_any_column(tmp_path: Path) -> None:
    manifest = copy.deepcopy(MANIFEST)
    manifest["analyses"]["subgroups"] = [{"key": "ma_setting", "title": "Setting", "by": "setting",
                                          "levels": {"hospital": "Hospital", "clinic": "Clinic"}}]
    review = write_review(tmp_path, """
        1,Ames,2001,Chile,3,4,hospital
        2,Berg,2002,Peru,5,9,clinic
        3,Cole,2003,Peru,8,10,hospital
    """, manifest)
    shown = displays(fresh_registry(review))
    # Crude proportions within each level, by hand: hospital 11/14, clinic 5/9.
    assert (shown["ma_setting_hospital_events"], shown["ma_setting_hospital_total"]) == ("11", "14")
    assert shown["ma_setting_hospital_crude_pct"] == f"{100 * 11 / 14:.1f}%"
    assert shown["ma_setting_clinic_crude_pct"] == f"{100 * 5 / 9:.1f}%"
    assert "ma_setting_test_glmm_p" in shown


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["rules"].append({"check": "at_most", "sheet": "arms", "columns": ["events"], "bound": "total"}),
     "rules/2: sheet 'arms' is not declared under sheets"),
    (lambda m: m["tables"]["studies"].__setitem__("sheets", ["doses"]),
     "tables/studies/sheets: sheet 'doses' is not declared under sheets"),
    (lambda m: m.__setitem__("figures", {"forest-dose": {"forest": "ma_dose"}}),
     "figures/forest-dose/forest: no analysis has the key 'ma_dose' (analyses: ma_all)"),
    (lambda m: m["outcome"].__setitem__("events", "outcomes.responders"),
     "outcome/events: sheet 'outcomes' is not declared under sheets"),
    (lambda m: m["review"].__setitem__("name", "Gao & Jin"),
     "review/name: 'Gao & Jin' does not match"),
])
def test_a_manifest_naming_what_does_not_exist_is_refused_with_its_place(tmp_path: Path, change, message) -> None:
    manifest = copy.deepcopy(MANIFEST)
    change(manifest)
    with pytest.raises(ManifestError) as raised:
        write_review(tmp_path, "1,Ames,2001,Chile,3,4,hospital", manifest)
    assert str(tmp_path / "config" / "review.yaml") in str(raised.value)
    assert message in str(raised.value)


def test_a_missing_manifest_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="the review manifest does not exist"):
        load_review(tmp_path / "config" / "review.yaml")
