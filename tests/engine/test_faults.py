"""A build never lies: the fault matrix of issue 16 (cases 1, 2, 5, 6 and the lock message of case 8).

Each test copies the shared complete build (tests/conftest.py ``reference_build``, mtimes and Snakemake's
records kept), breaks it the way a hand, a clock or a signal does, runs ``snakemake --cores 2`` as a user
would, and checks that the build either shows the current sources or fails naming the cause, that no
paper is left in place that does not match its sources (it is renamed ``*.STALE.*``), that no output is
left half written, and that a plain rerun recovers.

The edit used throughout is study 9's year in data/raw/studies.csv, 2014 -> 2015: Table 1 of the paper
prints it in Monshi et al.'s row.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.clean_build import Build
from tests.project_copy import build

pytestmark = pytest.mark.slow

PAPER = ("index.html", "index.pdf")
STUDIES = "data/raw/studies.csv"


@pytest.fixture
def project(reference_build: Build, tmp_path: Path) -> Path:
    assert reference_build.result.returncode == 0, reference_build.log()
    return shutil.copytree(reference_build.project, tmp_path / "project", symlinks=True)


def edit_year(project: Path, year: str = "2015") -> None:
    sheet = project / STUDIES
    text = sheet.read_text(encoding="utf-8")
    assert text.count("\n9,monshi2014,Monshi,2014,") == 1
    sheet.write_text(text.replace("\n9,monshi2014,Monshi,2014,", f"\n9,monshi2014,Monshi,{year},"), encoding="utf-8")


def year_in_table_1(html: Path) -> str:
    """The year Table 1 of the HTML paper prints for Monshi et al."""
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "lxml")
    (cell,) = [td for td in soup.select("td[headers~=tbl-demographics-gt-study]") if td.get_text() == "Monshi et al."]
    return cell.find_parent("tr").select_one("td[headers~=tbl-demographics-gt-year]").get_text()


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def assert_withdrawn(project: Path, before: dict[str, bytes], output: str) -> None:
    """No paper at the current names; the old one, byte for byte, at the withdrawn names; the log says so."""
    for name in PAPER:
        assert not (project / "_manuscript" / name).exists(), f"{name} is left looking current"
        assert (project / "_manuscript" / name.replace(".", ".STALE.")).read_bytes() == before[name]
        assert f"Withdrew _manuscript/{name}" in output


def paper(project: Path) -> dict[str, bytes]:
    return {name: (project / "_manuscript" / name).read_bytes() for name in PAPER}


# --- case 1: a path no file and no rule provides --------------------------------------------------------

TYPOS = {
    "include": ("{{< include ../results/tables/demographics.md >}}", "{{< include ../results/tables/demographic.md >}}",
                "included file not found"),
    "absolute_include": ("{{< include ../results/tables/demographics.md >}}", "{{< include /etc/passwd >}}",
                         "included file not found"),
    "image": ("](../results/figures/prisma.svg)", "](../results/figures/prisma-flow.svg)", "image not found"),
    "image_outside": ("](../results/figures/prisma.svg)", "](/../../etc/x.svg)", "is outside the project"),
}


@pytest.mark.parametrize("typo", TYPOS, ids=list(TYPOS))
def test_a_path_that_names_no_file_fails_the_build_and_withdraws_the_paper(project: Path, typo: str) -> None:
    """Snakemake dropped a render whose input no rule makes and kept the old paper ('Nothing to be done',
    exit 0), without the heading edited in the same change."""
    old, new, message = TYPOS[typo]
    qmd = project / "manuscript" / "index.qmd"
    text = qmd.read_text(encoding="utf-8")
    assert text.count(old) == 1
    qmd.write_text(text.replace(old, new).replace("# Discussion {#", "# Discussion, edited {#"), encoding="utf-8")
    before = paper(project)
    result = build(project)
    output = output_of(result)
    assert result.returncode != 0, output[-3000:]
    line = text.splitlines().index(next(line for line in text.splitlines() if old in line)) + 1
    assert f"manuscript/index.qmd:{line}: " in output and message in output, output[-3000:]
    assert_withdrawn(project, before, output)


# --- case 2: outputs dated in the future -----------------------------------------------------------------


def test_outputs_dated_in_the_future_do_not_hide_a_data_edit(project: Path) -> None:
    """With every output dated 2099 Snakemake saw no input newer than its outputs: 'Nothing to be done'."""
    future = time.time() + 80 * 365 * 86400
    for folder in ("results", "_manuscript"):
        for path in (project / folder).rglob("*"):
            if path.is_file():
                os.utime(path, (future, future))
    edit_year(project)
    raw_times = {path: path.stat().st_mtime_ns for path in (project / "data" / "raw").iterdir()}
    result = build(project)
    assert result.returncode == 0, output_of(result)[-3000:]
    assert "were dated in the future" in output_of(result)
    assert {path: path.stat().st_mtime_ns for path in (project / "data" / "raw").iterdir()} == raw_times
    assert year_in_table_1(project / "_manuscript" / "index.html") == "2015"
    # prisma.csv did not change: its job is not run again (Snakemake's recorded checksum says so).
    assert "Checking the PRISMA counts" not in output_of(result)
    assert "Nothing to be done" in output_of(build(project))


# --- case 5: failures before any job, and a failed render --------------------------------------------------


def test_a_failure_before_any_job_withdraws_the_stale_paper(project: Path) -> None:
    """A folder where the render's settings file goes: Snakemake stops while building its plan (as with an
    unwritable results/), before onstart and before any job, so onerror never runs."""
    edit_year(project)
    before = paper(project)
    settings = project / "results" / "render-settings.txt"
    settings.unlink()
    settings.mkdir()
    result = build(project)
    output = output_of(result)
    assert result.returncode != 0 and "IsADirectoryError" in output
    assert "Job stats" not in output, "jobs were planned: not a failure before any job"
    assert_withdrawn(project, before, output)
    assert "(older than data/raw/studies.csv" in output


def test_a_failed_render_leaves_the_paper_withdrawn_not_deleted(project: Path) -> None:
    """Snakemake deletes a job's outputs before it runs: the failed render left no paper at all."""
    qmd = project / "manuscript" / "index.qmd"
    qmd.write_text(qmd.read_text(encoding="utf-8") + "\nOne more {{< meta v.no_such_value >}}.\n", encoding="utf-8")
    before = paper(project)
    result = build(project)
    output = output_of(result)
    assert result.returncode != 0 and "unknown value key 'v.no_such_value'" in output
    assert_withdrawn(project, before, output)
    qmd.write_text(qmd.read_text(encoding="utf-8").replace("\nOne more {{< meta v.no_such_value >}}.\n", ""),
                   encoding="utf-8")
    assert build(project).returncode == 0
    assert not list((project / "_manuscript").glob("*.STALE.*")), "the withdrawn copies outlive the new paper"


# --- case 6: kill -9 and Ctrl-C ------------------------------------------------------------------------------


def start_build(project: Path) -> subprocess.Popen:
    """A build in a session of its own, as a command typed in a terminal runs (it leads its process group)."""
    log = open(project / "interrupted.log", "w", encoding="utf-8")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=project, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_jobs(project: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until Snakemake has marked a job's outputs incomplete, i.e. a job runs."""
    deadline = time.monotonic() + timeout
    while not any((project / ".snakemake" / "incomplete").glob("*")):
        assert process.poll() is None, (project / "interrupted.log").read_text(encoding="utf-8")[-3000:]
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.1)
    time.sleep(1.5)


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def assert_no_half_written_output(project: Path, partial_files_allowed: bool = False) -> None:
    """Every figure at its output path is whole; with no job running, no partial write is left either."""
    for svg in (project / "results" / "figures").glob("*.svg"):
        ET.parse(svg)  # a truncated SVG is not well-formed XML
    if not partial_files_allowed:
        partial = [path for folder in ("results", "_manuscript") for path in (project / folder).rglob("*.partial")]
        assert partial == [], partial


@pytest.mark.parametrize("how", ["kill_9_snakemake_only", "ctrl_c"])
def test_a_plain_rerun_recovers_from_an_interrupted_build(project: Path, how: str) -> None:
    """kill -9 left Snakemake's lock and incomplete markers (LockException, then IncompleteFilesException
    until --unlock and --rerun-incomplete) and its jobs running; Ctrl-C left a truncated SVG."""
    edit_year(project)
    process = start_build(project)
    try:
        wait_for_jobs(project, process)
        if how == "ctrl_c":
            os.killpg(process.pid, signal.SIGINT)  # what the terminal sends to the whole foreground group
        else:
            os.kill(process.pid, signal.SIGKILL)  # the jobs it started go on, orphaned
        process.wait(timeout=120)
        # Orphaned jobs may still be writing (beside their outputs, never into them).
        assert_no_half_written_output(project, partial_files_allowed=how == "kill_9_snakemake_only")
        result = build(project)
        output = output_of(result)
        assert result.returncode == 0, output[-3000:]
        assert "LockException" not in output and "IncompleteFilesException" not in output
        assert group_members(process.pid) == [], "jobs of the interrupted build still run"
        assert year_in_table_1(project / "_manuscript" / "index.html") == "2015"
        assert_no_half_written_output(project)
    finally:
        for pid in group_members(process.pid):
            os.kill(pid, signal.SIGKILL)


# --- case 8: two builds at once ------------------------------------------------------------------------------


def test_a_second_build_started_meanwhile_gets_a_lock_message(project: Path) -> None:
    """It saw the first one's jobs half done and stopped with an IncompleteFilesException."""
    edit_year(project)
    first = start_build(project)
    try:
        wait_for_jobs(project, first)
        second = build(project)
        assert second.returncode != 0
        assert f"Another build is running in this folder (process {first.pid}, started " in output_of(second)
        assert "IncompleteFilesException" not in output_of(second)
        assert first.wait(timeout=300) == 0, (project / "interrupted.log").read_text(encoding="utf-8")[-3000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert year_in_table_1(project / "_manuscript" / "index.html") == "2015"
