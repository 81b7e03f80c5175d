"""Nothing from outside the project reaches the paper (issue 16, cases 1 and 3).

An include, an image or a raw HTML resource naming a file outside the project, directly or through a
symbolic link in manuscript/, or a path naming no file, is a lint problem at its line; Typst code in a raw
block reads only the render's declared inputs. The secret is a file beside the project, never inside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from engine import render
from engine.render import RenderError, lint_manuscript, split_unmade
from tests.engine.test_render import BODY, FLOW_SVG, make_project, pdf_text

KEYS, BIB_KEYS = {"n_studies", "response_rate"}, {"smith2020", "jones2019"}
SECRET = "the-secret-of-the-machine"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the project, holding a text file and an SVG image that must never be published."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
    (folder / "secret.svg").write_text(FLOW_SVG.replace("</svg>", f"<text>{SECRET}</text></svg>"), encoding="utf-8")
    return folder


def project_with(tmp_path: Path, addition: str) -> Path:
    return make_project(tmp_path / "project", body=BODY.replace("## Details\n", f"{addition}\n\n## Details\n"))


def problems_of(qmd: Path) -> list[tuple[int, str, str]]:
    return [(problem.line, problem.rule, problem.what) for problem in lint_manuscript(qmd, KEYS, BIB_KEYS)]


def line_of(qmd: Path, text: str) -> int:
    return qmd.read_text(encoding="utf-8").splitlines().index(text) + 1


@pytest.mark.parametrize("written", ["../../outside/secret.txt", "../../../../../../../../../../../etc/hostname"])
def test_an_include_outside_the_project_is_refused(tmp_path: Path, outside: Path, written: str) -> None:
    qmd = project_with(tmp_path, f"{{{{< include {written} >}}}}")
    ((line, rule, what),) = problems_of(qmd)
    assert (line, rule) == (line_of(qmd, f"{{{{< include {written} >}}}}"), "include")
    assert what.startswith(f"included file {written} is outside the project")


def test_an_include_of_a_link_out_of_the_project_is_refused(tmp_path: Path, outside: Path) -> None:
    qmd = project_with(tmp_path, "{{< include notes.md >}}")
    (qmd.parent / "notes.md").symlink_to(outside / "secret.txt")
    ((_, rule, what),) = problems_of(qmd)
    assert rule == "include" and "is a symbolic link to" in what and "outside the project" in what


def test_an_include_naming_no_file_is_refused_at_its_line(tmp_path: Path) -> None:
    qmd = project_with(tmp_path, "{{< include _table2.qmd >}}")
    assert [(line, rule) for line, rule, _ in problems_of(qmd)] == [
        (line_of(qmd, "{{< include _table2.qmd >}}"), "include")]


@pytest.mark.parametrize("kind", ["absolute", "link", "missing"])
def test_an_image_outside_the_project_or_missing_is_refused(tmp_path: Path, outside: Path, kind: str) -> None:
    source = {"absolute": "../../outside/secret.svg", "link": "figures/linked.svg", "missing": "figures/flw.svg"}[kind]
    qmd = project_with(tmp_path, f"![An image]({source})")
    if kind == "link":
        (qmd.parent / "figures" / "linked.svg").symlink_to(outside / "secret.svg")
    ((line, rule, what),) = problems_of(qmd)
    assert (line, rule) == (line_of(qmd, f"![An image]({source})"), "image")
    assert {"absolute": "is outside the project", "link": "symbolic link", "missing": "image not found"}[kind] in what


def test_a_raw_html_resource_outside_the_project_is_refused(tmp_path: Path, outside: Path) -> None:
    tag = '<img src="../../outside/secret.svg" alt="x">'
    qmd = project_with(tmp_path, f"```{{=html}}\n{tag}\n```")
    ((line, rule, what),) = problems_of(qmd)
    assert rule == "image"
    assert line == line_of(qmd, tag) and "raw HTML resource ../../outside/secret.svg is outside the project" in what


def test_typst_code_reads_only_the_declared_inputs(tmp_path: Path, outside: Path) -> None:
    """A raw Typst block can compute any path below its root; a link in manuscript/ to a file elsewhere,
    or a project file the render does not declare, is not there to read."""
    qmd = project_with(tmp_path, '```{=typst}\n#read("manuscript/notes.txt")\n```')
    (qmd.parent / "notes.txt").symlink_to(outside / "secret.txt")
    job = render.prepare(qmd, tmp_path / "out")
    with pytest.raises(RenderError, match="typst failed"):
        render.render_pdf_pandoc(job)
    (qmd.parent / "notes.txt").unlink()
    (qmd.parent / "notes.txt").write_text(f"{SECRET}\n", encoding="utf-8")
    with pytest.raises(RenderError, match="typst failed"):
        render.render_pdf_pandoc(job)


def test_the_demo_still_renders_its_figure_in_both_formats(tmp_path: Path) -> None:
    """The PDF is compiled from copies of the declared inputs: the figure is among them."""
    qmd = make_project(tmp_path / "project")
    html, pdf = render.render(qmd, tmp_path / "out", engine="pandoc")
    assert "Study selection flow diagram" in pdf_text(pdf)
    assert BeautifulSoup(html.read_text(encoding="utf-8"), "lxml").find("figure", id="fig-flow").img["src"]


def test_a_path_no_file_and_no_rule_provides_is_set_apart(tmp_path: Path) -> None:
    present = tmp_path / "present.md"
    present.write_text("x\n", encoding="utf-8")
    made, typo = Path("results/tables/demographics.md"), Path("results/tables/demographic.md")
    found = split_unmade([present, made, typo], can_make=lambda path: path == "results/tables/demographics.md")
    assert found == ([present, made], [typo])


def test_the_unmade_paths_change_the_render_settings(tmp_path: Path) -> None:
    qmd = make_project(tmp_path / "project")
    settings = tmp_path / "settings.txt"
    render.record_render_settings(settings, qmd, "pandoc")
    os.utime(settings, ns=(0, 0))
    render.record_render_settings(settings, qmd, "pandoc", [Path("results/tables/demographic.md")])
    assert settings.stat().st_mtime_ns > 0
    assert "results/tables/demographic.md" in settings.read_text(encoding="utf-8")
