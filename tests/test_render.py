"""Tests of scripts/render.py (Pandoc engine) and its Quarto-subset lint.

Every test builds a small project in a temporary directory: the repository's
own _quarto.yml and vancouver.csl, a two-entry bibliography, a values file
and a demo manuscript that includes a table file with raw HTML and Typst.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from bs4 import BeautifulSoup

from scripts import render
from scripts.render import RenderError, lint_manuscript

REPO_ROOT = Path(__file__).resolve().parents[1]
HOSTILE_TITLE = "Hostile <script>alert(1)</script> #set $x$ title"

BIB = """\
@article{smith2020,
  author = {Smith, Jane and Doe, John},
  title = {A trial of something},
  journal = {The Lancet},
  year = {2020},
  volume = {395},
  number = {10},
  pages = {100--110}
}
@book{jones2019,
  author = {Jones, Ann},
  title = {Systematic Reviews in Practice},
  publisher = {Academic Press},
  address = {London},
  year = {2019}
}
"""

VALUES = """\
v:
  n_studies: '[17]{.value key="n_studies" title="n_studies (rule values, scripts/values.py)"}'
  response_rate: '[95%]{.value key="response_rate" title="response_rate (rule values, scripts/values.py)"}'
"""

SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="160" viewBox="0 0 400 160">
  <rect x="10" y="10" width="380" height="140" fill="#eef3fa" stroke="#1a4f8b"/>
  <text x="200" y="88" font-size="22" text-anchor="middle">PRISMA flow</text>
</svg>
"""

TABLE = """\
::: {#tbl-studies}
```{=html}
<table><thead><tr><th>Study</th><th>N</th></tr></thead>
<tbody><tr><td>RAWHTMLONLY</td><td>120</td></tr></tbody></table>
```

```{=typst}
#table(columns: 2, table.header([*Study*], [*N*]), [RAWTYPSTONLY], [120])
```

Characteristics of the included studies.
:::
"""

FRONT_MATTER = f"""\
---
title: "{HOSTILE_TITLE}"
subtitle: "A systematic review"
author:
  - name: Ada Lovelace
    affiliations:
      - ref: uni
    corresponding: true
    email: ada@example.org
  - name: Bob Builder
    affiliations:
      - Institute of Things
affiliations:
  - id: uni
    name: University of Somewhere
date: 2024-05-01
lang: en-GB
abstract: |
  **Background:** We searched for trials.

  **Results:** We included {{{{< meta v.n_studies >}}}} studies.
build:
  commit: abc1234
---
"""

BODY = """
# Introduction {#sec-intro}

We included {{< meta v.n_studies >}} studies (response rate {{< meta v.response_rate >}}).
Cochrane was founded in [1993]{.lit} [@smith2020]. See also [@smith2020; @jones2019].

# Methods {#sec-methods}

Selection is shown in @fig-flow and the studies in @tbl-studies; see @sec-intro.

![Study selection flow diagram.](figures/flow.svg){#fig-flow width="60%"}

{{< include _table1.qmd >}}

## Details

Text.

# Acknowledgements {.unnumbered}

Thanks.
"""


def make_project(root: Path, body: str = BODY, front_matter: str = FRONT_MATTER) -> Path:
    """Write the demo project below ``root``; return the path of its qmd."""
    manuscript = root / "manuscript"
    (manuscript / "figures").mkdir(parents=True)
    (root / "results").mkdir()
    shutil.copy(REPO_ROOT / "_quarto.yml", root / "_quarto.yml")
    shutil.copy(REPO_ROOT / "manuscript" / "vancouver.csl", manuscript / "vancouver.csl")
    (manuscript / "references.bib").write_text(BIB, encoding="utf-8")
    (root / "results" / "values-meta.yml").write_text(VALUES, encoding="utf-8")
    (manuscript / "figures" / "flow.svg").write_text(SVG, encoding="utf-8")
    (manuscript / "_table1.qmd").write_text(TABLE, encoding="utf-8")
    qmd = manuscript / "index.qmd"
    qmd.write_text(front_matter + body, encoding="utf-8")
    return qmd


def pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(path)
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")


def text_of(element) -> str:
    return " ".join(element.get_text().split())


def run_cli(qmd: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.render",
            "--qmd",
            str(qmd),
            "--output-dir",
            str(out),
            "--engine",
            "pandoc",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("project")
    qmd = make_project(root)
    return render.render(qmd, root / "_manuscript", engine="pandoc")


@pytest.fixture(scope="module")
def soup(rendered: tuple[Path, Path]) -> BeautifulSoup:
    return soup_of(rendered[0])


@pytest.fixture(scope="module")
def pdf(rendered: tuple[Path, Path]) -> str:
    return pdf_text(rendered[1])


# --- successful render -------------------------------------------------------


def test_outputs_are_named_after_the_qmd(rendered: tuple[Path, Path]) -> None:
    html, pdf_path = rendered
    assert html.name == "index.html" and pdf_path.name == "index.pdf"
    assert pdf_path.read_bytes().startswith(b"%PDF-")


def test_value_spans_carry_key_and_title(soup: BeautifulSoup, pdf: str) -> None:
    values = soup.select("main span.value")
    assert [(v["data-key"], v.get_text()) for v in values] == [("n_studies", "17"), ("response_rate", "95%")]
    assert values[0]["title"] == "n_studies (rule values, scripts/values.py)"
    abstract_value = soup.select_one("section.abstract span.value")
    assert abstract_value["data-key"] == "n_studies"
    assert "We included 17 studies (response rate 95%)" in pdf
    assert "We included 17 studies." in pdf


def test_literal_numbers_stay_marked(soup: BeautifulSoup) -> None:
    assert [span.get_text() for span in soup.select("span.lit")] == ["1993"]


def test_sections_are_numbered(soup: BeautifulSoup, pdf: str) -> None:
    numbers = [
        span.get_text()
        for span in soup.select("main h1 .header-section-number, main h2 .header-section-number")
    ]
    assert numbers == ["1", "2", "2.1"]
    acknowledgements = soup.find("h1", string="Acknowledgements")
    assert acknowledgements is not None and "unnumbered" in acknowledgements["class"]
    assert soup.find(id="sec-intro").name == "section"
    for heading in ("1 Introduction", "2 Methods", "2.1 Details"):
        assert heading in pdf


def test_cross_references_are_numbered_links(soup: BeautifulSoup, pdf: str) -> None:
    links = {a["href"]: text_of(a) for a in soup.select("a.quarto-xref")}
    assert links == {"#fig-flow": "Figure 1", "#tbl-studies": "Table 1", "#sec-intro": "Section 1"}
    assert "Selection is shown in Figure 1 and the studies in Table 1; see Section 1." in pdf


def test_captions_get_numbered_prefixes(soup: BeautifulSoup, pdf: str) -> None:
    figure = soup.find("figure", id="fig-flow")
    table = soup.find("figure", id="tbl-studies")
    assert text_of(figure.figcaption) == "Figure 1: Study selection flow diagram."
    assert text_of(table.figcaption) == "Table 1: Characteristics of the included studies."
    assert "quarto-float-fig" in figure["class"] and "quarto-float-tbl" in table["class"]
    assert "Figure 1: Study selection flow diagram." in pdf
    assert "Table 1: Characteristics of the included studies." in pdf


def test_pdf_cross_references_are_clickable(rendered: tuple[Path, Path]) -> None:
    reader = pypdf.PdfReader(rendered[1])
    internal = [
        annotation.get_object()
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if annotation.get_object().get("/Subtype") == "/Link"
        and "/URI" not in (annotation.get_object().get("/A") or {})
    ]
    assert len(internal) >= 5  # three cross-references and the citation links
    assert "sec-intro" in reader.named_destinations


def test_citations_are_numbered_vancouver(soup: BeautifulSoup, pdf: str) -> None:
    citations = [text_of(c) for c in soup.select("span.citation")]
    assert citations == ["(1)", "(1,2)"]
    first = soup.select_one("span.citation a")
    assert first["href"] == "#ref-smith2020"
    entries = [text_of(e) for e in soup.select("#refs .csl-entry")]
    assert entries[0].startswith("1. Smith J, Doe J. A trial of something.")
    assert entries[1].startswith("2. Jones A. Systematic reviews in practice.")
    assert "References" in pdf and "1. Smith J, Doe J." in pdf
    assert "founded in 1993 (1)" in pdf


def test_include_and_raw_blocks_reach_only_their_format(soup: BeautifulSoup, pdf: str) -> None:
    table = soup.find("figure", id="tbl-studies")
    assert table.find("td", string="RAWHTMLONLY") is not None
    assert "RAWTYPSTONLY" not in str(soup)
    assert "RAWTYPSTONLY" in pdf and "RAWHTMLONLY" not in pdf


def test_html_is_self_contained(soup: BeautifulSoup, rendered: tuple[Path, Path]) -> None:
    assert soup.find("script") is None
    assert all(link["href"].startswith("data:") for link in soup.find_all("link", href=True))
    assert all(img["src"].startswith("data:image/svg+xml") for img in soup.find_all("img"))
    assert soup.find("style") is not None
    assert "http://" not in rendered[0].read_text() and "https://" not in rendered[0].read_text()


def test_front_matter_and_build_stamp(soup: BeautifulSoup, pdf: str) -> None:
    assert soup.html["lang"] == "en-GB"  # the document's lang wins over _quarto.yml's
    assert text_of(soup.select_one(".subtitle")) == "A systematic review"
    assert [text_of(a) for a in soup.select(".authors .author")] == ["Ada Lovelace1", "Bob Builder2"]
    assert [text_of(a) for a in soup.select(".affiliations li")] == [
        "1 University of Somewhere",
        "2 Institute of Things",
    ]
    assert "ada@example.org" in text_of(soup.select_one(".correspondence"))
    assert text_of(soup.select_one(".date")) == "2024-05-01"
    assert text_of(soup.select_one(".build-stamp")) == "commit: abc1234"
    labels = [text_of(s) for s in soup.select("section.abstract strong")]
    assert labels == ["Background:", "Results:"]
    assert "commit: abc1234" in pdf and "Background: We searched for trials." in pdf


def test_hostile_metadata_is_literal_in_both_outputs(soup: BeautifulSoup, pdf: str) -> None:
    assert text_of(soup.select_one("h1.title")) == HOSTILE_TITLE
    assert soup.title.get_text() == HOSTILE_TITLE
    assert soup.find("script") is None and soup.find("math") is None
    assert HOSTILE_TITLE in pdf


def test_pdf_uses_embedded_serif_fonts(rendered: tuple[Path, Path]) -> None:
    reader = pypdf.PdfReader(rendered[1])
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("LibertinusSerif" in font for font in fonts)
    assert abs(float(reader.pages[0].mediabox.width) - 595.28) < 1  # A4


def test_render_is_byte_identical(tmp_path: Path) -> None:
    digests = []
    for name in ("first", "second"):
        qmd = make_project(tmp_path / name)
        html, pdf_path = render.render(qmd, tmp_path / name / "_manuscript", engine="pandoc")
        digests.append(
            (hashlib.sha256(html.read_bytes()).hexdigest(), hashlib.sha256(pdf_path.read_bytes()).hexdigest())
        )
    assert digests[0] == digests[1]


def test_date_keyword_uses_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    qmd = make_project(tmp_path, front_matter=FRONT_MATTER.replace("date: 2024-05-01", "date: today"))
    html, pdf_path = render.render(qmd, tmp_path / "out", engine="pandoc")
    assert text_of(soup_of(html).select_one(".date")) == "2023-11-14"
    assert pypdf.PdfReader(pdf_path).metadata["/CreationDate"].startswith("D:20231114221320")


# --- failures ------------------------------------------------------------------


def test_unknown_value_key_fails_naming_key_and_line(tmp_path: Path) -> None:
    qmd = make_project(tmp_path, body=BODY + "\nWe had {{< meta v.n_ghosts >}} ghosts.\n")
    result = run_cli(qmd, tmp_path / "out")
    assert result.returncode != 0
    line = (FRONT_MATTER + BODY).count("\n") + 2
    assert f"{qmd}:{line}: unknown value key 'v.n_ghosts'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_unresolved_cross_reference_fails(tmp_path: Path) -> None:
    qmd = make_project(tmp_path, body=BODY + "\nSee @fig-missing.\n")
    result = run_cli(qmd, tmp_path / "out")
    assert result.returncode != 0
    assert "unresolved cross-reference @fig-missing" in result.stderr


def test_unknown_citation_fails(tmp_path: Path) -> None:
    qmd = make_project(tmp_path, body=BODY + "\nAs shown before [@ghost2000].\n")
    result = run_cli(qmd, tmp_path / "out")
    assert result.returncode != 0
    assert "unknown citation key @ghost2000" in result.stderr


def test_missing_include_fails(tmp_path: Path) -> None:
    qmd = make_project(tmp_path, body=BODY + "\n{{< include _missing.qmd >}}\n")
    with pytest.raises(RenderError, match=r"included file not found: .*_missing\.qmd"):
        render.render(qmd, tmp_path / "out", engine="pandoc")


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    qmd = make_project(tmp_path, body=BODY + "\n{{< meta v.a >}} @fig-b [@c] @eq-d\n")
    with pytest.raises(RenderError) as error:
        render.render(qmd, tmp_path / "out", engine="pandoc")
    message = str(error.value)
    assert message.startswith("4 Quarto-subset problem(s)")
    for fragment in ("'v.a'", "@fig-b", "@c", "@eq-d"):
        assert fragment in message


def test_lint_reports_each_rule(tmp_path: Path) -> None:
    body = (
        BODY
        + """
{{< var x >}} and {{<meta v.n_studies>}}; see @Fig-flow and @thm-one.
[odd]{.important} [17]{.value key="unknown_key"} [17]{.value key="n_studies" title="ok"} [a](b.html){target=x}

::: {.callout-note}
Note.
:::

<!-- hidden -->

```{python}
print(1)
```

```{=latex}
\\relax
```

```{=comment}
Comments are fine here: @ghost {{< nonsense >}}
```

# Appendix {#appendix}

![Inline](figures/flow.svg){#fig-inline} followed by text.

![Remote](https://example.org/x.png)
"""
    )
    qmd = make_project(tmp_path, body=body)
    problems = lint_manuscript(qmd, {"n_studies", "response_rate"}, {"smith2020", "jones2019"})
    rules = sorted(problem.rule for problem in problems)
    assert rules == sorted(
        [
            "shortcode",
            "shortcode",
            "xref-prefix",
            "xref-prefix",
            "attributes",
            "unknown-value",
            "attributes",
            "attributes",
            "comment",
            "code-cell",
            "raw-format",
            "id",
            "figure",
            "image",
        ]
    )
    assert all(problem.file == qmd.resolve() and problem.line > 0 for problem in problems)


def test_lint_passes_the_demo_and_follows_includes(tmp_path: Path) -> None:
    qmd = make_project(tmp_path)
    assert lint_manuscript(qmd, {"n_studies", "response_rate"}, {"smith2020", "jones2019"}) == []
    problems = lint_manuscript(qmd, {"n_studies", "response_rate"}, {"jones2019"})
    assert {(p.file.name, p.rule) for p in problems} == {("index.qmd", "unknown-citation")}
    (tmp_path / "manuscript" / "_table1.qmd").write_text(
        TABLE.replace("{#tbl-studies}", "{#tbl-studies .wide}")
    )
    problems = lint_manuscript(qmd, {"n_studies", "response_rate"}, {"smith2020", "jones2019"})
    assert [(p.file.name, p.line, p.rule) for p in problems] == [("_table1.qmd", 1, "attributes")]


def test_filter_fails_on_unknown_key_even_without_lint(tmp_path: Path) -> None:
    qmd = make_project(tmp_path)
    job = render.prepare(qmd, tmp_path / "out")
    broken = dataclasses.replace(job, source=job.source + "\nAlso {{< meta v.n_ghosts >}}.\n")
    with pytest.raises(RenderError, match=r"unknown value key 'v\.n_ghosts'"):
        render.render_html_pandoc(broken)


def test_citeproc_warning_is_an_error_even_without_lint(tmp_path: Path) -> None:
    qmd = make_project(tmp_path)
    job = render.prepare(qmd, tmp_path / "out")
    broken = dataclasses.replace(job, source=job.source + "\nSee [@ghost2000].\n")
    with pytest.raises(RenderError, match="ghost2000"):
        render.render_html_pandoc(broken)


def test_reader_must_match_the_subset(tmp_path: Path) -> None:
    qmd = make_project(tmp_path)
    config = tmp_path / "_quarto.yml"
    config.write_text(config.read_text().replace("from: markdown-raw_html", "from: markdown+raw_html"))
    with pytest.raises(RenderError, match="the subset needs from:"):
        render.render(qmd, tmp_path / "out", engine="pandoc")


def test_quarto_engine_moves_outputs_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in `quarto` writes where Quarto does: <output-dir>/manuscript/."""
    qmd = make_project(tmp_path / "project")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "quarto"
    fake.write_text(
        "#!/bin/sh\n"
        'test "$1" = render || exit 2\n'
        'test "$#" = 2 || exit 3\n'
        "mkdir -p _manuscript/manuscript\n"
        'echo "<html>$2 $SOURCE_DATE_EPOCH</html>" > _manuscript/manuscript/index.html\n'
        'echo "%PDF-fake" > _manuscript/manuscript/index.pdf\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "42")
    html, pdf_path = render.render(qmd, None, engine="auto")
    out = tmp_path / "project" / "_manuscript"
    assert (html, pdf_path) == (out / "index.html", out / "index.pdf")
    assert html.read_text().strip() == "<html>manuscript/index.qmd 42</html>"
    assert not (out / "manuscript").exists()
