"""The real manuscript stays inside the documented Quarto subset (manuscript/README.md), so that the
Quarto path and the Pandoc path render the same paper; anything outside the subset fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from engine.render import lint_manuscript
from engine.sheets import read_bib_keys
from tests.conftest import BIB, REPO, RESULTS

QMD = REPO / "manuscript" / "index.qmd"


@pytest.fixture(scope="module")
def registry_keys(built_paper: None) -> set[str]:
    """The value keys of the build (the registry and the table includes are generated; the build must be current)."""
    registry = RESULTS / "values.yml"
    return set(yaml.safe_load(registry.read_text(encoding="utf-8")))


def test_manuscript_uses_only_the_subset(registry_keys: set[str], tmp_path: Path) -> None:
    problems = lint_manuscript(QMD, registry_keys, read_bib_keys(BIB))
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("addition, rule_fragment", [
    ("{{< video https://example.org/v.mp4 >}}", "shortcode"),
    ("See @eq-model for the model.", "eq-"),
    ("::: {.callout-note}\nA callout.\n:::", "callout"),
    ("{{< meta v.no_such_key >}}", "no_such_key"),
    ("See @fig-nowhere.", "fig-nowhere"),
    ("As shown before [@nobody1999].", "nobody1999"),
])
def test_anything_outside_the_subset_fails(registry_keys: set[str], tmp_path: Path, addition: str,
                                           rule_fragment: str) -> None:
    project = tmp_path / "project"
    (project / "manuscript").mkdir(parents=True)
    shutil.copy(REPO / "_quarto.yml", project / "_quarto.yml")
    shutil.copytree(RESULTS, project / "results")
    source = QMD.read_text(encoding="utf-8").replace("# Limitations {#sec-limitations}",
                                                      f"{addition}\n\n# Limitations {{#sec-limitations}}")
    (project / "manuscript" / "index.qmd").write_text(source, encoding="utf-8")
    problems = lint_manuscript(project / "manuscript" / "index.qmd", registry_keys, read_bib_keys(BIB))
    assert problems, f"{addition!r} was accepted"
    assert any(rule_fragment in f"{p.what} {p.rule}" for p in problems), "\n".join(map(str, problems))
