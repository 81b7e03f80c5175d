"""Tables 1-4 in the rendered paper, rebuilt from data/raw and compared cell by cell.

Two comparisons per table: with a fresh rebuild of its TableSpec from freshly validated sheets (every cell,
every column label, row groups, in order), and, for the text columns the review prints as is, directly with
the raw CSV cells (independent of engine/tables.py). The PDF must hold the same cells as real text.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from engine.tables import build_table
from tests.conftest import OUTPUT, RAW, REVIEW

HTML = OUTPUT / "index.html"
PDF = OUTPUT / "index.pdf"
TABLES = sorted(REVIEW.tables)

# The rendered paper must be built and current: these tests fail, never skip, when it is not.
pytestmark = pytest.mark.usefixtures("built_paper")


@pytest.fixture(scope="module")
def soup() -> BeautifulSoup:
    return BeautifulSoup(HTML.read_text(encoding="utf-8"), "lxml")


@pytest.fixture(scope="module")
def pdf_text() -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(PDF).pages)


def squash(text: str) -> str:
    """Text with all white space (including no-break spaces) removed, for line-wrap-proof comparison."""
    return re.sub(r"\s+", "", text)


def rendered_rows(soup: BeautifulSoup, name: str) -> tuple[list[str], list[tuple[str | None, list[str]]]]:
    """Column labels and body rows ((group, cells)) of the table in figure#tbl-<name>."""
    figure = soup.find("figure", id=f"tbl-{name}")
    assert figure is not None, f"table tbl-{name} is missing from the HTML"
    table = figure.find("table", class_="gt_table")
    labels = [th.get_text(" ", strip=True) for th in table.find_all("th", class_="gt_col_heading")]
    rows: list[tuple[str | None, list[str]]] = []
    group = None
    for tr in table.find("tbody").find_all("tr"):
        heading = tr.find("th", class_="gt_group_heading")
        if heading is not None:
            group = heading.get_text(" ", strip=True)
            continue
        rows.append((group, [td.get_text(" ", strip=True) for td in tr.find_all("td", class_="gt_row")]))
    return labels, rows


def test_the_manifest_declares_the_reviews_four_tables_each_with_its_layout() -> None:
    # Tables 1-4 of the review, each drawn by its layout plug-in in scripts/review_tables.py.
    assert TABLES == ["comorbidities", "demographics", "dose-groups", "efficacy"]
    layouts = {name: REVIEW.tables[name]["plugin"] for name in TABLES}
    assert layouts == {"comorbidities": "scripts.review_tables:comorbidities_table",
                       "demographics": "scripts.review_tables:demographics_table",
                       "dose-groups": "scripts.review_tables:dose_groups_table",
                       "efficacy": "scripts.review_tables:efficacy_table"}
    assert all(callable(REVIEW.plugin(layout)) for layout in layouts.values())


@pytest.mark.parametrize("name", TABLES)
def test_table_matches_a_fresh_rebuild_cell_by_cell(soup: BeautifulSoup, validated_dir: Path, name: str) -> None:
    spec = build_table(REVIEW, name, validated_dir)
    labels, rows = rendered_rows(soup, name)
    assert sorted(labels) == sorted(column.label for column in spec.columns)
    assert len(rows) == len(spec.rows)
    for index, ((group, cells), expected) in enumerate(zip(rows, spec.rows)):
        assert cells == [expected[column.key] for column in spec.columns], f"row {index + 1} of tbl-{name}"
        if spec.group_key:
            assert group == expected[spec.group_key]


@pytest.mark.parametrize("name", TABLES)
def test_pdf_holds_every_cell_as_text(pdf_text: str, validated_dir: Path, name: str) -> None:
    squashed = squash(pdf_text)
    spec = build_table(REVIEW, name, validated_dir)
    missing = [row[column.key] for row in spec.rows for column in spec.columns
               if squash(row[column.key]) not in squashed]
    assert missing == [], f"cells of tbl-{name} not found in the PDF text"


def raw(sheet: str) -> list[dict[str, str]]:
    with open(RAW / f"{sheet}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_table_1_prints_the_raw_cells(soup: BeautifulSoup) -> None:
    _, rows = rendered_rows(soup, "demographics")
    studies = raw("studies")
    # Columns: No., Study, Year, Country, n, Age, M/F, Comorbidities, Thrombophilic factors, Previous treatment.
    assert [cells[0] for _, cells in rows] == [s["study_id"] for s in studies]
    assert [cells[3] for _, cells in rows] == [s["country"] for s in studies]
    assert [cells[5] for _, cells in rows] == [s["age_text"] for s in studies]
    assert [cells[6] for _, cells in rows] == [f"{s['males']}/{s['females']}" for s in studies]
    assert [cells[9] for _, cells in rows] == [s["previous_treatments_text"] for s in studies]


def test_table_2_prints_the_raw_cells(soup: BeautifulSoup) -> None:
    _, rows = rendered_rows(soup, "efficacy")
    outcomes = raw("outcomes")
    assert [cells[2] for _, cells in rows] == [o["dosage_text"] for o in outcomes]
    assert [cells[6] for _, cells in rows] == [o["efficacy_text"] for o in outcomes]
    assert [cells[7] for _, cells in rows] == [o["recurrence_text"] for o in outcomes]
    # The footnote mark "^a" of Monshi's responders prints as "(a)", with the footnote under the table.
    assert rows[8][1][5] == "10 patients (a)"


def test_table_3_prints_the_raw_counts(soup: BeautifulSoup) -> None:
    _, rows = rendered_rows(soup, "comorbidities")
    comorbid = [a for a in raw("aggregates") if a["measure"] == "comorbidity"]
    assert [(cells[0], cells[1]) for _, cells in rows] == [(a["category"], a["patients"]) for a in comorbid]


def test_table_4_groups_and_computed_doses(soup: BeautifulSoup) -> None:
    _, rows = rendered_rows(soup, "dose-groups")
    groups = raw("dose_groups")
    assert [cells[1] for _, cells in rows] == [g["patients"] for g in groups]
    by_author = {cells[0] + (group or ""): cells for group, cells in rows}
    # Hand computation: Kreuter 0.5 g/kg for 2-3 days = 1-1.5 g/kg per cycle, every 28 days = 1-1.5 per 4 weeks.
    kreuter = next(cells for group, cells in rows if cells[0] == "Kreuter et al.")
    assert kreuter[3:6] == ["1–1.5", "0.5", "1–1.5"]
    # Tuchinda 0.5 g/kg every 14 days: 0.5 per cycle, days unknown, 0.5 x 28/14 = 1 per 4 weeks.
    tuchinda = next(cells for group, cells in rows if cells[0] == "Tuchinda et al.")
    assert tuchinda[3:6] == ["0.5", "NA", "1"]
    # Pitarch's two regimens: 0.4 x 5 = 2 and 0.7 x 3 = 2.1 g/kg per cycle, every 42 days.
    pitarch = next(cells for group, cells in rows if cells[0] == "Pitarch et al.")
    assert pitarch[3:6] == ["2; 2.1", "0.4; 0.7", "1.33; 1.4"]
    assert len(by_author) == len(rows)
