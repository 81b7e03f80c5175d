"""The audit of every number in the rendered paper (engine/audit.py).

Unit tests feed the audit small hand-written HTML pages and PDFs; the build tests audit the real
``_manuscript/index.html`` and ``index.pdf``, whose values are compared with a registry recomputed from
data/raw (never with results/values.yml).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
import typst

from engine.audit import (
    NUMERIC_TOKEN,
    Rendered,
    audit,
    check_pdf,
    check_unmarked,
    check_values,
    count_display,
    main,
    normalise_pdf_text,
    read_pdf_text,
)
from engine.recompute import fresh_displays
from tests.conftest import OUTPUT, RAW, REPO, REVIEW

HTML, PDF = OUTPUT / "index.html", OUTPUT / "index.pdf"
QMD = REPO / "manuscript" / "index.qmd"


def page(body: str) -> str:
    """A minimal rendered page around ``body``."""
    return f"<!DOCTYPE html><html><head><title>T 2024</title><style>p {{ width: 10px }}</style></head>" \
           f"<body><main>{body}</main></body></html>"


def value(key: str, display: str) -> str:
    return f'<span class="value" data-key="{key}" title="{key}: what [rule values]">{display}</span>'


def kinds(body: str) -> list[tuple[str, str]]:
    return [(token.text, token.kind) for token in Rendered(page(body)).tokens()]


def findings(body: str, displays: dict[str, str] | None = None) -> list[str]:
    return [f.message for f in audit(page(body), displays or {}).findings]


# --- tokens -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, tokens", [
    ("76 of 80", ["76", "80"]),
    ("46.2 years, 95% and 22.22%", ["46.2", "95%", "22.22%"]),
    ("high dose (2–2.1 g/kg), 0.4-0.5 g/kg", ["2–2.1", "0.4-0.5"]),
    ("(76/80, 95%) and a ratio of 1:2.43", ["76/80", "95%", "1:2.43"]),
    ("a difference of −0.5 or -3", ["−0.5", "-3"]),
    ("plasminogen activator inhibitor-1, PGE1", ["1", "1"]),
    ("1,000 patients in 2,3 groups", ["1,000", "2", "3"]),
    ("about ½ of them", ["½"]),
    ("I² and τ² are notation", []),
])
def test_numeric_tokens(text: str, tokens: list[str]) -> None:
    assert NUMERIC_TOKEN.findall(text) == tokens


# --- what fails and what passes -------------------------------------------------------------------------


def test_unmarked_number_in_prose_fails_quoting_its_sentence() -> None:
    messages = findings("<p>The review is long. Of these, 42 patients\nimproved. Nothing else.</p>")
    assert len(messages) == 1
    assert "'42'" in messages[0]
    assert messages[0].endswith(": Of these, 42 patients improved.")


def test_unmarked_number_in_a_caption_fails() -> None:
    body = ('<figure id="fig-prisma" class="quarto-float quarto-float-fig">'
            '<img src="data:image/svg+xml;base64,PHN2Zy8+" alt="PRISMA 2020 flow diagram" />'
            '<figcaption><span class="quarto-float-caption-prefix">Figure 1:</span> PRISMA 2020 flow '
            'diagram.</figcaption></figure>')
    assert kinds(body) == [("1", "structure"), ("2020", "unmarked")]
    assert findings(body) == ["unmarked number '2020' (fig-prisma figcaption): Figure 1: PRISMA 2020 flow diagram."]


def test_unmarked_number_in_the_title_block_fails_but_affiliation_marks_pass() -> None:
    body = ('<header id="title-block-header"><h1 class="title">IVIG</h1><p class="subtitle">Ther Adv 2022</p>'
            '<p class="authors">Gao<sup class="affiliation-marks">1</sup></p>'
            '<ul class="affiliations"><li><sup class="affiliation-mark">1</sup> Beijing</li></ul>'
            '<p class="date">2024-05-01</p></header>')
    assert kinds(body) == [("2022", "unmarked"), ("1", "structure"), ("1", "structure"),
                           ("2024-05-01", "structure")]


def test_value_span_with_the_right_display_passes() -> None:
    body = f"<p>Of all patients, {value('responders', '76')} responded ({value('response_pct', '95%')}).</p>"
    assert kinds(body) == [("76", "bound"), ("95%", "bound")]
    assert findings(body, {"responders": "76", "response_pct": "95%"}) == []


def test_value_span_with_an_unknown_key_fails() -> None:
    messages = findings(f"<p>We found {value('no_such_key', '17')} studies.</p>", {"n_studies": "17"})
    assert messages == ["value span with unknown key 'no_such_key' showing '17': We found 17 studies."]


def test_value_span_with_a_stale_display_fails() -> None:
    messages = findings(f"<p>The response was {value('response_pct', '95%')}.</p>", {"response_pct": "93.75%"})
    assert messages == ["value 'response_pct' shows '95%' but the data give '93.75%': The response was 95%."]


def test_a_digit_typed_next_to_a_value_span_fails() -> None:
    assert kinds(f"<p>{value('n_studies', '17')}0 studies</p>") == [("17", "bound"), ("0", "unmarked")]


def test_literal_numbers_pass_also_inside_words() -> None:
    body = ('<p>anti-β<span class="lit" data-source="name">2</span>-GPI antibodies since '
            '<span class="lit" data-source="date">1999</span>, in <span class="lit" data-source="Smith 2020">80</span>%'
            ' of patients.</p>')
    assert kinds(body) == [("2", "literal"), ("1999", "literal"), ("80", "literal")]
    assert [t.reads for t in Rendered(page(body)).tokens()] == ["2", "1999", "80%"]
    assert findings(body) == []


def test_a_number_inside_a_word_fails_naming_the_word() -> None:
    messages = findings("<p>the plasminogen activator inhibitor-1 promoter</p>")
    assert messages == ["unmarked number '1' in 'inhibitor-1' (body p): the plasminogen activator inhibitor-1 "
                        "promoter"]


def test_citation_link_numbers_pass_but_a_typed_locator_fails() -> None:
    body = ('<p>As shown <span class="citation" data-cites="a b">(<a href="#ref-a" role="doc-biblioref">6</a>–'
            '<a href="#ref-b" role="doc-biblioref">8</a>, p. 33)</span>.</p>')
    assert kinds(body) == [("6", "structure"), ("8", "structure"), ("33", "unmarked")]


def test_section_numbers_cross_references_and_bibliography_pass() -> None:
    body = ('<section id="sec-methods"><h1><span class="header-section-number">2.1</span> Methods</h1>'
            '<p>See <a href="#tbl-dose" class="quarto-xref">Table\u00a04</a>.</p></section>'
            '<div id="refs"><div id="ref-a" class="csl-entry"><div class="csl-left-margin">1. </div>'
            '<div class="csl-right-inline">Gao Y. Ther Adv. 2022;13:1–13.</div></div></div>'
            '<p><a href="#fn1" class="footnote-ref" role="doc-noteref"><sup>1</sup></a></p>'
            '<nav id="TOC"><ul><li><a href="#sec-methods"><span class="toc-section-number">2.1</span> Methods</a>'
            '</li></ul></nav>')
    assert [kind for _, kind in kinds(body)] == ["structure"] * 7
    assert findings(body) == []


def test_a_table_number_typed_in_prose_fails() -> None:
    messages = findings("<p>Table 1 of the review lists them.</p>")
    assert messages == ["unmarked number '1' (body p): Table 1 of the review lists them."]


def test_table_cells_are_table_but_a_caption_inside_the_table_is_prose() -> None:
    body = ('<figure id="tbl-efficacy" class="quarto-float quarto-float-tbl"><table class="gt_table">'
            '<caption>Outcomes in 2021</caption><thead><tr><th>Per 4 weeks</th></tr></thead>'
            '<tbody><tr><td class="gt_row">10 patients</td></tr></tbody>'
            '<tfoot><tr><td class="gt_sourcenote">(a) 9 patients</td></tr></tfoot></table>'
            '<figcaption><span class="quarto-float-caption-prefix">Table 2:</span> Efficacy (the review’s Table 2).'
            '</figcaption></figure>')
    assert kinds(body) == [("2021", "unmarked"), ("4", "table"), ("10", "table"), ("9", "table"),
                           ("2", "structure"), ("2", "unmarked")]
    where = [t.where for t in Rendered(page(body)).tokens() if t.kind == "table"]
    assert where[1].startswith("tbl-efficacy row 1 ")


def test_code_is_exempt_only_when_it_is_a_file_path() -> None:
    body = "<p>Read <code>data/raw/prisma2.csv</code> and <code>fig1.svg</code>, then set <code>n = 42</code>.</p>"
    assert kinds(body) == [("2", "path"), ("1", "path"), ("42", "unmarked")]


def test_inline_svg_text_is_figure_and_style_is_not_text() -> None:
    body = ('<figure id="fig-x"><svg viewBox="0 0 10 10"><text x="1" y="2">n = 41</text></svg></figure>'
            '<style>td { padding: 3px }</style><script>var x = 1;</script>')
    assert kinds(body) == [("41", "figure")]


def test_the_summary_counts_every_kind() -> None:
    body = (f'<p>{value("n_studies", "17")} studies since <span class="lit">1999</span> '
            f'(<a class="quarto-xref" href="#tbl-x">Table 1</a>) and 42 more.</p>')
    result = audit(page(body), {"n_studies": "17"})
    assert result.counts() == {"bound": 1, "literal": 1, "structure": 1, "table": 0, "path": 0, "figure": 0,
                               "unmarked": 1}


def test_spelt_out_numbers_are_listed_not_failed() -> None:
    result = audit(page("<p>Two investigators read sixteen reports.</p>"), {})
    assert result.ok
    assert result.spelled == ("'Two': Two investigators read sixteen reports.",
                              "'sixteen': Two investigators read sixteen reports.")


def test_the_cli_prints_the_summary_and_exits_1_on_a_problem(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "values.yml"
    registry.write_text("n_studies: {value: 17, display: '17', description: d, made_by: m}\n", encoding="utf-8")
    clean, typed = tmp_path / "clean.html", tmp_path / "typed.html"
    clean.write_text(page(f"<p>{value('n_studies', '17')} studies.</p>"), encoding="utf-8")
    typed.write_text(page(f"<p>{value('n_studies', '17')} studies. Of these, 42 improved.</p>"), encoding="utf-8")
    assert main(["--html", str(clean), "--registry", str(registry)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "audit: 1 bound, 0 literal, 0 structure, 0 table, 0 path, 0 figure, 0 unmarked; 1 value spans, 1 keys",
        "audit: OK"]
    assert main(["--html", str(typed), "--registry", str(registry)]) == 1
    assert "  FAIL [unmarked] unmarked number '42' (body p): Of these, 42 improved." in capsys.readouterr().out


# --- PDF ---------------------------------------------------------------------------------------------------


def test_pdf_text_is_normalised() -> None:
    text = "vascu-\nlopathy re\xad\nsponded in 1.8–\n50.4 months, data/raw/\nprisma.csv, inhibitor-\n1 at\xa095%"
    assert normalise_pdf_text(text) == ("vasculopathy responded in 1.8–50.4 months, data/raw/prisma.csv, "
                                        "inhibitor-1 at 95%")


@pytest.mark.parametrize("display, count", [("95%", 1), ("95", 0), ("17", 2), ("76/80", 1), ("1", 0),
                                            ("0.5", 0), ("2", 1)])
def test_displays_are_counted_as_whole_numbers(display: str, count: int) -> None:
    text = "95% and 95.38% in 17 of 2017 studies, 76/80 (1.17), 0.4-0.5 g/kg, anti-β2-GPI, 17."
    assert count_display(text, display) == count


def test_pdf_check_on_a_real_pdf_catches_a_lost_value(tmp_path: Path) -> None:
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(typst.compile(b'#set page(width: 6cm)\n#set text(hyphenate: true, lang: "en")\n'
                                  b"Of all patients, 76 responded (76/80, 95%); in the high-dose group "
                                  b"responded 95.38%."))
    pdf_plain = normalise_pdf_text(read_pdf_text(pdf))
    html_plain = "Of all patients, 76 responded (76/80, 95%). The crude response of 95% is 93.75% now."
    assert "76/80" in pdf_plain
    assert check_pdf(["76", "76/80"], html_plain, pdf_plain) == []
    assert [(f.rule, f.message) for f in check_pdf(["95%", "93.75%"], html_plain, pdf_plain)] == [
        ("pdf-missing", "'93.75%' occurs 0 time(s) in the PDF text but 1 time(s) in the HTML"),
        ("pdf-count", "'95%' occurs 1 time(s) in the PDF text but 2 time(s) in the HTML")]


def test_pdf_check_leaves_out_a_number_it_cannot_count() -> None:
    assert check_pdf(["1"], "the plasminogen activator inhibitor-1 promoter", "") == []


# --- fresh values ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    return fresh_displays(REVIEW)


def test_fresh_values_are_recomputed_from_the_raw_sheets(fresh: dict[str, str]) -> None:
    with open(RAW / "outcomes.csv", newline="", encoding="utf-8") as handle:
        responders = sum(int(row["responders"]) for row in csv.DictReader(handle) if row["responders"] != "NA")
    with open(RAW / "studies.csv", newline="", encoding="utf-8") as handle:
        patients = sum(int(row["patients"]) for row in csv.DictReader(handle))
    assert fresh["responders"] == str(responders)
    assert fresh["response_ratio"] == f"{responders}/{patients}"


# --- the built paper ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(built_paper: None) -> Rendered:
    """The built paper's HTML; the tests below fail, never skip, when it is missing or stale."""
    return Rendered(HTML.read_text(encoding="utf-8"))


def test_the_paper_has_no_unmarked_number(built: Rendered) -> None:
    unmarked = [f.message for f in check_unmarked(built.tokens())]
    assert not unmarked, f"{len(unmarked)} unmarked number(s):\n" + "\n".join(unmarked)


def test_every_value_in_the_paper_is_fresh_from_the_raw_data(built: Rendered, fresh: dict[str, str]) -> None:
    spans = built.values()
    problems = [f.message for f in check_values(spans, fresh)]
    assert spans, "the paper quotes no value"
    assert not problems, "\n".join(problems)


def test_every_value_and_literal_of_the_source_reaches_the_html(built: Rendered) -> None:
    source = re.sub(r"^```\{=comment\}\n.*?^```$", "", QMD.read_text(encoding="utf-8"), flags=re.S | re.M)
    keys = Counter(re.findall(r"\{\{<\s*meta\s+v\.([A-Za-z0-9_-]+)\s*>\}\}", source))
    literals = Counter(number for marked in re.findall(r"\[([^\[\]]*)\]\{\.lit(?:\s[^}]*)?\}", source)
                       for number in NUMERIC_TOKEN.findall(marked))
    assert Counter(span.key for span in built.values()) == keys
    assert Counter(t.text for t in built.tokens() if t.kind == "literal") == literals


def test_every_value_and_literal_reaches_the_pdf(built: Rendered) -> None:
    numbers = [span.text for span in built.values()] + [t.reads for t in built.tokens() if t.kind == "literal"]
    problems = check_pdf(numbers, built.text(), normalise_pdf_text(read_pdf_text(PDF)))
    assert not problems, "\n".join(f.message for f in problems)
