"""The benchmark's synthetic review (benchmarks/synthetic.py): valid, N times larger, deterministic."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from benchmarks.synthetic import BIB, RAW, check, generate
from engine.sheets import read_bib_keys
from engine.validation import validate_all
from tests.conftest import REVIEW

REPO = Path(__file__).resolve().parents[2]
SCALE = 3


def rows(project: Path, sheet: str) -> list[dict[str, str]]:
    with open(project / RAW / f"{sheet}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("synthetic")
    generate(REPO, target, SCALE, seed=1)
    return target


def test_the_synthetic_review_passes_every_check_of_the_sheets(synthetic: Path) -> None:
    problems = validate_all(REVIEW.with_raw_dir(synthetic / RAW, synthetic / BIB))
    assert problems == [], "\n".join(map(str, problems))


def test_the_benchmarks_own_check_passes(synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check benchmarks/synthetic.py runs on the review it writes (the validation CLI, in a project
    # folder): the review's config beside the synthetic sheets, the engine from this repository.
    project = shutil.copytree(synthetic, tmp_path / "project")
    shutil.copytree(REPO / "config", project / "config")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = check(project)
    assert result.returncode == 0, result.stderr
    assert "sheets and prisma.csv are valid" in result.stdout


def test_it_is_n_times_larger_and_keeps_the_real_studies_first(synthetic: Path) -> None:
    for sheet in ("studies", "outcomes", "dose_groups", "regimens"):
        real = rows(REPO, sheet)
        assert len(rows(synthetic, sheet)) == SCALE * len(real), sheet
        assert rows(synthetic, sheet)[: len(real)] == real, sheet
    assert [row["category"] for row in rows(synthetic, "aggregates")] == [
        row["category"] for row in rows(REPO, "aggregates")]
    included = {row["data"]: row["n"] for row in rows(synthetic, "prisma")}["new_studies"]
    assert int(included) == len(rows(synthetic, "studies"))


def test_every_study_has_its_reference(synthetic: Path) -> None:
    keys = read_bib_keys(synthetic / BIB)
    assert read_bib_keys(REPO / BIB) <= keys
    assert {row["ref_key"] for row in rows(synthetic, "studies")} <= keys


def test_the_same_seed_writes_the_same_bytes(synthetic: Path, tmp_path: Path) -> None:
    generate(REPO, tmp_path / "again", SCALE, seed=1)
    generate(REPO, tmp_path / "other", SCALE, seed=2)
    sheet = RAW / "studies.csv"
    assert (tmp_path / "again" / sheet).read_bytes() == (synthetic / sheet).read_bytes()
    assert (tmp_path / "other" / sheet).read_bytes() != (synthetic / sheet).read_bytes()
