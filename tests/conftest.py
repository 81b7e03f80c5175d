"""Shared fixtures: the repository paths, freshly validated copies of the raw sheets, the built paper."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.manifest import Review, load_review
from engine.sheets import write_validated
from engine.validation import validate_sheet
from tests.built_paper import paper_problem

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "raw"
BIB = REPO / "manuscript" / "references.bib"
# The Gao & Jin review as its manifest declares it, reading the repository's sheets.
REVIEW = load_review(REPO / "config" / "review.yaml", RAW, BIB)
SHEETS = REVIEW.sheet_names
RESULTS = REPO / "results"
OUTPUT = REPO / "_manuscript"


@pytest.fixture
def raw_copy(tmp_path: Path) -> Path:
    """A writable copy of data/raw, for tests that break a sheet on purpose."""
    target = tmp_path / "raw"
    shutil.copytree(RAW, target)
    return target


@pytest.fixture
def raw_review(raw_copy: Path) -> Review:
    """The review reading the writable copy of its sheets (``raw_copy``)."""
    return REVIEW.with_raw_dir(raw_copy)


@pytest.fixture(scope="session")
def validated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw sheets validated afresh into a temporary folder, independent of results/."""
    target = tmp_path_factory.mktemp("validated")
    for spec in REVIEW.sheets:
        parsed, problems = validate_sheet(REVIEW, spec.name)
        assert not problems, "\n".join(map(str, problems))
        assert parsed is not None
        write_validated(parsed, target / f"{spec.name}.csv", spec.schema)
    return target


@pytest.fixture(scope="session")
def reference_build(tmp_path_factory: pytest.TempPathFactory):
    """One complete build of a project copy, shared by the offline, determinism and bad-input tests.

    Built without network where `unshare -n` works, with SOURCE_DATE_EPOCH fixed, LANG=C.UTF-8 and TZ=UTC
    (tests/clean_build.py); a build takes most of a minute, so the three modules share it.
    """
    from tests.clean_build import reference_build as build_reference

    return build_reference(tmp_path_factory.mktemp("reference") / "project")


@pytest.fixture(scope="session")
def built_paper() -> None:
    """The repository's paper, built and current; fails (never skips) the tests that read it otherwise.

    Asked once per session (``snakemake --summary``, about a second); tests/built_paper.py says why.
    """
    problem = paper_problem(REPO)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
