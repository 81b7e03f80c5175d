# A systematic review of proportions, built from its raw extraction sheets. What the review is (its
# sheets, the rules between them, the outcome it pools, its analyses, tables, figures and the numbers its
# text quotes) is declared in its manifest, config/review.yaml; the rules and targets below derive from it.
#
#   data/raw/*.csv --validate_sheet--> results/validated/*.csv --+-- tables --------> results/tables/*.md ---+
#   data/raw/prisma.csv --prisma--> results/figures/prisma.svg   +-- figure --------> results/figures/*.svg --+
#                                                                +-- meta_analysis -> forest plots, numbers --+
#                                                                +-- values --------> results/values.yml -----+
#                                                                                                             |
#   manuscript/index.qmd, references.bib ------------------------------------------------- render <----------+
#                                                                  --> _manuscript/index.html, index.pdf
#
# Rules are thin: each runs one module of the engine (python -m engine.<module>), where the logic and its
# tests live; what only this review computes is a plug-in of scripts/ that the manifest names. Another
# review runs this same Snakefile from its own folder: snakemake --cores 4 --directory <review folder>.
# Every rule logs to results/logs/ and prints its output too, so a failure is shown in place.

import os
import sys
import threading
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

ENGINE_ROOT = workflow.basedir
sys.path.insert(0, ENGINE_ROOT)
from engine.build_guard import (  # noqa: E402
    BuildRunning,
    hold_build_lock,
    on_snakemake_error,
    recover,
    report_future_times,
    reset_future_times,
)
from engine.manifest import ManifestError, load_review  # noqa: E402
from engine.render import (
    record_render_settings,
    render_inputs,
    split_unmade,
    write_stamp,
)  # noqa: E402
from engine.staleness import (
    discard_replaced,
    report_rebuild,
    withdraw_before_rebuild,
)  # noqa: E402
from engine.sheets import format_problems  # noqa: E402
from engine.sources import python_sources  # noqa: E402
from engine.validation import validate_all  # noqa: E402


configfile: "config/config.yaml"


validate(config, "engine/schemas/config.schema.yaml")

try:
    REVIEW = load_review(config["review"], config["raw_dir"], config["bibliography"])
except ManifestError as error:
    raise WorkflowError(str(error)) from None
# The report's captions (engine/report/*.rst) see only the config: what they say of the review is put there.
config["review_title"] = REVIEW.title
config["table_captions"] = {
    name: spec.get("caption", "") for name, spec in REVIEW.tables.items()
}


# `snakemake --report _manuscript/report.html` (after a build): the provenance report. Captions are in
# engine/report/; each report() below puts an output in it, attributed to the rule that made it.
report: "engine/report/workflow.rst"


envvars:
    "PATH",


PYTHON = sys.executable
# Jobs run `python -m engine.<module>`: put this interpreter's folder first on PATH so that `python` is the
# one Snakemake runs under (the project's virtualenv) even when the virtualenv is not activated, and the
# engine's folder and the review's on PYTHONPATH, so that a review in another folder finds both.
SEARCH_PATH = os.environ["PATH"]
os.environ["PATH"] = os.pathsep.join([os.path.dirname(PYTHON), SEARCH_PATH])
# Set here, not read: nothing to assert with envvars (a PYTHONPATH of the caller's is replaced on purpose).
os.environ.update(PYTHONPATH=os.pathsep.join(dict.fromkeys([ENGINE_ROOT, os.getcwd()])))
# Each job is given one core (Snakemake's default of one thread per job). OpenBLAS would otherwise start a
# thread per core for the GLMM's small matrices and spin them, taking about a second of CPU from the jobs
# running beside it for no gain; one thread also keeps the floating-point order the same on any machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
MANIFEST = config["review"]
RAW = config["raw_dir"]
RESULTS = config["results_dir"]
OUT = config["output_dir"]
LOGS = f"{RESULTS}/logs"
VALIDATED = f"{RESULTS}/validated"
SHEETS = REVIEW.sheet_names
TABLES = list(REVIEW.tables)
FOREST_PLOTS = REVIEW.forest_plots
PLUGIN_FIGURES = REVIEW.plugin_figures
ENGINE_DIR = os.path.relpath(os.path.join(ENGINE_ROOT, "engine"))
REPORT_CAPTIONS = os.path.relpath(os.path.join(ENGINE_ROOT, "engine", "report"))


def code(*modules):
    """The Python files the modules run (the engine's and the plug-ins'): a job's inputs, so an edit reruns it."""
    return python_sources(
        list(modules), [ENGINE_ROOT, os.getcwd()], relative_to=Path.cwd()
    )


def plugin_modules(references):
    return [reference.partition(":")[0] for reference in references]


def validated(sheets):
    return [f"{VALIDATED}/{sheet}.csv" for sheet in sheets]


wildcard_constraints:
    sheet="|".join(SHEETS),
    table="|".join(TABLES) or "(?!)",
    figure="|".join(PLUGIN_FIGURES) or "(?!)",


def withdraw_stale_paper() -> None:
    """Rename a paper older than its sources to *.STALE.* (engine/staleness.py), so that a failed build
    never leaves one in place that looks current."""
    from engine.staleness import report, withdraw_stale_outputs, workflow_inputs

    sources = workflow_inputs(
        Path("."),
        [
            "Snakefile",
            "_quarto.yml",
            "config/**/*.yaml",
            f"{RAW}/*",
            "manuscript/**/*",
            "scripts/**/*.py",
            f"{RESULTS}/**/*",
        ],
        exclude_dirs=[LOGS, f"{RESULTS}/report"],
    ) + workflow_inputs(
        Path(ENGINE_ROOT),
        [
            "Snakefile",
            "engine/**/*.py",
            "engine/**/*.yaml",
            "engine/**/*.typ",
            "_extensions/**/*",
        ],
    )
    # The render's settings and stamp files are rewritten by every call (a new commit, an edit that makes
    # the tree "modified"): they date a build, they are not what the paper shows.
    stamps = {
        Path(f"{RESULTS}/render-settings.txt"),
        Path(f"{RESULTS}/render-meta.yml"),
    }
    sources = [path for path in sources if path not in stamps]
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
    for line in [
        *recover(Path("."), BUILD_LOCK, [RESULTS, OUT]),
        report_future_times(reset_future_times(Path("."), [RESULTS, OUT]), Path(".")),
    ]:
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
    problems = validate_all(REVIEW)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        raise WorkflowError(
            "The build stopped before any job ran: fix the problems listed above."
        )


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
    """The sheet, its schema, and the sheets its rules read (with their schemas, and the bibliography)."""
    related = REVIEW.dependencies(wildcards.sheet)
    spec = REVIEW.sheet(wildcards.sheet)
    inputs = {
        "schema": os.path.relpath(spec.schema),
        "related": [os.path.relpath(REVIEW.sheet(other).csv) for other in related],
        "related_schemas": [
            os.path.relpath(REVIEW.sheet(other).schema) for other in related
        ],
        "manifest": MANIFEST,
    }
    # An optional sheet may be missing: it then validates as one without rows.
    if spec.csv.exists() or not spec.optional:
        inputs["sheet"] = f"{RAW}/{wildcards.sheet}.csv"
    if any(rule["check"] == "citation" for rule in REVIEW.rules_of(wildcards.sheet)):
        inputs["bib"] = config["bibliography"]
    return inputs


rule validate_sheet:
    input:
        unpack(validation_inputs),
        code=code(
            "engine.validation",
            *plugin_modules(
                r["function"] for r in REVIEW.rules if r["check"] == "plugin"
            ),
        ),
    output:
        report(
            f"{VALIDATED}/{{sheet}}.csv",
            caption=f"{REPORT_CAPTIONS}/sheet.rst",
            category="Data",
            subcategory="Validated sheets",
            labels={"sheet": "{sheet}"},
        ),
    log:
        f"{LOGS}/validate_sheet/{{sheet}}.log",
    conda:
        "environment.yml"
    params:
        # Functions of the input, as Snakemake counts them, so not tracked params (tracking imports pandas).
        raw=lambda wildcards, input: RAW,
        # Only a sheet with a citation rule reads the bibliography, so only its job is given it.
        bib=lambda wildcards, input: (
            f"--bib {input.bib}" if "bib" in input.keys() else ""
        ),
    message:
        "Validating sheet {wildcards.sheet} against its schema and the manifest's rules"
    shell:
        "python -m engine.validation --manifest {input.manifest} --raw-dir {params.raw} {params.bib}"
        " validate --sheet {wildcards.sheet} --out {output} 2>&1 | tee {log}"


if REVIEW.prisma is not None:

    rule prisma:
        input:
            sheet=f"{RAW}/prisma.csv",
            code=code("engine.prisma"),
        output:
            svg=report(
                f"{RESULTS}/figures/prisma.svg",
                caption=f"{REPORT_CAPTIONS}/prisma.rst",
                category="Figures",
                subcategory="Study selection",
            ),
            counts=f"{RESULTS}/derived/prisma_counts.csv",
        log:
            f"{LOGS}/prisma.log",
        conda:
            "environment.yml"
        message:
            "Checking the PRISMA counts and drawing the flow diagram"
        shell:
            "python -m engine.prisma --sheet {input.sheet} --svg {output.svg} --counts {output.counts}"
            " 2>&1 | tee {log}"


if TABLES:

    rule tables:
        input:
            # One job for every table: each would otherwise start its own Python with pandas and
            # great-tables, which costs more than building them all.
            sheets=validated(
                sorted({s for name in TABLES for s in REVIEW.sheets_of_table(name)})
            ),
            manifest=MANIFEST,
            code=code(
                "engine.tables",
                *plugin_modules(
                    t["plugin"] for t in REVIEW.tables.values() if "plugin" in t
                ),
            ),
        output:
            expand(f"{RESULTS}/tables/{{table}}.md", table=TABLES),
        log:
            f"{LOGS}/tables.log",
        conda:
            "environment.yml"
        params:
            validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
        message:
            f"Building the tables: {', '.join(TABLES)}"
        shell:
            "python -m engine.tables --manifest {input.manifest} --validated-dir {params.validated} --out {output}"
            " 2>&1 | tee {log}"


rule figure:
    input:
        sheets=lambda wildcards: validated(PLUGIN_FIGURES[wildcards.figure]["sheets"]),
        manifest=MANIFEST,
        code=lambda wildcards: code(
            "engine.figures",
            *plugin_modules([PLUGIN_FIGURES[wildcards.figure]["plugin"]]),
        ),
    output:
        report(
            f"{RESULTS}/figures/{{figure}}.svg",
            caption=f"{REPORT_CAPTIONS}/figure.rst",
            category="Figures",
            subcategory="Review figures",
            labels={"figure": "{figure}"},
        ),
    log:
        f"{LOGS}/figure/{{figure}}.log",
    conda:
        "environment.yml"
    params:
        validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
    message:
        "Drawing figure {wildcards.figure} with its plug-in"
    shell:
        "python -m engine.figures --manifest {input.manifest} --figure {wildcards.figure}"
        " --validated-dir {params.validated}"
        " --svg {output} 2>&1 | tee {log}"


rule meta_analysis:
    input:
        sheets=validated(SHEETS),
        manifest=MANIFEST,
        code=code(
            "engine.analysis",
            "engine.forest_plot",
            "engine.inference",
            *plugin_modules(REVIEW.analysis_plugins),
        ),
    output:
        values=f"{RESULTS}/derived/meta_analysis.json",
        forests=[
            report(
                f"{RESULTS}/figures/{name}.svg",
                caption=f"{REPORT_CAPTIONS}/forest.rst",
                category="Figures",
                subcategory="Meta-analysis",
                labels={"figure": name, "analysis": key},
            )
            for name, key in FOREST_PLOTS.items()
        ],
    log:
        f"{LOGS}/meta_analysis.log",
    # The longest job, and the start of the longest chain (values, ledger_table, render): started first,
    # the rest of the build runs beside it on the other core.
    priority: 10
    conda:
        "environment.yml"
    params:
        validated=lambda wildcards, input: os.path.dirname(input.sheets[0]),
        # A function of the output, as Snakemake counts it, so not tracked as a param (see the render rule).
        forests=lambda wildcards, output: " ".join(
            f"--figure {name} {path}"
            for name, path in zip(FOREST_PLOTS, output.forests)
        ),
    message:
        "Meta-analysing the outcome (GLMM, random effects) and drawing the forest plots"
    shell:
        "python -m engine.analysis --manifest {input.manifest} --validated-dir {params.validated}"
        " --out {output.values}"
        " {params.forests} 2>&1 | tee {log}"


def values_inputs(wildcards):
    inputs = {
        "sheets": validated(SHEETS),
        "analysis": rules.meta_analysis.output.values,
        "manifest": MANIFEST,
    }
    if REVIEW.prisma is not None:
        inputs["prisma"] = rules.prisma.output.counts
    if REVIEW.claims is not None:
        inputs["claims"] = os.path.relpath(REVIEW.claims)
    return inputs


rule values:
    input:
        unpack(values_inputs),
        code=code("engine.values", *plugin_modules(REVIEW.values.get("plugins", []))),
    output:
        registry=report(
            f"{RESULTS}/values.yml",
            caption=f"{REPORT_CAPTIONS}/values.rst",
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
        prisma=lambda wildcards, input: (
            f"--prisma-counts {input.prisma}" if "prisma" in input.keys() else ""
        ),
        claims=lambda wildcards, input: (
            f"--claims {input.claims}" if "claims" in input.keys() else ""
        ),
    message:
        "Writing the values registry"
    shell:
        "python -m engine.values --manifest {input.manifest} --validated-dir {params.validated} {params.prisma}"
        " --analysis {input.analysis} {params.claims} --out {output.registry} --meta-out {output.meta}"
        " 2>&1 | tee {log}"


if REVIEW.claims is not None:

    rule ledger_table:
        input:
            claims=os.path.relpath(REVIEW.claims),
            registry=rules.values.output.registry,
            code=code("engine.ledger"),
        output:
            f"{RESULTS}/tables/ledger.md",
        log:
            f"{LOGS}/ledger_table.log",
        conda:
            "environment.yml"
        message:
            "Building the published-claims ledger (appendix table)"
        shell:
            "python -m engine.ledger --claims {input.claims} --registry {input.registry} --out {output}"
            " 2>&1 | tee {log}"


rule table_view:
    input:
        md=f"{RESULTS}/tables/{{table}}.md",
        code=code("engine.report_views"),
    output:
        report(
            f"{RESULTS}/report/tables/{{table}}.html",
            caption=f"{REPORT_CAPTIONS}/table.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    log:
        f"{LOGS}/table_view/{{table}}.log",
    conda:
        "environment.yml"
    message:
        "Writing the report's view of table {wildcards.table}"
    shell:
        "python -m engine.report_views --md {input.md} --title 'Table {wildcards.table}'"
        " --out {output} 2>&1 | tee {log}"


def render_rule_inputs(wildcards):
    """The manuscript, every file its render reads (engine/render.py finds them in the sources), and the
    render's settings that are no file (the engine, the build stamp with its commit, date and tools),
    written to a file only when they change, so that a new commit or engine renders the paper again.
    """
    qmd = config["manuscript"]
    # A path that no file and no rule provides (a typo in an include) would make Snakemake drop the render
    # and keep the old paper as a source ("Nothing to be done", exit 0): it goes into the settings file
    # instead, which reruns the render, and the render's lint fails naming the line.
    # The stamp file first: it is one of the render's inputs, written here and by no rule.
    write_stamp(Path(qmd))
    read, unmade = split_unmade(
        [Path(os.path.relpath(path)) for path in render_inputs(Path(qmd))],
        lambda path: any(r.is_producer(path) for r in workflow.rules),
    )
    settings = record_render_settings(
        Path(f"{RESULTS}/render-settings.txt"),
        Path(qmd),
        config["render_engine"],
        unmade,
    )
    return {
        "qmd": qmd,
        "read": [path.as_posix() for path in read],
        "settings": settings.as_posix(),
    }


rule render:
    input:
        # Parsed from _quarto.yml, the qmd and its includes; tables and figures still to be made are
        # listed by path, which ties them to the rules that write them.
        unpack(render_rule_inputs),
    output:
        html=report(
            f"{OUT}/index.html",
            caption=f"{REPORT_CAPTIONS}/manuscript.rst",
            category="Manuscript",
        ),
        pdf=report(
            f"{OUT}/index.pdf",
            caption=f"{REPORT_CAPTIONS}/manuscript.rst",
            category="Manuscript",
        ),
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
    message:
        "Rendering the manuscript to HTML and PDF"
    shell:
        "python -m engine.render --qmd {input.qmd} --output-dir {params.out} --engine {params.engine}"
        " 2>&1 | tee {log}"


rule preview_html:
    input:
        # The render's inputs: the preview reruns for every edit that renders the paper again.
        unpack(render_rule_inputs),
    output:
        f"{RESULTS}/preview/index.html",
    log:
        f"{LOGS}/preview_html.log",
    conda:
        "environment.yml"
    params:
        out=lambda wildcards, output: os.path.dirname(output[0]),
    message:
        "Rendering the live preview's page: HTML alone, resources linked (python -m engine.preview)"
    shell:
        "python -m engine.render --qmd {input.qmd} --output-dir {params.out} --preview 2>&1 | tee {log}"
