"""Tests for engine/forest_plot.py: files, determinism, content."""

from __future__ import annotations

import html
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.forest_plot import MODEL_LABELS, ForestLabels, forest_plot  # noqa: E402
from engine.meta_analysis import analyse_proportions, subgroup_analysis  # noqa: E402

EVENTS = [2, 1, 2, 1, 8, 1, 1, 4, 10, 7, 1, 1, 9, 2, 1, 24, 1]
TOTALS = [2, 1, 2, 1, 9, 1, 1, 5, 11, 7, 1, 1, 9, 2, 1, 25, 1]
# Made-up labels; one non-ASCII and one XML-special character on purpose.
LABELS = [f"Author{chr(65 + i)} {2001 + i}" for i in range(17)]
LABELS[3] = "Müller 2004"
LABELS[5] = "Smith & Jones 2006"
DOSE = ["high" if i % 3 else "low" for i in range(17)]


@pytest.fixture(scope="module")
def studies() -> pd.DataFrame:
    return pd.DataFrame({"label": LABELS, "events": EVENTS, "total": TOTALS, "subgroup": DOSE})


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    return analyse_proportions(EVENTS, TOTALS)


@pytest.fixture(scope="module")
def subgroups():  # type: ignore[no-untyped-def]
    return subgroup_analysis(EVENTS, TOTALS, DOSE)


def _svg_text(path: Path) -> str:
    return html.unescape(path.read_text(encoding="utf-8"))


def test_writes_an_svg_only(tmp_path: Path, studies: pd.DataFrame, results) -> None:  # type: ignore[no-untyped-def]
    svg = forest_plot(studies, results, tmp_path / "out" / "forest.png")
    assert svg == tmp_path / "out" / "forest.svg"
    assert sorted(path.name for path in svg.parent.iterdir()) == ["forest.svg"]
    assert svg.read_bytes().lstrip().startswith(b"<?xml")
    assert "<dc:date>" not in svg.read_text(encoding="utf-8")


def test_deterministic(tmp_path: Path, studies: pd.DataFrame, results, subgroups) -> None:  # type: ignore[no-untyped-def]
    for kw in ({}, {"subgroups": subgroups}):
        a = forest_plot(studies, results, tmp_path / "a" / "f", **kw)
        b = forest_plot(studies, results, tmp_path / "b" / "f", **kw)
        assert a.read_bytes() == b.read_bytes()


def test_svg_contains_labels(tmp_path: Path, studies: pd.DataFrame, results) -> None:  # type: ignore[no-untyped-def]
    svg = forest_plot(studies, results, tmp_path / "f")
    text = _svg_text(svg)
    for label in LABELS:
        assert label in text, label
    for key in ("glmm", "re_ft", "re_logit", "crude"):
        assert MODEL_LABELS[key].format(method="REML") in text
    assert "95.0 (87.4–98.1)" in text  # GLMM estimate and Wald CI, in %
    assert "24 / 25" in text
    assert "Heterogeneity" in text and "I²" in text and "τ²" in text


def test_subgroups(tmp_path: Path, studies: pd.DataFrame, results, subgroups) -> None:  # type: ignore[no-untyped-def]
    svg = forest_plot(studies, results, tmp_path / "f", subgroups=subgroups)
    text = _svg_text(svg)
    for label in (*LABELS, "low", "high", "Overall", "Test for subgroup differences (GLMM"):
        assert label in text, label


def test_non_estimable_glmm_subgroup(tmp_path: Path) -> None:
    df = pd.DataFrame({"label": ["A 2001", "B 2002", "C 2003", "D 2004"],
                       "events": [1, 2, 4, 8], "total": [1, 2, 5, 9], "subgroup": ["x", "x", "y", "y"]})
    res = analyse_proportions(df.events, df.total)
    sub = subgroup_analysis(df.events, df.total, df.subgroup)
    text = _svg_text(forest_plot(df, res, tmp_path / "f", subgroups=sub))
    assert "not estimable (no non-events)" in text  # the engine's generic names, without a manifest's
    assert "Test for subgroup differences (GLMM): not estimable" in text
    review = ForestLabels(events="responders", total="patients", measure="Response")
    text = _svg_text(forest_plot(df, res, tmp_path / "g", subgroups=sub, labels=review))
    assert "not estimable (no non-responders)" in text
    assert "Responders / patients" in text and "Response, % (95% CI)" in text


def test_rare_events_are_printed_per_10000(tmp_path: Path) -> None:
    df = pd.DataFrame({"label": ["A 2001", "B 2002", "C 2003"], "events": [2, 3, 1],
                       "total": [10000, 20000, 12500]})
    labels = ForestLabels(events="cases", total="children", measure="Prevalence", per=10000)
    text = _svg_text(forest_plot(df, analyse_proportions(df.events, df.total), tmp_path / "f", labels=labels))
    assert "Cases / children" in text and "Prevalence, per 10,000 (95% CI)" in text
    # 2 of 10,000 is 2.0 per 10,000, 3 of 20,000 is 1.5, 1 of 12,500 is 0.8; counts from 10,000 up get commas.
    assert "2 / 10,000" in text and "3 / 20,000" in text and "1 / 12,500" in text
    for estimate in ("2.0 (", "1.5 (", "0.8 ("):
        assert estimate in text, estimate


def test_rejects_bad_input(tmp_path: Path, studies: pd.DataFrame, results, subgroups) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="column"):
        forest_plot(studies.drop(columns="events"), results, tmp_path / "f")
    with pytest.raises(ValueError, match="column"):
        forest_plot(studies.drop(columns="subgroup"), results, tmp_path / "f", subgroups=subgroups)
    with pytest.raises(ValueError, match="number of studies"):
        forest_plot(studies.iloc[:5], results, tmp_path / "f")
