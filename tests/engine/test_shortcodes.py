"""Value shortcodes in the text: two of them with only punctuation between, and one whose value the data
cannot give (absent from the registry, with the reason)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import render
from tests.conftest import REPO

VALUES = """\
v:
  low: '[2]{.value key="low" title="low: lowest dose [rule values (engine/values.py)]"}'
  high: '[3]{.value key="high" title="high: highest dose [rule values (engine/values.py)]"}'
v_absent:
  n_countries: no row of studies reports country
"""


def project(root: Path, body: str) -> Path:
    (root / "manuscript").mkdir(parents=True)
    (root / "results").mkdir()
    shutil.copy(REPO / "_quarto.yml", root / "_quarto.yml")
    shutil.copy(REPO / "manuscript" / "vancouver.csl", root / "manuscript" / "vancouver.csl")
    (root / "manuscript" / "references.bib").write_text("", encoding="utf-8")
    (root / "results" / "values-meta.yml").write_text(VALUES, encoding="utf-8")
    qmd = root / "manuscript" / "index.qmd"
    qmd.write_text(f'---\ntitle: "Shortcodes"\n---\n\n# Results {{#sec-results}}\n\n{body}\n', encoding="utf-8")
    return qmd


def test_two_shortcodes_joined_by_a_dash_both_render(tmp_path: Path) -> None:
    qmd = project(tmp_path, "Doses ranged {{< meta v.low >}}–{{< meta v.high >}} g/kg.")
    html_path, pdf_path = render.render(qmd, tmp_path / "_manuscript", engine="pandoc")
    html = html_path.read_text(encoding="utf-8")
    assert 'data-key="low"' in html and 'data-key="high"' in html
    assert ">2</span>–<span" in html
    assert "{{&lt;" not in html and "{{<" not in html


def test_quoting_an_absent_value_names_the_key_and_why(tmp_path: Path) -> None:
    qmd = project(tmp_path, "The studies come from {{< meta v.n_countries >}} countries.")
    with pytest.raises(render.RenderError) as raised:
        render.render(qmd, tmp_path / "_manuscript", engine="pandoc")
    assert "value 'v.n_countries' has no number: no row of studies reports country [absent-value]" in str(raised.value)
