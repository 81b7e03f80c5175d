"""The provenance report's captions (engine/report/) and the table views of engine/report_views.py.

Snakemake renders each caption as a Jinja template and then as reStructuredText, but only when
``snakemake --report`` runs; these tests render them the same way without a build, so a broken caption
fails here and not in CI's report step. tests/engine/test_bundle.py builds a real report.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
import yaml
from docutils.core import publish_parts

from engine.report_views import table_page
from tests.conftest import REPO, REVIEW

CAPTIONS = REPO / "engine" / "report"
TABLES = list(REVIEW.tables)
# The links Snakemake appends to every caption, so that `Figures_` and the like resolve.
REPORT_LINKS = "\n\n.. _Manuscript: #\n.. _Figures: #\n.. _Tables: #\n.. _Data: #\n"


class Files(SimpleNamespace):
    """A stand-in for a job's named inputs/outputs: attributes by name, iteration over all files."""

    def __iter__(self):
        for value in vars(self).values():
            yield from value if isinstance(value, list) else [value]

    def get(self, name: str, default: object = None) -> object:
        """The named file(s), or ``default``: as Snakemake's ``Namedlist.get``."""
        return getattr(self, name, default)


class Wildcards(SimpleNamespace):
    """A stand-in for a job's wildcards: attributes by name, and ``get`` as Snakemake's ``Wildcards``."""

    def get(self, name: str, default: object = None) -> object:
        return getattr(self, name, default)


def report_config() -> dict[str, object]:
    """The config the captions see: config/config.yaml and what the Snakefile adds to it from the manifest."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    return {**config, "review_title": REVIEW.title,
            "table_captions": {name: spec.get("caption", "") for name, spec in REVIEW.tables.items()}}


def stub_job(table: str = "efficacy") -> SimpleNamespace:
    """The ``snakemake`` object a caption sees, with the inputs and outputs of this project's rules."""
    return SimpleNamespace(
        rule="rule",
        config=report_config(),
        # The wildcards of the Snakefile's rules (table_view, validate_sheet, figure); a job of another rule
        # has none, and a caption asking for one gets "" (as Snakemake's Wildcards.get).
        wildcards=Wildcards(table=table, sheet="outcomes", figure="response-by-study"),
        input=Files(
            sheet="data/raw/outcomes.csv",
            schema="config/schemas/outcomes.schema.yaml",
            related=["data/raw/studies.csv"],
            sheets=["results/validated/studies.csv", "results/validated/outcomes.csv"],
            md=f"results/tables/{table}.md",
            qmd="manuscript/index.qmd",
            values="results/values-meta.yml",
            bibliography="manuscript/references.bib",
        ),
        output=Files(counts="results/derived/prisma_counts.csv", meta="results/values-meta.yml"),
    )


def render_caption(path: Path, job: SimpleNamespace) -> str:
    """The caption as the report shows it; any reStructuredText warning is an error."""
    # Snakemake's own settings: trim_blocks and lstrip_blocks change the whitespace around {% %} tags.
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    text = environment.from_string(path.read_text(encoding="utf-8") + REPORT_LINKS).render(snakemake=job)
    return publish_parts(text, writer="html", settings_overrides={"halt_level": 2, "report_level": 2})["body"]


def snakefile_captions() -> set[str]:
    """Caption files the Snakefile names (``report:`` and ``caption=``, in the engine's folder REPORT_CAPTIONS)."""
    text = (REPO / "Snakefile").read_text(encoding="utf-8")
    assert 'REPORT_CAPTIONS = os.path.relpath(os.path.join(ENGINE_ROOT, "engine", "report"))' in text
    text = text.replace("{REPORT_CAPTIONS}", "engine/report")
    return set(re.findall(r'^report:\s*"([^"]+)"', text, re.MULTILINE)) | set(re.findall(r'caption=f?"([^"]+)"', text))


@pytest.mark.parametrize("path", sorted(CAPTIONS.glob("*.rst")), ids=lambda path: path.name)
def test_caption_renders_without_warnings(path: Path) -> None:
    html = render_caption(path, stub_job())
    assert html.strip() and "{{" not in html and "{%" not in html


@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_its_own_caption(table: str) -> None:
    html = render_caption(CAPTIONS / "table.rst", stub_job(table))
    assert "in the manifest)" not in html
    assert re.search(r"<strong>Table [1-4]\.</strong>", html)


def test_an_unknown_table_is_called_out() -> None:
    html = render_caption(CAPTIONS / "table.rst", stub_job("new-table"))
    text = " ".join(re.sub(r"<[^>]+>", "", html).split())
    assert "Table new-table of the review (no caption in the manifest)." in text


def test_a_broken_caption_fails(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rst"
    broken.write_text("Made from ``{{ snakemake.input.sheet }}.\n", encoding="utf-8")
    with pytest.raises(Exception, match="Inline literal"):
        render_caption(broken, stub_job())


def test_snakefile_uses_every_caption_and_no_missing_one() -> None:
    named = snakefile_captions()
    assert "engine/report/workflow.rst" in named
    assert named == {path.relative_to(REPO).as_posix() for path in CAPTIONS.glob("*.rst")}


def test_table_page_keeps_the_html_block_only(tmp_path: Path) -> None:
    include = tmp_path / "t.md"
    include.write_text(
        "```{=comment}\nGenerated; do not edit.\n```\n\n"
        '```{=html}\n<table id="t"><tr><td>cell &amp; more</td></tr></table>\n```\n\n'
        "```{=typst}\n#table(columns: 1, [typst cell])\n```\n",
        encoding="utf-8",
    )
    page = table_page(include, "Table 9")
    assert page.startswith("<!DOCTYPE html>") and "<title>Table 9</title>" in page
    assert '<table id="t"><tr><td>cell &amp; more</td></tr></table>' in page
    assert "typst cell" not in page and "Generated" not in page
    assert not re.search(r"""(?:src|href)=["']?https?:""", page)
