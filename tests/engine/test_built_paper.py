"""The check that fails the paper's tests on a missing or stale build (tests/built_paper.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.built_paper import paper_problem, pending_outputs
from tests.project_copy import build, copy_project


def test_an_unbuilt_clone_is_reported_as_not_built(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    problem = paper_problem(project)
    assert problem is not None
    assert "is not built" in problem and "_manuscript/index.html" in problem
    assert "snakemake --cores 4" in problem and "make test" in problem


def test_a_broken_workflow_is_an_error_not_a_green_run(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "Snakefile").write_text("rule all:\n    input: undefined_name\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="snakemake --summary` failed"):
        pending_outputs(project)


@pytest.mark.slow
def test_a_built_paper_passes_and_an_edit_makes_it_stale(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    result = build(project)
    assert result.returncode == 0, result.stderr[-3000:]
    assert paper_problem(project) is None
    with open(project / "manuscript" / "index.qmd", "a", encoding="utf-8") as handle:
        handle.write("\nA sentence written after the build.\n")
    problem = paper_problem(project)
    assert problem is not None and "is not current" in problem
    assert "_manuscript/index.html" in problem and "older than their sources" in problem
    assert "missing" not in problem
