"""What keeps `quarto render` and the Pandoc path rendering the same paper, checked without Quarto.

The sources must keep the settings both renderers need (manuscript/README.md, "Two engines"): the
review-engine extension registered and reachable from every project, the filter it contributes being the
file the Pandoc path runs, Quarto's HTML table processing off, citeproc for Typst, the stamp's metadata
file listed, Quarto's .gitignore lines committed. A change that would break the Quarto path fails here.

The filter's Quarto driver is run by Pandoc with a stand-in for Quarto's `quarto` Lua table (its
`version` and `doc.input_file`, the only members the filter uses): what Quarto itself does around it
(shortcodes, cross-references, FloatRefTarget nodes) only the parity test
(tests/review/test_quarto_parity.py) checks, where Quarto is installed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from engine import render

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSION_FILE = REPO_ROOT / "_extensions" / render.EXTENSION_NAME / "_extension.yml"
# The lines quarto-cli src/project/project-gitignore.ts (ensureGitignore) appends to a project's .gitignore
# when they are missing: committed, Quarto leaves the tracked file alone.
QUARTO_GITIGNORE = ("/.quarto/", "**/*.quarto_ipynb")


def projects() -> list[Path]:
    """This review's project and every review below examples/ that has its own _quarto.yml."""
    return [REPO_ROOT, *sorted(path.parent for path in REPO_ROOT.glob("examples/*/_quarto.yml"))]


def project_config(root: Path) -> dict:
    return yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))


def project_documents(root: Path) -> list[Path]:
    return [root / name for name in (project_config(root).get("project") or {}).get("render", [])]


def test_the_extension_contributes_the_filter_the_pandoc_path_runs() -> None:
    manifest = yaml.safe_load(EXTENSION_FILE.read_text(encoding="utf-8"))
    (contributed,) = manifest["contributes"]["filters"]
    assert (EXTENSION_FILE.parent / contributed["path"]).resolve() == render.LUA_FILTER.resolve()
    # After Quarto's shortcodes and cross-references, before it renders the floats.
    assert contributed["at"] == "post-quarto"
    assert render.LUA_FILTER.is_file()


@pytest.mark.parametrize("root", projects(), ids=lambda root: root.relative_to(REPO_ROOT).as_posix() or ".")
def test_each_project_keeps_the_settings_both_renderers_share(root: Path) -> None:
    config = project_config(root)
    assert render.EXTENSION_NAME in (config.get("filters") or []), (
        "_quarto.yml: filters must name the extension"
    )
    assert "results/render-meta.yml" in config.get("metadata-files", []), "the stamp's metadata file"
    assert config.get("html-table-processing") == "none", "Quarto would print every table twice in the PDF"
    typst = (config.get("format") or {}).get("typst") or {}
    assert typst.get("citeproc") is True, "Quarto's Typst would format the bibliography without the CSL"
    assert config.get("from") == render.SUBSET_READER


@pytest.mark.parametrize("root", projects(), ids=lambda root: root.relative_to(REPO_ROOT).as_posix() or ".")
def test_quarto_finds_the_extension_from_each_document(root: Path) -> None:
    """As quarto-cli src/extension/extension.ts (inputExtensionDirs) looks: the `_extensions` folders from
    the document's folder up to the project's, a folder link followed (Deno.statSync follows links)."""
    documents = project_documents(root)
    assert documents, f"{root / '_quarto.yml'}: project.render names no document"
    for document in documents:
        folders = [document.parent, *document.parent.parents]
        searched = folders[: folders.index(root) + 1]
        found = [
            folder / "_extensions" / render.EXTENSION_NAME
            for folder in searched
            if (folder / "_extensions" / render.EXTENSION_NAME / "_extension.yml").is_file()
        ]
        assert found, f"no _extensions/{render.EXTENSION_NAME} between {document.parent} and {root}"
        assert found[0].resolve() == EXTENSION_FILE.parent.resolve(), "a second copy of the extension"


@pytest.mark.parametrize("root", projects(), ids=lambda root: root.relative_to(REPO_ROOT).as_posix() or ".")
def test_quarto_gitignore_lines_are_committed(root: Path) -> None:
    lines = {line.strip() for line in (root / ".gitignore").read_text(encoding="utf-8").splitlines()}
    assert set(QUARTO_GITIGNORE) <= lines


# --- the filter's Quarto driver, run by Pandoc with a stand-in `quarto` table ---------------------------

STAMP_META = """\
render-info:
  source-base: \\.\\./
  stamp:
  - label: commit
    value: 0123456789ab
  - label: built
    value: 2024\\-05\\-02
"""


def run_quarto_driver(
    tmp_path: Path, markdown: str, to: str, meta: str = STAMP_META
) -> subprocess.CompletedProcess:
    (tmp_path / "index.qmd").write_text(markdown, encoding="utf-8")
    (tmp_path / "render-meta.yml").write_text(meta, encoding="utf-8")
    stand_in = tmp_path / "under-quarto.lua"
    stand_in.write_text(
        f'quarto = {{ version = pandoc.types.Version("1.10.18"), doc = {{ input_file = "{tmp_path}/index.qmd" }} }}\n'
        f'return dofile("{render.LUA_FILTER}")\n',
        encoding="utf-8",
    )
    return subprocess.run(
        [render.pandoc_executable(), str(tmp_path / "index.qmd"), "--metadata-file", str(tmp_path / "render-meta.yml"),
         "--lua-filter", str(stand_in), "--to", to],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


VALUE = 'We included [17]{.value key="n" title="n: studies [count (engine/values.py)]"} studies.\n'


def test_under_quarto_the_stamp_opens_the_body_and_names_the_renderer(tmp_path: Path) -> None:
    html = run_quarto_driver(tmp_path, VALUE, "html")
    assert html.returncode == 0, html.stderr
    body = BeautifulSoup(html.stdout, "lxml").body
    stamp = body.find()
    assert stamp.name == "div" and stamp["class"] == ["build-stamp"]
    labels = [label.get_text() for label in stamp.select(".build-item > .build-label")]
    assert labels == ["commit", "built", "renderer"]
    pandoc_version = subprocess.run(
        [render.pandoc_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    # Pandoc wraps lines: collapse the ASCII spaces and line breaks, not the no-break spaces.
    assert re.sub(r"[ \n]+", " ", stamp.get_text()).strip(" ") == (
        f"commit: 0123456789ab · built: 2024-05-02 · renderer: Quarto\u00a01.10.18 (Pandoc\u00a0{pandoc_version})"
    )
    assert body.select_one("span.value")["data-made-by"] == "engine/values.py"


def test_under_quarto_the_pdf_gets_the_long_table_rule_for_quartos_float_kind(tmp_path: Path) -> None:
    typst = run_quarto_driver(tmp_path, VALUE, "typst")
    assert typst.returncode == 0, typst.stderr
    head = typst.stdout.splitlines()[:4]
    assert '#show figure.where(kind: "quarto-float-tbl"): set block(breakable: true)' in head
    assert "#set table.cell(breakable: false)" in head
    assert "commit: 0123456789ab · built: 2024-05-02" in " ".join(typst.stdout.split())


@pytest.mark.parametrize(
    "quarto_output, message",
    [
        ("**?meta:v.no_such_key**", "unknown value key 'v.no_such_key'"),
        ("**?@fig-nowhere**", "unresolved cross-reference @fig-nowhere"),
    ],
)
def test_under_quarto_what_quarto_only_warns_about_fails(
    tmp_path: Path, quarto_output: str, message: str
) -> None:
    # Quarto writes an unknown meta key or an unresolved reference as this bold text, with a warning.
    result = run_quarto_driver(tmp_path, f"See {quarto_output} here.\n", "html")
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "meta, message",
    [
        ("title: no stamp\n", "metadata `render-info` missing"),
        (STAMP_META.replace("value: 0123456789ab", "value: '*bold*'"), "is not plain text (Emph)"),
    ],
)
def test_the_stamp_file_must_be_there_and_plain(tmp_path: Path, meta: str, message: str) -> None:
    result = run_quarto_driver(tmp_path, VALUE, "html", meta=meta)
    assert result.returncode != 0
    assert message in result.stderr
    assert "results/render-meta.yml" in result.stderr
