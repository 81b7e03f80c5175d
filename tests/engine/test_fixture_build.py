"""A whole build of a minimal fixture review with the repository's Snakefile: no PRISMA sheet, no claims, no
plug-in, no subgroup, one declared table and one forest plot. The Snakefile derives its jobs from the
manifest, so it asks for no output this review does not have; a value the data cannot give stops the render
with the key and the reason."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.values import read_absent, read_displays
from tests.conftest import REPO
from tests.engine.review_fixture import MANIFEST, write_review

CONFIG = """\
review: config/review.yaml
raw_dir: data/raw
results_dir: results
manuscript: manuscript/index.qmd
output_dir: _manuscript
bibliography: manuscript/references.bib
render_engine: pandoc
"""

QUARTO = """\
project:
  type: default
  output-dir: _manuscript
  render:
    - manuscript/index.qmd
metadata-files:
  - results/values-meta.yml
  - results/render-meta.yml
bibliography: manuscript/references.bib
csl: manuscript/vancouver.csl
number-sections: true
lang: en
from: markdown-raw_html-raw_tex-tex_math_dollars-tex_math_single_backslash
"""

PAPER = """\
---
title: "A fixture review"
---

# Results {#sec-results}

We pooled {{< meta v.n_studies >}} studies of {{< meta v.n_patients >}} patients: the pooled proportion is
{{< meta v.ma_all_glmm_pct >}} ({{< meta v.ma_all_glmm_ci >}}; @fig-forest, @tbl-studies).
QUOTE

![Forest plot.](../results/figures/forest.svg){#fig-forest}

::: {#tbl-studies}

{{< include ../results/tables/studies.md >}}

The studies.
:::
"""

ROWS = """
1,Ames,2001,NA,3,4,hospital
2,Berg,2002,NA,5,9,clinic
3,Cole,2003,NA,8,10,hospital
"""


def make_project(root: Path, quote: str = "") -> Path:
    manifest = copy.deepcopy(MANIFEST)
    manifest["figures"] = {"forest": {"forest": "ma_all"}}
    write_review(root, ROWS, manifest)
    (root / "config" / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "_quarto.yml").write_text(QUARTO, encoding="utf-8")
    (root / "manuscript").mkdir()
    shutil.copy(REPO / "manuscript" / "vancouver.csl", root / "manuscript" / "vancouver.csl")
    (root / "manuscript" / "references.bib").write_text("", encoding="utf-8")
    (root / "manuscript" / "index.qmd").write_text(PAPER.replace("QUOTE", quote), encoding="utf-8")
    return root


def snakemake(project: Path) -> subprocess.CompletedProcess[str]:
    search_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores", "2",
                           "--directory", str(project)], capture_output=True, text=True, check=False,
                          env={**os.environ, "PATH": search_path})


@pytest.mark.slow
def test_a_minimal_review_builds_with_only_the_jobs_it_declares(tmp_path: Path) -> None:
    project = make_project(tmp_path / "review")
    result = snakemake(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "_manuscript" / "index.html").is_file() and (project / "_manuscript" / "index.pdf").is_file()
    made = {path.relative_to(project).as_posix() for path in (project / "results").rglob("*")
            if path.is_file() and "logs" not in path.parts}
    # No PRISMA, no ledger, no plug-in figure: the Snakefile asked for none of them.
    assert not any("prisma" in name or "ledger" in name for name in made)
    assert {"results/figures/forest.svg", "results/tables/studies.md", "results/values.yml"} <= made
    displays = read_displays(project / "results" / "values.yml")
    assert (displays["n_studies"], displays["n_patients"]) == ("3", "23")
    html = (project / "_manuscript" / "index.html").read_text(encoding="utf-8")
    assert 'data-key="ma_all_glmm_pct"' in html and "Ames 2001" in html
    assert read_absent(project / "results" / "values.yml")["n_countries"] == "no row of studies reports country"


@pytest.mark.slow
def test_quoting_a_value_the_data_cannot_give_stops_the_render_with_the_reason(tmp_path: Path) -> None:
    project = make_project(tmp_path / "review", quote="The studies come from {{< meta v.n_countries >}} countries.")
    result = snakemake(project)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "value 'v.n_countries' has no number: no row of studies reports country [absent-value]" in output
    assert "manuscript/index.qmd:" in output
