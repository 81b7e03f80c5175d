"""Two clean builds of the same sources give byte-identical outputs, wherever and under whatever locale.

The reference build (conftest.py) runs under ``LANG=C.UTF-8 TZ=UTC``; the second one lies elsewhere on
disk, in a folder whose name has a space, under ``LANG=C LC_ALL=C TZ=Pacific/Kiritimati`` (UTC+14, so any
date taken from the clock or the local time zone would differ). Both get the same SOURCE_DATE_EPOCH: a
copy has no .git to take the time of the last commit from.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.clean_build import Build, build_copy, environment, output_digests

# The paper and one of each kind of intermediate output: the comparison must not pass on an empty build.
MUST_EXIST = ("_manuscript/index.html", "_manuscript/index.pdf", "results/values.yml", "results/values-meta.yml",
              "results/tables/demographics.md", "results/figures/prisma.svg",
              "results/figures/response-by-study.svg", "results/figures/forest.svg",
              "results/validated/studies.csv", "results/derived/prisma_counts.csv")


def _c_locale_and_kiritimati_exist() -> bool:
    locales = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.split()
    return "C" in locales and Path("/usr/share/zoneinfo/Pacific/Kiritimati").is_file()


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if not _c_locale_and_kiritimati_exist():
        pytest.skip("the C locale or the Pacific/Kiritimati zone is not installed (`locale -a`, tzdata)")
    root = tmp_path_factory.mktemp("elsewhere") / "a folder" / "deeper"
    return build_copy(root / "project", environment(LANG="C", LC_ALL="C", TZ="Pacific/Kiritimati"))


@pytest.mark.slow
def test_both_builds_succeed(reference_build: Build, elsewhere: Build) -> None:
    assert reference_build.result.returncode == 0, reference_build.log()
    assert elsewhere.result.returncode == 0, elsewhere.log()


@pytest.mark.slow
def test_outputs_are_byte_identical(reference_build: Build, elsewhere: Build) -> None:
    here, there = output_digests(reference_build.project), output_digests(elsewhere.project)
    assert set(MUST_EXIST) <= set(here)
    assert sorted(here) == sorted(there)
    assert [name for name in here if here[name] != there[name]] == []


@pytest.mark.slow
def test_no_output_names_the_folder_it_was_built_in(reference_build: Build, elsewhere: Build) -> None:
    for build in (reference_build, elsewhere):
        for name in output_digests(build.project):
            data = (build.project / name).read_bytes()
            assert str(build.project).encode() not in data, f"{name} names {build.project}"
            assert str(build.project.parent).encode() not in data, f"{name} names {build.project.parent}"
