"""The build is fine-grained: after an edit, Snakemake reruns exactly the jobs that read what changed.

One complete build per module, in a temporary copy of the project; each test edits a fresh copy of that
build (timestamps and Snakemake's records kept) and asks Snakemake what a rebuild would run, without
running it. The answer comes from ``snakemake --summary``: a tab-separated table with one row per output
file, its rule and its plan ("update pending" or "no update"), which names each job; the dry run's
"Job stats" table (jobs per rule) is checked against it.

The expected sets are written out by hand from the inputs the Snakefile declares; each says why. The
Snakefile derives its rules from the review manifest (config/review.yaml) and gives each rule its code
as inputs: the files of the modules it runs and of every project module they import, as engine/sources.py
reads them from the source (function bodies included), so an edit to a module reruns the jobs whose
modules import it.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import pytest

from tests.project_copy import build, copy_project

pytestmark = pytest.mark.slow

TABLES = ("demographics", "efficacy", "comorbidities", "dose-groups")


def table_jobs(*tables: str) -> set[str]:
    """The jobs of some tables: rule tables builds all four in one job (one Python start instead of four),
    rule table_view turns each into the report's page."""
    return {"tables", *(f"table_view[{table}]" for table in tables)}


SHEETS = ("studies", "outcomes", "dose_groups", "regimens", "aggregates", "primary_scarpone2020")
# values feeds ledger_table (the registry) and render (the registry's metadata); ledger_table feeds render.
FROM_VALUES = {"values", "ledger_table", "render"}
# What a change to studies.csv reaches. validate_sheet[studies] reads it as its sheet; the validations of
# outcomes, dose_groups and aggregates read it for the manifest's rules about them (references to
# studies.study_id, bounds by studies.patients, sums to it), those of regimens (whose rules read only
# dose_groups.csv) and primary_scarpone2020 (no rules) do not. Every table lists studies among its sheets
# (the manifest's tables:), so the one tables job reads it, and table_view reads each table; the figure
# response-by-study (sheets studies, outcomes, dose_groups), meta_analysis and values read
# validated/studies.csv; render reads all of their outputs. prisma reads only prisma.csv.
STUDIES_REACH = {
    "validate_sheet[studies]", "validate_sheet[outcomes]", "validate_sheet[dose_groups]",
    "validate_sheet[aggregates]", *table_jobs(*TABLES), "figure", "meta_analysis", *FROM_VALUES,
}


def planned_jobs(project: Path) -> set[str]:
    """The jobs a build of ``project`` would run now: ``rule``, or ``rule[name]`` for a rule with several jobs.

    A job is named by its log file (one per job in this Snakefile, named after the job's wildcard value).
    """
    lines = _snakemake(project, "--summary").stdout.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("output_file\t"))
    header = lines[start].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[start + 1:]]
    logs: dict[str, set[str]] = {}
    for row in rows:
        assert row["plan"] in ("update pending", "no update"), f"unknown plan in the summary: {row}"
        logs.setdefault(row["rule"], set()).add(row["log-file(s)"])
    jobs = {_job_name(row, several=len(logs[row["rule"]]) > 1) for row in rows if row["plan"] == "update pending"}
    dry_run = _snakemake(project, "--dry-run")
    assert _jobs_per_rule(jobs) == _job_stats(dry_run.stdout + dry_run.stderr), "summary and dry run disagree"
    return jobs


def _job_name(row: Mapping[str, str], several: bool) -> str:
    return f"{row['rule']}[{PurePosixPath(row['log-file(s)']).stem}]" if several else row["rule"]


def _snakemake(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Snakemake's answer (the tables on stdout, its progress on stderr); fails the test if it fails."""
    result = subprocess.run([sys.executable, "-m", "snakemake", *arguments], cwd=project,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"snakemake {' '.join(arguments)} failed:\n{result.stderr[-3000:]}"
    return result


def _jobs_per_rule(jobs: Iterable[str]) -> Counter[str]:
    return Counter(job.split("[", 1)[0] for job in jobs)


def _job_stats(log: str) -> Counter[str]:
    """Snakemake's "Job stats" table (jobs per rule), without the target rule ``all`` (it has no output)."""
    if "Nothing to be done" in log:
        return Counter()
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)
                    if rule != "all"})


def append_to_note(sheet: Path) -> None:
    """Edit one cell the validation accepts whatever it holds: the first record's transcription note."""
    with open(sheet, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    note = rows[0].index("note")
    rows[1][note] = f"{rows[1][note]} Edited.".strip()
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def append_line(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"\n{line}\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with a complete build; never edited (tests edit copies of it)."""
    project = copy_project(tmp_path_factory.mktemp("dag") / "built")
    result = build(project)
    assert result.returncode == 0, f"the build failed:\n{result.stderr[-6000:]}"
    return project


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """A copy of the built project to edit; copytree keeps modification times to the nanosecond."""
    return Path(shutil.copytree(built, tmp_path / "project", symlinks=True))


def test_a_second_run_after_a_build_does_nothing(project: Path) -> None:
    assert planned_jobs(project) == set()


def test_editing_the_manuscript_text_reruns_only_the_render(project: Path) -> None:
    append_line(project / "manuscript" / "index.qmd", "This sentence was added after the build.")
    assert planned_jobs(project) == {"render"}


def test_editing_studies_reruns_only_the_jobs_that_read_it(project: Path) -> None:
    append_to_note(project / "data" / "raw" / "studies.csv")
    assert planned_jobs(project) == STUDIES_REACH


def test_editing_the_prisma_sheet_reruns_prisma_and_what_reads_the_values(project: Path) -> None:
    # prisma.csv is read by rule prisma alone; values reads its counts, render its diagram.
    append_to_note(project / "data" / "raw" / "prisma.csv")
    assert planned_jobs(project) == {"prisma", *FROM_VALUES}


def test_editing_a_table_layout_reruns_only_the_tables_and_what_reads_them(project: Path) -> None:
    # scripts/review_tables.py, the plug-in of the four tables, is imported by rule tables alone (the
    # manifest's tables: name it); table_view and render read the tables.
    append_line(project / "scripts" / "review_tables.py", "# edited after the build")
    assert planned_jobs(project) == {*table_jobs(*TABLES), "render"}


def test_editing_the_figure_plugin_reruns_only_its_figure_and_the_render(project: Path) -> None:
    # scripts/figures.py is imported by the figure job alone (figures: response-by-study names it).
    append_line(project / "scripts" / "figures.py", "# edited after the build")
    assert planned_jobs(project) == {"figure", "render"}


def test_editing_the_table_engine_reruns_only_the_jobs_that_import_it(project: Path) -> None:
    # engine/tables.py is imported by rule tables' module and by engine/ledger.py (the ledger's table),
    # which engine/values.py imports (build_registry adds the ledger's counts); nothing upstream of them
    # imports it: the validation plug-in (scripts/dose_group_rules.py) imports only engine/sheets.py, and the
    # rows the analyses and tables read come from engine/rows.py. table_view and render follow the tables.
    append_line(project / "engine" / "tables.py", "# edited after the build")
    assert planned_jobs(project) == {*table_jobs(*TABLES), *FROM_VALUES}


def test_editing_a_schema_reruns_its_validation_and_what_reads_the_sheet(project: Path) -> None:
    # The regimens schema is an input of validate_sheet[regimens] alone (no other sheet's rules read
    # regimens.csv). validated/regimens.csv is read by rule tables (for the dose-groups table), meta_analysis
    # and values; not by the figure (studies, outcomes, dose_groups). The tables job rewrites all four
    # tables, so all four report views follow.
    append_line(project / "config" / "schemas" / "regimens.schema.yaml", "# edited after the build")
    assert planned_jobs(project) == {"validate_sheet[regimens]", *table_jobs(*TABLES), "meta_analysis",
                                     *FROM_VALUES}


def test_editing_a_related_sheets_schema_reruns_the_validations_that_parse_it(project: Path) -> None:
    # The validations of outcomes, dose_groups and aggregates parse studies.csv with studies.schema.yaml.
    append_line(project / "config" / "schemas" / "studies.schema.yaml", "# edited after the build")
    assert planned_jobs(project) == STUDIES_REACH


def test_a_new_render_engine_reruns_only_the_render(project: Path) -> None:
    # The engine is no file: the Snakefile records it in results/render-settings.txt, an input of the render,
    # rewritten only when it changes (the build stamp likewise in results/render-meta.yml).
    config = project / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("render_engine: pandoc", "render_engine: auto"),
                      encoding="utf-8")
    assert planned_jobs(project) == {"render"}


def test_editing_a_render_template_reruns_the_render(project: Path) -> None:
    # The templates are the engine's (engine/templates/), read by the render alone.
    append_line(project / "engine" / "templates" / "article.css", "/* edited after the build */")
    assert planned_jobs(project) == {"render"}


def _records(project: Path) -> list[dict[str, str]]:
    """``snakemake --detailed-summary``: per output file, its rule, recorded inputs and shell command."""
    lines = _snakemake(project, "--detailed-summary").stdout.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("output_file\t"))
    header = lines[start].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[start + 1:]]


def _upstream_inputs(inputs: Iterable[str], made_by: Mapping[str, Iterable[str]]) -> set[str]:
    """The inputs and, for each made by a job, that job's inputs, recursively."""
    found: set[str] = set()
    pending = list(inputs)
    while pending:
        path = pending.pop()
        if path not in found:
            found.add(path)
            pending.extend(made_by.get(path, ()))
    return found


def _imported_modules(command: str, project: Path) -> set[str]:
    """Every module a job's shell command imports, from Python's import-time log."""
    # `python` is the interpreter running the tests, as the Snakefile makes it for its jobs.
    search_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=project, capture_output=True,
                            text=True, env={**os.environ, "PATH": search_path, "PYTHONPROFILEIMPORTTIME": "1"},
                            check=False)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return _modules_in_import_log(result.stdout + result.stderr)


def _modules_in_import_log(log: str) -> set[str]:
    return set(re.findall(r"^import time:.*\|\s*([\w.]+)\s*$", log, flags=re.MULTILINE))


def _imported_scripts(command: str, project: Path) -> set[str]:
    """The engine/ and scripts/ modules a job's shell command imports."""
    return {f"{module.replace('.', '/')}.py" for module in _imported_modules(command, project)
            if module.startswith(("engine.", "scripts."))}


def test_every_script_a_job_imports_is_its_input_or_upstream(project: Path) -> None:
    # A job reruns after a change to a module it imports only if the module is among its inputs or the
    # inputs of a job upstream of it (which reruns, and so reruns this one).
    records = _records(project)
    made_by = {record["output_file"]: record["input-file(s)"].split(",") for record in records}
    jobs = {record["shellcmd"]: record for record in records}
    undeclared: dict[str, set[str]] = {}
    for command, record in jobs.items():
        missing = _imported_scripts(command, project) - _upstream_inputs(record["input-file(s)"].split(","), made_by)
        if missing:
            undeclared.setdefault(record["rule"], set()).update(missing)
    assert undeclared == {}


def test_the_snakefile_passes_snakemakes_lint() -> None:
    # --lint reads the workflow and builds nothing, so it runs in the repository itself.
    result = _snakemake(Path(__file__).resolve().parents[2], "--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


# Libraries whose import is a visible part of a job's start (pandas about 0.4 s; matplotlib, SciPy and
# great-tables as much or more). Written from what each job does, not from what it was seen to import.
HEAVY = {"pandas", "matplotlib", "scipy", "great_tables"}
USES = {
    "validate_sheet": set(),  # checks with jsonschema, writes the typed copy with the csv module
    "prisma": {"matplotlib"},  # checks the counts' arithmetic in plain Python, draws the diagram
    "tables": {"pandas", "great_tables"},
    "figure": {"pandas", "matplotlib"},
    "meta_analysis": {"pandas", "scipy", "matplotlib"},  # the fits, then the forest plots
    "values": {"pandas", "scipy"},  # the adverse-event plug-in's exact interval (engine/meta_analysis.py)
    "ledger_table": {"pandas", "great_tables"},  # great-tables takes a pandas frame
    "table_view": set(),  # Pandoc turns the include file into a page
    "render": set(),  # Pandoc and Typst
}


def test_each_job_imports_only_the_heavy_libraries_it_uses(project: Path) -> None:
    imported = {}
    for record in _records(project):
        rule = record["rule"]
        if rule not in imported:
            modules = _imported_modules(record["shellcmd"], project)
            imported[rule] = {library for library in HEAVY if library in modules}
    assert set(imported) == set(USES), "a rule without an expectation here, or one that no longer exists"
    assert {rule: libraries - USES[rule] for rule, libraries in imported.items()} == {rule: set() for rule in USES}


def test_snakemake_itself_imports_no_heavy_library_for_a_no_op(project: Path) -> None:
    # Anything the Snakefile imports, and pandas for any tracked params, costs every call, a no-op included.
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "snakemake", "--cores", "1"], cwd=project,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "Nothing to be done" in result.stderr + result.stdout, result.stderr[-3000:]
    assert HEAVY & _modules_in_import_log(result.stderr) == set()
