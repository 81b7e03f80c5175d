"""Tests of engine/prisma.py: sheet loading, flow arithmetic, derivation and the diagram."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine import prisma
from engine.prisma import (
    PrismaArithmeticError,
    PrismaSheetError,
    check_arithmetic,
    load_prisma,
    resolve,
    validated_counts,
)

REPO = Path(__file__).resolve().parents[2]
SHEET = REPO / "data" / "raw" / "prisma.csv"
SOURCE = Path(__file__).resolve().parents[3] / "shared" / "sources" / (
    "review-gao-jin-2022-ivig-livedoid-vasculopathy.txt"
)

# A complete, consistent flow with a separate other-methods column (not pooled).
CONSISTENT: list[tuple[str, str, int | None]] = [
    ("database_results", "", 100),
    ("duplicates", "", 10),
    ("excluded_automatic", "", 0),
    ("excluded_other", "", 5),
    ("records_screened", "", 85),
    ("records_excluded", "", 60),
    ("dbr_sought_reports", "", 25),
    ("dbr_notretrieved_reports", "", 2),
    ("dbr_assessed", "", 23),
    ("dbr_excluded", "", 15),
    ("dbr_excluded", "wrong population", 10),
    ("dbr_excluded", "wrong design", 5),
    ("citations_results", "", 4),
    ("other_sought_reports", "", 4),
    ("other_notretrieved_reports", "", 1),
    ("other_assessed", "", 3),
    ("other_excluded", "", 1),
    ("other_excluded", "wrong design", 1),
    ("new_studies", "", 9),
    ("new_reports", "", 10),
]


def write_sheet(path: Path, rows, overrides: dict | None = None) -> Path:
    """Write a sheet; ``overrides`` maps (data, reason) to a new n (None = NR) or to a full row dict."""
    overrides = dict(overrides or {})
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(prisma.SHEET_COLUMNS)
        for data, reason, n in rows:
            if (data, reason) in overrides:
                n = overrides.pop((data, reason))
            if n is None:
                writer.writerow([data, reason, "", "NR", "", "not stated"])
            else:
                writer.writerow([data, reason, n, "reported", f"quote for {data}", ""])
        for (data, reason), n in overrides.items():  # rows to add
            if n is None:
                writer.writerow([data, reason, "", "NR", "", "not stated"])
            else:
                writer.writerow([data, reason, n, "reported", f"quote for {data}", ""])
    return path


def errors_for(tmp_path: Path, overrides: dict) -> list[str]:
    return check_arithmetic(load_prisma(write_sheet(tmp_path / "sheet.csv", CONSISTENT, overrides)))


# --------------------------------------------------------------------------- arithmetic


def test_consistent_sheet_has_no_errors(tmp_path):
    counts = load_prisma(write_sheet(tmp_path / "s.csv", CONSISTENT))
    assert check_arithmetic(counts) == []
    resolution = resolve(counts)
    assert resolution.derived == ()
    assert resolution.unchecked == ()
    assert any(c.startswith("new_reports (10) = dbr_assessed (23)") for c in resolution.checked)


def test_screened_wrong_names_identity_and_numbers(tmp_path):
    errors = errors_for(tmp_path, {("records_screened", ""): 80})
    assert (
        "records_screened (80) != database_results (100) - duplicates (10) - excluded_automatic (0)"
        " - excluded_other (5) = 85"
    ) in errors


def test_reasons_not_summing(tmp_path):
    errors = errors_for(tmp_path, {("dbr_excluded", "wrong population"): 11})
    assert errors == [
        "dbr_excluded (15) != dbr_excluded 'wrong population' (11) + dbr_excluded 'wrong design' (5) = 16"
    ]


def test_included_wrong(tmp_path):
    errors = errors_for(tmp_path, {("new_reports", ""): 11})
    assert errors == [
        "new_reports (11) != dbr_assessed (23) - dbr_excluded (15) + other_assessed (3)"
        " - other_excluded (1) = 10"
    ]


def test_studies_more_than_reports(tmp_path):
    errors = errors_for(tmp_path, {("new_studies", ""): 11})
    assert len(errors) == 1 and errors[0].startswith("new_studies (11) > new_reports (10)")


def test_assessed_wrong(tmp_path):
    errors = errors_for(tmp_path, {("dbr_assessed", ""): 24})
    assert "dbr_assessed (24) != dbr_sought_reports (25) - dbr_notretrieved_reports (2) = 23" in errors
    assert any(e.startswith("new_reports (10) != dbr_assessed (24)") for e in errors)


def test_other_methods_column_checked(tmp_path):
    errors = errors_for(tmp_path, {("other_sought_reports", ""): 5})
    assert "other_sought_reports (5) != citations_results (4) = 4" in errors


def test_validated_counts_raises_with_every_failure(tmp_path):
    path = write_sheet(tmp_path / "s.csv", CONSISTENT,
                       {("records_screened", ""): 80, ("dbr_excluded", "wrong design"): 4})
    with pytest.raises(PrismaArithmeticError) as info:
        validated_counts(path)
    message = str(info.value)
    assert "records_screened (80) != " in message
    assert "dbr_excluded (15) != dbr_excluded 'wrong population' (10) + dbr_excluded 'wrong design' (4) = 14" in message
    assert len(info.value.errors) >= 2


def test_cli_exits_1_with_message(tmp_path, capsys):
    path = write_sheet(tmp_path / "s.csv", CONSISTENT, {("new_reports", ""): 12})
    rc = prisma.main(["--sheet", str(path), "--svg", str(tmp_path / "f.svg"), "--counts", str(tmp_path / "c.csv")])
    assert rc == 1
    assert "new_reports (12) != dbr_assessed (23)" in capsys.readouterr().err
    assert not (tmp_path / "f.svg").exists()


# --------------------------------------------------------------------------- NR and derivation


def test_single_nr_term_is_derived_and_marked(tmp_path):
    counts = load_prisma(write_sheet(tmp_path / "s.csv", CONSISTENT, {("dbr_sought_reports", ""): None}))
    assert counts.get("dbr_sought_reports").status == "NR"
    resolution = resolve(counts)
    assert resolution.errors == ()
    row = resolution.counts.get("dbr_sought_reports")
    assert (row.n, row.status) == (25, "derived")
    assert "records_screened (85) - records_excluded (60)" in row.derivation
    assert row.label() == "n = 25, derived"
    assert any(d.startswith("dbr_sought_reports = 25 derived") for d in resolution.derived)
    # the identity used to derive is not reported as an independent check
    assert not any(c.startswith("dbr_sought_reports") for c in resolution.checked)


def test_two_nr_terms_stay_nr_and_unchecked(tmp_path):
    counts = load_prisma(write_sheet(tmp_path / "s.csv", CONSISTENT,
                                     {("database_results", ""): None, ("excluded_other", ""): None}))
    resolution = resolve(counts)
    assert resolution.errors == ()
    assert resolution.counts.get("database_results").n is None
    assert resolution.counts.get("database_results").label() == "n = NR"
    assert any(u.startswith("records_screened (85) = database_results (NR)") for u in resolution.unchecked)


def test_zero_by_non_negativity(tmp_path):
    overrides = {("records_excluded", ""): None, ("dbr_sought_reports", ""): None,
                 ("dbr_notretrieved_reports", ""): None, ("dbr_assessed", ""): 85,
                 ("dbr_excluded", ""): 77, ("dbr_excluded", "wrong population"): 72}
    resolution = resolve(load_prisma(write_sheet(tmp_path / "s.csv", CONSISTENT, overrides)))
    assert resolution.errors == ()
    got = {k: (resolution.counts.get(k).n, resolution.counts.get(k).status)
           for k in ("records_excluded", "dbr_notretrieved_reports", "dbr_sought_reports")}
    assert got == {"records_excluded": (0, "derived"), "dbr_notretrieved_reports": (0, "derived"),
                   "dbr_sought_reports": (85, "derived")}


def test_negative_derivation_is_an_error(tmp_path):
    errors = errors_for(tmp_path, {("records_excluded", ""): None, ("dbr_sought_reports", ""): 90})
    assert errors and "records_excluded would be -5" in errors[0]


def test_reading_39_as_identified_is_rejected(tmp_path):
    """The other reading of 'yielded 39 ..., removing 20 duplicating records' contradicts 41 screened."""
    rows = [
        ("database_results", "", 39), ("duplicates", "", 20), ("excluded_automatic", "", 0),
        ("excluded_other", "", 0), ("citations_results", "", 2), ("citations_pooled_at_screening", "", 2),
        ("records_screened", "", 41), ("records_excluded", "", None), ("dbr_sought_reports", "", None),
        ("dbr_notretrieved_reports", "", None), ("dbr_assessed", "", 41), ("dbr_excluded", "", 24),
        ("new_studies", "", 17), ("new_reports", "", 17),
    ]
    with pytest.raises(PrismaArithmeticError) as info:
        validated_counts(write_sheet(tmp_path / "s.csv", rows))
    assert (
        "records_screened (41) != database_results (39) - duplicates (20) - excluded_automatic (0)"
        " - excluded_other (0) + citations_pooled_at_screening (2) = 21"
    ) in str(info.value)


# --------------------------------------------------------------------------- sheet validation


@pytest.mark.parametrize(
    "row, message",
    [
        (["records_screened", "", "85", "derived", "q", ""], "never typed into the sheet"),
        (["records_screened", "", "85", "reported", "", ""], "source_quote"),
        (["records_screened", "", "85", "NR", "", "x"], "must leave n empty"),
        (["records_screened", "", "", "NR", "", ""], "needs a note"),
        (["records_screened", "", "8.5", "reported", "q", ""], "integer"),
        (["records_screened", "why", "85", "reported", "q", ""], "reason is only for"),
        (["records_seen", "", "85", "reported", "q", ""], "unknown field"),
    ],
)
def test_malformed_rows_are_rejected(tmp_path, row, message):
    path = write_sheet(tmp_path / "s.csv", [r for r in CONSISTENT if r[0] != "records_screened"])
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow(row)
    with pytest.raises(PrismaSheetError, match=message):
        load_prisma(path)


def test_missing_required_field_is_rejected(tmp_path):
    path = write_sheet(tmp_path / "s.csv", [r for r in CONSISTENT if r[0] != "records_excluded"])
    with pytest.raises(PrismaSheetError, match="records_excluded"):
        load_prisma(path)


def test_pooled_sheet_must_not_report_other_column(tmp_path):
    path = write_sheet(tmp_path / "s.csv", CONSISTENT, {("citations_pooled_at_screening", ""): 4})
    with pytest.raises(PrismaSheetError, match="counted twice"):
        load_prisma(path)


# --------------------------------------------------------------------------- the review's sheet


NUMBER_WORDS = {0: ("No ",), 2: ("two",)}


# --------------------------------------------------------------------------- diagram


def svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()
    texts = [el.text or "" for el in root.iter() if el.tag.endswith("}text") or el.tag == "text"]
    return " ".join(texts)


def draw(counts, tmp_path: Path, stem: str = "p") -> Path:
    svg = tmp_path / f"{stem}.svg"
    prisma.draw_flow_diagram(counts, svg)
    return svg


def test_hostile_reason_text_is_literal_and_escaped(tmp_path):
    hostile = {("dbr_excluded", "<script>"): 5, ("dbr_excluded", "$x$ costs $5"): 5,
               ("dbr_excluded", "{{< meta x >}}"): 5}  # 15 in all, as the total row says
    rows = [r for r in CONSISTENT if r[1] not in ("wrong population", "wrong design")]
    resolution = validated_counts(write_sheet(tmp_path / "s.csv", rows, hostile))
    svg = draw(resolution.counts, tmp_path)
    raw = svg.read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw
    assert "{{&lt; meta x &gt;}}" in raw
    words = svg_text(svg)
    assert "<script> (n = 5)" in words
    assert "$x$ costs $5 (n = 5)" in words
    assert "{{< meta x >}} (n = 5)" in words


def test_unpooled_layout_draws_other_column(tmp_path):
    counts = validated_counts(write_sheet(tmp_path / "s.csv", CONSISTENT)).counts
    svg = draw(counts, tmp_path)
    words = svg_text(svg)
    for phrase in ("Citation searching (n = 4)", "Reports not retrieved (n = 1)", "wrong design (n = 1)"):
        assert phrase in words


def _overlap(a, b) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.bottom and b.y < a.bottom


