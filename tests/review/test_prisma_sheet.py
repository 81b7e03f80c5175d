"""The PRISMA counts of this review (data/raw/prisma.csv): its numbers, the review's words behind them, the
CLI and the flow diagram drawn from them. The engine's checks on made-up sheets are in tests/engine/test_prisma.py."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from engine import prisma
from engine.prisma import (
    validated_counts,
)

REPO = Path(__file__).resolve().parents[2]
SHEET = REPO / "data" / "raw" / "prisma.csv"
SOURCE = Path(__file__).resolve().parents[3] / "shared" / "sources" / (
    "review-gao-jin-2022-ivig-livedoid-vasculopathy.txt"
)

# A complete, consistent flow with a separate other-methods column (not pooled).

from tests.engine.test_prisma import CONSISTENT, NUMBER_WORDS, _overlap, draw, svg_text, write_sheet  # noqa: E402


@pytest.fixture(scope="module")
def real():
    return validated_counts(SHEET)

def test_real_sheet_numbers(real):
    counts = real.counts
    assert counts.n("new_studies") == 17 and counts.n("new_reports") == 17
    assert counts.n("dbr_excluded") == 24
    reasons = {r.reason: r.n for r in counts.items("dbr_excluded")}
    assert reasons == {"not published in English languages": 1, "review articles": 2,
                       "irrelevant subjects": 18, "lack details in treatment": 3}
    assert sum(reasons.values()) == 24
    assert counts.n("records_screened") == 41 and counts.n("dbr_assessed") == 41
    assert counts.n("records_after_duplicates") == 39 and counts.n("duplicates") == 20
    assert counts.n("citations_results") == 2 and counts.pooled
    assert [r.reason for r in counts.items("database_specific_results")] == ["PubMed", "Cochrane", "Embase"]

def test_real_sheet_nr_and_derived(real):
    counts = real.counts
    # not stated, and not derivable without assuming no other removals
    assert counts.get("database_results").status == "NR" and counts.n("database_results") is None
    assert counts.get("excluded_other").status == "NR"
    derived = {r.data: r.n for r in counts.rows if r.status == "derived"}
    assert derived == {"records_excluded": 0, "dbr_notretrieved_reports": 0, "dbr_sought_reports": 41}
    assert real.errors == ()
    assert any(c.startswith("records_screened (41) = records_after_duplicates (39)") for c in real.checked)

def test_real_sheet_has_no_typed_in_derived_values():
    with SHEET.open(encoding="utf-8", newline="") as handle:
        statuses = {row["status"] for row in csv.DictReader(handle)}
    assert statuses <= {"reported", "NR"}

@pytest.mark.skipif(not SOURCE.exists(), reason="review text not available next to the clone")
def test_quotes_are_the_reviews_words():
    text = re.sub(r"\s+", " ", SOURCE.read_text(encoding="utf-8"))
    with SHEET.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        quote = re.sub(r"\s+", " ", row["source_quote"]).strip()
        if row["status"] == "reported" or quote:
            assert quote and quote in text, (row["data"], row["reason"], quote)
        if row["status"] == "reported":
            n = int(row["n"])
            spelled = NUMBER_WORDS.get(n, ())
            assert re.search(rf"(?<!\d){n}(?!\d)", quote) or any(w in quote for w in spelled), row
    # the figures of the selection paragraph, as the review prints them
    for phrase in ("yielded 39 articles", "removing 20 duplicating records", "all 41 identified records",
                   "The full text of these 41 articles", "24 records were excluded",
                   "A total of 17 eligible articles"):
        assert phrase in text

def test_cli_on_real_sheet(tmp_path, capsys):
    rc = prisma.main(["--sheet", str(SHEET), "--svg", str(tmp_path / "p.svg"), "--counts", str(tmp_path / "c.csv")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "identities checked" in out and "used to derive" in out
    with (tmp_path / "c.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    status = {(r["data"], r["reason"]): (r["n"], r["status"]) for r in rows}
    assert status[("dbr_sought_reports", "")] == ("41", "derived")
    assert status[("database_results", "")] == ("", "NR")
    assert status[("new_studies", "")] == ("17", "reported")
    assert all(r["derivation"] for r in rows if r["status"] == "derived")

def test_diagram_contains_every_count_and_reason(real, tmp_path):
    svg = draw(real.counts, tmp_path)
    words = svg_text(svg)
    for phrase in ("Identification", "Screening", "Included",
                   "Identification of studies via databases and registers",
                   "Identification of studies via other methods",
                   "PubMed", "Cochrane", "Embase", "Databases (n = NR)",
                   "Duplicate records (n = 20)", "Records removed for other reasons (n = NR)",
                   "(n = 39)", "Citation searching (n = 2)", "Records screened (n = 41)",
                   "Records excluded (n = 0, derived)", "(n = 41, derived)", "(n = 0, derived)",
                   "Reports assessed for eligibility (n = 41)", "Reports excluded (n = 24)",
                   "Studies included in review (n = 17)", "Reports of included studies (n = 17)"):
        assert phrase in words, phrase
    for reason in real.counts.items("dbr_excluded"):
        assert f"{reason.reason} ({reason.label()})" in words

def test_diagram_is_deterministic(real, tmp_path):
    svg1 = draw(real.counts, tmp_path, "a")
    svg2 = draw(real.counts, tmp_path, "b")
    assert svg1.read_bytes() == svg2.read_bytes()

@pytest.mark.parametrize("which", ["real", "unpooled"])
def test_layout_text_fits_and_boxes_do_not_overlap(which, real, tmp_path):
    counts = real.counts if which == "real" else validated_counts(
        write_sheet(tmp_path / "s.csv", CONSISTENT)).counts
    boxes = prisma._layout(counts)[0]
    for name, box in boxes.items():
        for line, bold in box.lines:
            width = prisma._text_width_pt(line, prisma.BODY_PT, bold, box.italic) / 72
            assert width <= box.width - 2 * prisma.PAD_IN + 1e-9, (name, line)
        assert box.x + box.width <= prisma.FIG_WIDTH_IN
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not _overlap(boxes[a], boxes[b]), (a, b)
