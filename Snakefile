# Gao & Jin 2022, rebuilt from its raw extraction sheets.
#
#   data/raw/*.csv --validate--> results/validated/*.csv --+--> results/tables/*.md ------+
#   data/raw/prisma.csv --prisma--> results/figures/prisma.* +--> results/figures/*.svg ---+--> _manuscript/
#                                                             +--> results/values.yml -----+    index.html
#                                                                                                index.pdf
# Rules are thin: each calls one module of engine/ (or of scripts/, this review's own) (python -m engine.<module>), where the logic and its
# tests live. Figures are SVG only: the paper embeds the SVG in HTML and PDF alike. Every rule logs to
# results/logs/ and prints its output too, so a failure is shown in place.

import os
import sys
import threading
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

sys.path.insert(0, workflow.basedir)
from engine.build_guard import BuildRunning, hold_build_lock, on_snakemake_error, recover  # noqa: E402
from engine.build_guard import report_future_times, reset_future_times  # noqa: E402
from engine.render import record_render_settings, render_inputs, split_unmade  # noqa: E402
from engine.staleness import discard_replaced, report_rebuild, withdraw_before_rebuild  # noqa: E402
from engine.sheets import SHEET_DEPENDENCIES, SHEETS, format_problems, validate_all  # noqa: E402

configfile: "config/config.yaml"


# `snakemake --report _manuscript/report.html` (after a build): the provenance report. Captions are in
# config/report/; each report() below puts an output in it, attributed to the rule that made it.
report: "config/report/workflow.rst"


validate(config, "config/schemas/config.schema.yaml")

envvars:
    "PATH",


PYTHON = sys.executable
# Jobs run `python -m engine.<module>`: put this interpreter's folder first on PATH so that `python` is the
# one Snakemake runs under (the project's virtualenv) even when the virtualenv is not activated.
SEARCH_PATH = os.environ["PATH"]
os.environ["PATH"] = os.pathsep.join([os.path.dirname(PYTHON), SEARCH_PATH])
# Each job is given one core (Snakemake's default of one thread per job). OpenBLAS would otherwise start a
# thread per core for the GLMM's small matrices and spin them, taking about a second of CPU from the jobs
# running beside it for no gain; one thread also keeps the floating-point order the same on any machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
RAW = config["raw_dir"]
RESULTS = config["results_dir"]
OUT = config["output_dir"]
LOGS = f"{RESULTS}/logs"
TABLES = config["tables"]
TABLE_SHEETS = sorted({sheet for sheets in TABLES.values() for sheet in sheets})


wildcard_constraints:
    sheet="|".join(SHEETS),
    table="|".join(TABLES),


def withdraw_stale_paper() -> None:
    """Rename a paper older than its sources to *.STALE.* (engine/staleness.py), so that a failed build
    never leaves one in place that looks current."""
    from engine.staleness import report, withdraw_stale_outputs, workflow_inputs

    sources = workflow_inputs(
        Path("."),
        ["Snakefile", "_quarto.yml", "config/**/*.yaml", f"{RAW}/*", "manuscript/**/*", "engine/**/*.py", "scripts/**/*.py",
         "engine/**/*.lua", f"{RESULTS}/**/*"],
        exclude_dirs=[LOGS, f"{RESULTS}/report"],
    )
    message = report(withdraw_stale_outputs(Path(OUT), sources))
    if message:
        print(message, file=sys.stderr)


# Before Snakemake reads any file (engine/build_guard.py): one build at a time (a second one stops here with
# a message instead of an IncompleteFilesException), the locks and running jobs of a killed build cleared
# (with --rerun-incomplete from profiles/default, a plain rerun recovers), and outputs dated in the future
# set back so that Snakemake's mtime-then-checksum test sees an edit. Snakemake's onerror runs only when a
# job fails: a failure before any job (a lock, incomplete files, an unwritable folder) withdraws the stale
# paper through Snakemake's error event instead.
if workflow.is_main_process:
    try:
        BUILD_LOCK = hold_build_lock(Path("."))
    except BuildRunning as running:
        raise WorkflowError(str(running)) from None
    on_snakemake_error(withdraw_stale_paper)
    for line in [*recover(Path("."), BUILD_LOCK, [RESULTS, OUT]),
                 report_future_times(reset_future_times(Path("."), [RESULTS, OUT]), Path("."))]:
        if line:
            print(line, file=sys.stderr)


onstart:
    # Snakemake deletes a job's outputs before it runs it: the paper about to be rendered again is renamed
    # *.STALE.* now, so that a failure (of the render or of any job before it) leaves it withdrawn, not lost.
    rebuilt = [Path(f) for job in workflow.dag.needrun_jobs() for f in job.output]
    if message := report_rebuild(withdraw_before_rebuild(Path(OUT), rebuilt)):
        print(message, file=sys.stderr)
    # The gate: every input sheet (and the PRISMA counts and bibliography keys) is checked before any job
    # runs, so a bad cell stops the build here with one summary of every problem (file, row, column, value,
    # rule), and nothing is tabulated, drawn or rendered from data that failed. Each validate_sheet job
    # then checks its sheet again (it may run alone, as a target) and writes the typed copy the other rules
    # read.
    problems = validate_all(Path(RAW), Path(config["bibliography"]))
    if problems:
        print(format_problems(problems), file=sys.stderr)
        raise WorkflowError("The build stopped before any job ran: fix the problems listed above.")


def end_without_waiting_for_the_scheduler() -> None:
    """Cancel the timers Snakemake's job-rate limiter leaves behind, so that the run ends when its jobs do.

    With its default limit (--max-jobs-per-timespan 100/1s) Snakemake's scheduler re-checks itself after
    every round with a one-second threading.Timer, which is not a daemon thread: Python waits for the last
    one before it exits, so every build that runs a job took up to a second longer than its jobs (measured
    on Snakemake 9.27: a one-job workflow 2.2 s, 1.1 s with the timer cancelled). Cancelling is safe here:
    the workflow is over, and all a pending timer would do is wake the finished scheduler.
    """
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


onsuccess:
    discard_replaced(Path(OUT))
    end_without_waiting_for_the_scheduler()


onerror:
    withdraw_stale_paper()
    end_without_waiting_for_the_scheduler()


rule all:
    input:
        f"{OUT}/index.html",
        f"{OUT}/index.pdf",
        f"{RESULTS}/values.yml",
        expand(f"{RESULTS}/report/tables/{{table}}.html", table=TABLES),


def validation_inputs(wildcards):
    """The sheet, its schema, and the sheets (and bibliography) its cross-field rules read."""
    inputs = {
        "sheet": f"{RAW}/{wildcards.sheet}.csv",
        "schema": f"config/schemas/{wildcards.sheet}.schema.yaml",
        "related": [f"{RAW}/{other}.csv" for other in SHEET_DEPENDENCIES[wildcards.sheet]],
        # The related sheets are parsed with their own schemas, so those are inputs too.
        "related_schemas": [f"config/schemas/{other}.schema.yaml" for other in SHEET_DEPENDENCIES[wildcards.sheet]],
    }
    if wildcards.sheet == "studies":
        inputs["bib"] = config["bibliography"]
    return inputs


rule validate_sheet:
    message:
        "Validating {input.sheet} against {input.schema}"
    input:
        unpack(validation_inputs),
        code=["engine/sheets.py", "engine/cells.py", "engine/bibtex.py", "engine/atomic.py"],
    output:
        report(
            f"{RESULTS}/validated/{{sheet}}.csv",
            caption="config/report/sheet.rst",
            category="Data",
            subcategory="Validated sheets",
            labels={"sheet": "{sheet}"},
        ),
    log:
        f"{LOGS}/validate_sheet/{{sheet}}.log",
    conda:
        "environment.yml"
    params:
        raw=lambda wildcards, input: os.path.dirname(input.sheet),
        # Only the studies sheet cites the bibliography (its ref_key column), so only its job reads it.
        bib=lambda wildcards, input: f"--bib {input.bib}" if input.get("bib") else "",
    shell:
        "python -m engine.sheets validate --sheet {wildcards.sheet} --raw-dir {params.raw} {params.bib}"
        " --out {output} 2>&1 | tee {log}"


rule prisma:
    message:
        "Checking the PRISMA counts and drawing the flow diagram"
    input:
        sheet=f"{RAW}/prisma.csv",
        code=["engine/prisma.py", "engine/cells.py", "engine/atomic.py"],
    output:
        svg=report(
            f"{RESULTS}/figures/prisma.svg",
            caption="config/report/prisma.rst",
            category="Figures",
            subcategory="Study selection",
        ),
        counts=f"{RESULTS}/derived/prisma_counts.csv",
    log:
        f"{LOGS}/prisma.log",
    conda:
        "environment.yml"
    shell:
        "python -m engine.prisma --sheet {input.sheet} --svg {output.svg} --counts {output.counts} 2>&1 | tee {log}"


rule tables:
    message:
        "Building Tables 1-4"
    input:
        # One job for the four tables: each would otherwise start its own Python with pandas and
        # great-tables, which costs more than building all four.
        sheets=expand(f"{RESULTS}/validated/{{sheet}}.csv", sheet=TABLE_SHEETS),
        code=["engine/tables.py", "scripts/dosing.py"],
    output:
        expand(f"{RESULTS}/tables/{{table}}.md", table=TABLES),
    log:
        f"{LOGS}/tables.log",
    conda:
        "environment.yml"
    params:
        validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
    shell:
        "python -m engine.tables --validated-dir {params.validated} --out {output} 2>&1 | tee {log}"


rule figure_response:
    message:
        "Drawing the response-by-study figure"
    input:
        sheets=expand(f"{RESULTS}/validated/{{sheet}}.csv", sheet=["studies", "outcomes", "dose_groups"]),
        code="scripts/figures.py",
    output:
        svg=report(
            f"{RESULTS}/figures/response-by-study.svg",
            caption="config/report/response.rst",
            category="Figures",
            subcategory="Response",
        ),
    log:
        f"{LOGS}/figure_response.log",
    conda:
        "environment.yml"
    params:
        validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
    shell:
        "python -m scripts.figures --validated-dir {params.validated} --svg {output.svg} 2>&1 | tee {log}"


rule meta_analysis:
    message:
        "Meta-analysing response (GLMM, random effects) and drawing the forest plots"
    input:
        sheets=expand(
            f"{RESULTS}/validated/{{sheet}}.csv",
            sheet=["studies", "outcomes", "dose_groups", "regimens", "aggregates"],
        ),
        code=["engine/analysis.py", "engine/meta_analysis.py", "engine/forest_plot.py", "scripts/dosing.py"],
    output:
        values=f"{RESULTS}/derived/meta_analysis.json",
        forest=report(
            f"{RESULTS}/figures/forest.svg",
            caption="config/report/forest.rst",
            category="Figures",
            subcategory="Meta-analysis",
        ),
        forest_dose=report(
            f"{RESULTS}/figures/forest-dose.svg",
            caption="config/report/forest-dose.rst",
            category="Figures",
            subcategory="Meta-analysis",
        ),
    log:
        f"{LOGS}/meta_analysis.log",
    # The longest job, and the start of the longest chain (values, ledger_table, render): started first,
    # the rest of the build runs beside it on the other core.
    priority: 10
    conda:
        "environment.yml"
    params:
        validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
    shell:
        "python -m engine.analysis --validated-dir {params.validated} --out {output.values}"
        " --forest {output.forest} --forest-dose {output.forest_dose} 2>&1 | tee {log}"


rule values:
    message:
        "Writing the values registry"
    input:
        sheets=expand(f"{RESULTS}/validated/{{sheet}}.csv", sheet=SHEETS),
        prisma=rules.prisma.output.counts,
        analysis=rules.meta_analysis.output.values,
        claims="data/published/claims.csv",
        # engine/ledger.py builds its appendix table with engine/tables.py, and imports it.
        code=["engine/values.py", "scripts/dosing.py", "engine/ledger.py", "engine/tables.py"],
    output:
        registry=report(
            f"{RESULTS}/values.yml",
            caption="config/report/values.rst",
            category="Data",
            subcategory="Values registry",
        ),
        meta=f"{RESULTS}/values-meta.yml",
    log:
        f"{LOGS}/values.log",
    conda:
        "environment.yml"
    params:
        validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
    shell:
        "python -m engine.values --validated-dir {params.validated} --prisma-counts {input.prisma}"
        " --analysis {input.analysis} --claims {input.claims} --out {output.registry} --meta-out {output.meta}"
        " 2>&1 | tee {log}"


rule ledger_table:
    message:
        "Building the published-claims ledger (appendix table)"
    input:
        claims="data/published/claims.csv",
        registry=rules.values.output.registry,
        code=["engine/ledger.py", "engine/tables.py"],
    output:
        f"{RESULTS}/tables/ledger.md",
    log:
        f"{LOGS}/ledger_table.log",
    conda:
        "environment.yml"
    shell:
        "python -m engine.ledger --claims {input.claims} --registry {input.registry} --out {output}"
        " 2>&1 | tee {log}"


rule table_view:
    message:
        "Writing the report's view of table {wildcards.table}"
    input:
        md=f"{RESULTS}/tables/{{table}}.md",
        code=["engine/report_views.py", "engine/render.py", "engine/confinement.py"],
    output:
        report(
            f"{RESULTS}/report/tables/{{table}}.html",
            caption="config/report/table.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    log:
        f"{LOGS}/table_view/{{table}}.log",
    conda:
        "environment.yml"
    shell:
        "python -m engine.report_views --md {input.md} --title 'Table {wildcards.table}'"
        " --out {output} 2>&1 | tee {log}"


def render_rule_inputs(wildcards):
    """The manuscript, every file its render reads (engine/render.py finds them in the sources), and the
    render's settings that are no file (the engine, the build stamp with its commit, date and tools),
    written to a file only when they change, so that a new commit or engine renders the paper again."""
    qmd = config["manuscript"]
    # A path that no file and no rule provides (a typo in an include) would make Snakemake drop the render
    # and keep the old paper as a source ("Nothing to be done", exit 0): it goes into the settings file
    # instead, which reruns the render, and the render's lint fails naming the line.
    read, unmade = split_unmade(render_inputs(Path(qmd)), lambda path: any(r.is_producer(path) for r in workflow.rules))
    settings = record_render_settings(Path(f"{RESULTS}/render-settings.txt"), Path(qmd), config["render_engine"], unmade)
    return {
        "qmd": qmd,
        "read": [path.as_posix() for path in read],
        "settings": settings.as_posix(),
    }


rule render:
    message:
        "Rendering the manuscript to HTML and PDF"
    input:
        # Parsed from _quarto.yml, the qmd and its includes; tables and figures still to be made are
        # listed by path, which ties them to the rules that write them.
        unpack(render_rule_inputs),
    output:
        html=report(f"{OUT}/index.html", caption="config/report/manuscript.rst", category="Manuscript"),
        pdf=report(f"{OUT}/index.pdf", caption="config/report/manuscript.rst", category="Manuscript"),
    log:
        f"{LOGS}/render.log",
    conda:
        "environment.yml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.html),
        # A function of the input, as Snakemake counts it, so not tracked as a param (which would make
        # Snakemake import pandas on every call): input.settings records the engine, and reruns the render
        # when it changes.
        engine=lambda wildcards, input: config["render_engine"],
    shell:
        "python -m engine.render --qmd {input.qmd} --output-dir {params.out} --engine {params.engine}"
        " 2>&1 | tee {log}"
