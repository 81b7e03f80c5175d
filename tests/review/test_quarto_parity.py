"""Parity: `quarto render` and the Pandoc path give a reader the same paper.

Both engines render this repository's manuscript (engine/render.py, --engine quarto and --engine pandoc);
the test compares what a reader reads: the value spans with their provenance, the cross-reference
numbers, the citation numbers and the bibliography, every table cell, the figures, the section headings
and the build stamp (HTML); and in the Quarto PDF each table once, the full ledger, the bibliography
formatted by the CSL under a single heading, the stamp, and no warning from the render.

It needs the Quarto CLI, which cannot be installed where the project is developed: without `quarto` on
PATH the test is skipped, saying so. The publish workflow sets Quarto up and REQUIRE_QUARTO=1, under which
a missing Quarto fails the test instead (manuscript/README.md, "Two engines").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from bs4 import BeautifulSoup

from tests.conftest import REPO, RESULTS

QMD = REPO / "manuscript" / "index.qmd"
# What Quarto and Typst print for a warning.
WARNING = re.compile(r"^(?:WARN(?:ING)?\b|warning:)", re.MULTILINE)


def normalise(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.fixture(scope="module")
def outputs() -> dict[str, tuple[Path, Path, str]]:
    """engine -> (html, pdf, the render's stderr), both engines rendering the built manuscript."""
    if shutil.which("quarto") is None:
        message = "quarto is not on PATH: the parity of the two engines is checked where Quarto is installed"
        if os.environ.get("REQUIRE_QUARTO"):
            pytest.fail(f"REQUIRE_QUARTO is set but {message}")
        pytest.skip(message)
    if not (RESULTS / "values-meta.yml").is_file():
        pytest.fail("the paper is not built (results/values-meta.yml is missing): run `snakemake --cores 4`")
    rendered = {}
    for engine in ("pandoc", "quarto"):
        # Inside the project's (git-ignored) output-dir: Quarto takes --output-dir as project-relative.
        out = REPO / "_manuscript" / "parity" / engine
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run(
            [sys.executable, "-m", "engine.render", "--qmd", str(QMD), "--output-dir", str(out), "--engine", engine],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"--engine {engine} failed:\n{result.stderr}"
        rendered[engine] = (out / "index.html", out / "index.pdf", result.stderr)
    return rendered


@pytest.fixture(scope="module")
def soups(outputs: dict[str, tuple[Path, Path, str]]) -> dict[str, BeautifulSoup]:
    return {
        engine: BeautifulSoup(html.read_text(encoding="utf-8"), "lxml")
        for engine, (html, _, _) in outputs.items()
    }


@pytest.fixture(scope="module")
def quarto_pdf(outputs: dict[str, tuple[Path, Path, str]]) -> str:
    return normalise(" ".join(page.extract_text() for page in pypdf.PdfReader(outputs["quarto"][1]).pages))


@pytest.fixture(scope="module")
def pandoc_pdf(outputs: dict[str, tuple[Path, Path, str]]) -> str:
    return normalise(" ".join(page.extract_text() for page in pypdf.PdfReader(outputs["pandoc"][1]).pages))


def both(soups: dict[str, BeautifulSoup], read) -> tuple[object, object]:
    return read(soups["pandoc"]), read(soups["quarto"])


def value_spans(soup: BeautifulSoup) -> list[tuple[str, str, str]]:
    return [
        (span["data-key"], normalise(span.get_text()), span.get("data-made-by", ""))
        for span in soup.select("span.value")
    ]


def cross_references(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [(link["href"], normalise(link.get_text())) for link in soup.select("a.quarto-xref")]


def citations(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [(cite["data-cites"], normalise(cite.get_text())) for cite in soup.select("span.citation")]


def bibliography(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [(entry["id"], normalise(entry.get_text())) for entry in soup.select("div.csl-entry")]


def table_cells(soup: BeautifulSoup) -> dict[str, list[list[str]]]:
    """Each table float (Pandoc: figure#tbl-x, Quarto: div#tbl-x) -> its rows of cell texts."""
    tables = {}
    for float_ in soup.select('[id^="tbl-"]'):
        if float_.find_parent(id=re.compile(r"^tbl-")) is None and float_.find("table") is not None:
            tables[float_["id"]] = [
                [normalise(cell.get_text()) for cell in row.find_all(["td", "th"])]
                for row in float_.find_all("tr")
            ]
    return tables


def figures(soup: BeautifulSoup) -> list[tuple[str, int, str]]:
    """Each figure float: its id, the images it shows and its caption's source link."""
    found = []
    for float_ in soup.select('[id^="fig-"]'):
        if float_.find_parent(id=re.compile(r"^fig-")) is None:
            link = float_.select_one("span.source-link a")
            found.append((float_["id"], len(float_.find_all("img")), link["href"] if link else ""))
    return found


def headings(soup: BeautifulSoup) -> list[str]:
    return [
        normalise(heading.get_text())
        for heading in soup.find_all(re.compile(r"^h[1-6]$"))
        if heading.find_parent(id="title-block-header") is None
    ]


def stamp(soup: BeautifulSoup) -> str:
    return normalise(soup.select_one(".build-stamp").get_text())


@pytest.mark.parametrize(
    "read", [value_spans, cross_references, citations, bibliography, table_cells, figures, headings]
)
def test_the_html_reads_the_same(soups: dict[str, BeautifulSoup], read) -> None:
    pandoc, quarto = both(soups, read)
    assert pandoc, f"{read.__name__}: nothing found in the Pandoc paper"
    assert quarto == pandoc


def test_the_stamp_is_the_same_and_names_quarto(
    soups: dict[str, BeautifulSoup], pandoc_pdf: str, quarto_pdf: str
):
    pandoc, quarto = both(soups, stamp)
    assert pandoc.startswith("commit: ")
    assert re.fullmatch(re.escape(pandoc) + r" · renderer: Quarto \S+ \(Pandoc \S+\)", quarto), quarto
    assert pandoc in quarto_pdf


def test_the_quarto_pdf_has_each_table_once_and_the_whole_ledger(pandoc_pdf: str, quarto_pdf: str) -> None:
    for caption in ("Table 1:", "Table 2:", "Table 3:", "Table 4:", "Table 5:"):
        assert quarto_pdf.count(caption) == pandoc_pdf.count(caption) == 1, caption
    # Every ledger row's verdict: a ledger cut off at the page end loses most of them.
    assert quarto_pdf.count("reproduced") == pandoc_pdf.count("reproduced")
    assert "&#x27;" not in quarto_pdf


def test_the_quarto_pdf_bibliography_follows_the_csl_under_one_heading(
    pandoc_pdf: str, quarto_pdf: str
) -> None:
    # Typst's own engine adds a "Bibliography" heading after the document's "References".
    assert quarto_pdf.count("Bibliography") == pandoc_pdf.count("Bibliography") == 0
    assert quarto_pdf.count("References") == pandoc_pdf.count("References") == 1
    # Vancouver as the CSL writes it: "et al." (Typst's engine: "others") and "2014;71" (Typst: "2014 ;71").
    assert quarto_pdf.count("et al.") == pandoc_pdf.count("et al.") > 0
    assert quarto_pdf.count("others") == pandoc_pdf.count("others")
    assert not re.search(r"\d{4} ;\d", quarto_pdf)


def test_the_quarto_render_gives_no_warning(outputs: dict[str, tuple[Path, Path, str]]) -> None:
    stderr = outputs["quarto"][2]
    assert not WARNING.search(stderr), stderr
    assert "unknown font" not in stderr and "font weight" not in stderr


def test_the_quarto_render_leaves_no_copies_behind(outputs: dict[str, tuple[Path, Path, str]]) -> None:
    out = outputs["quarto"][0].parent
    assert sorted(path.name for path in out.iterdir()) == ["index.html", "index.pdf"]
