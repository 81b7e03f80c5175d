"""This review's sensitivity analyses and adverse-event denominators, from freshly validated sheets.

References: the GLMMs of calibrated_reference.R (rma.glmm on the counts typed there from the review's
Tables 1, 2 and 4) and hand counts from Table 2 written out below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.analysis import registry, run
from engine.sheets import read_sheets
from engine.values import count
from scripts.review_values import adverse_event_denominator_values
from tests.conftest import REPO, REVIEW

REF = json.loads((REPO / "tests" / "engine" / "reference" / "calibrated_reference.json").read_text())


@pytest.fixture(scope="module")
def entries(validated_dir: Path) -> dict:
    return {key: entry for key, entry in registry(run(REVIEW, read_sheets(REVIEW, validated_dir))).items()}


@pytest.mark.parametrize("key,reference", [("ma_retreated", "retreated"), ("ma_noncase", "non_case"),
                                           ("ma_min5", "at_least_5")])
def test_sensitivity_rows_and_estimates(entries: dict, key: str, reference: str) -> None:
    ref = REF["sensitivity"][reference]
    assert entries[f"{key}_events"].value == sum(ref["xi"])
    assert entries[f"{key}_total"].value == sum(ref["ni"])
    assert entries[f"{key}_k"].value == len(ref["ni"])
    assert entries[f"{key}_glmm_pct"].value == pytest.approx(ref["glmm"]["proportion"], abs=5e-5)


def test_overall_calibrated_entries(entries: dict) -> None:
    ref = REF["ivig"]
    assert entries["ma_all_exact_p"].value == pytest.approx(ref["fisher_p"], abs=1e-6)
    assert entries["ma_all_glmm_lrt_p"].value == pytest.approx(ref["glmm"]["lrt_tau2_p"], abs=1e-6)
    assert entries["ma_all_glmm_tau_ci"].display == f"0.00–{ref['profile']['tau_upper']:.2f}"
    lower, upper = ref["glmm"]["hts_lower"], ref["glmm"]["hts_upper"]
    assert entries["ma_all_glmm_pi"].display == f"{100 * lower:.1f}–{100 * upper:.1f}%"
    loo = ref["leave_one_out"]["proportion"]
    assert entries["ma_all_loo_range"].display == f"{100 * min(loo):.1f}–{100 * max(loo):.1f}%"
    assert entries["ma_dose_test_glmm_lrt_q"].value == pytest.approx(REF["dose"]["moderator"]["stat"], abs=2e-3)
    assert entries["ma_daily_test_glmm_lrt_p"].value == pytest.approx(REF["daily"]["moderator"]["p"], abs=1e-3)


def test_adverse_event_denominator(validated_dir: Path) -> None:
    # Table 2's adverse events are "NA" in 7 reports: Levy (2 patients), Amital, Schanz, Tuchinda, Vieira,
    # Yoshioka and Dinescu (1 each): 8 patients; the other 10 reports (72 patients) name events or "None".
    sheets = read_sheets(REVIEW, validated_dir)
    headache = count("ae_headache", 11, "Headache (the review's count)")
    found = {entry.key: entry for entry in adverse_event_denominator_values(sheets, {"ae_headache": headache})}
    assert found["ae_not_described_patients"].value == 2 + 6 * 1
    assert found["ae_not_described_studies"].value == 7
    assert found["ae_described_patients"].value == 80 - 8
    assert found["ae_headache_described_ratio"].display == "11/72"
    lower, upper = REF["headache"]["described"]["ci"]
    assert found["ae_headache_described_ci"].display == f"{100 * lower:.1f}–{100 * upper:.1f}%"


@pytest.fixture(scope="module")
def analyses(validated_dir: Path):  # type: ignore[no-untyped-def]
    return run(REVIEW, read_sheets(REVIEW, validated_dir))


def test_forest_squares_by_patients_with_the_prediction_interval(analyses, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.forest_plot import forest_plot

    overall = analyses.by_key("ma_all")
    text = forest_plot(overall.rows, overall.result, tmp_path / "f", inference=overall.inference).read_text()
    # Kofler's 25 of the 80 patients: 31.25%, printed to one decimal (round half to even).
    assert "Patients, %" in text and "31.2" in text and "Square area: the study" in text
    lower, upper = REF["ivig"]["glmm"]["hts_lower"], REF["ivig"]["glmm"]["hts_upper"]
    assert "Prediction interval (GLMM, t on 15 df)" in text
    assert f"({100 * lower:.1f}–{100 * upper:.1f})" in text
    assert f"exact test of homogeneity p = {REF['ivig']['fisher_p']:.3f}" in text


def test_sensitivity_plot_lists_every_refit(analyses, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.forest_plot import sensitivity_plot

    overall = analyses.by_key("ma_all")
    others = [a for a in analyses.pooled if a.subgroups is None and a.key != "ma_all"]
    text = sensitivity_plot(overall, others, tmp_path / "s").read_text()
    assert text.count("Without ") == 17
    for analysis in others:
        assert analysis.title in text
    # Leaving out Bounfour (4/5): R's DFBETAS -0.396.
    assert f"{REF['ivig']['leave_one_out']['dfbetas'][7]:+.2f}" in text
