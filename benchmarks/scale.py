"""Benchmark of the gate and the meta-analysis at scale: wall time and peak memory, against linear growth.

Usage (from the repository root, in the project's virtualenv)::

    python benchmarks/scale.py [--scales 589 2942 5883] [--workdir DIR]

A scale of 5883 is a synthetic review of 100,011 studies (benchmarks/synthetic.py: the review's 17
studies and 5,882 blocks of 17 synthetic ones); 589 and 2942 are about 10,000 and 50,000. For each scale
the review is written into a throw-away copy of the project and three steps run, each the command the
Snakefile runs, in a process of its own, so that its peak memory (the maximum resident set size that
``wait4`` reports for it) is its own:

* the gate: ``python -m engine.validation check`` (every sheet, the PRISMA counts and the bibliography: what
  the Snakefile's onstart checks before any job);
* the validation: ``python -m engine.validation validate`` for each sheet (the validate_sheet jobs; their
  times are summed, their peak is the largest), which writes what the meta-analysis reads;
* the meta-analysis: ``python -m engine.analysis`` (the meta_analysis job: the GLMM, the random-effects
  models, the subgroup tests and the forest plots).

Target, for time and memory alike: linear growth. Between consecutive scales the cost of one more study
(the increase divided by the studies added) must not grow by more than half: ``slope(last) <= 1.5 x
slope(first)``; a term in k^2 doubles the slope from 10,000 to 50,000 studies and again to 100,000.
Results go to stdout and, as JSON and as a Markdown table, to ``benchmarks/out/scale-<UTC time>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic import BIB, RAW, generate  # noqa: E402
from engine.manifest import load_review  # noqa: E402
from tests.project_copy import copy_project  # noqa: E402

OUT = REPO / "benchmarks" / "out"
STEPS = ("gate", "validation", "meta-analysis")
TARGET_SLOPE_RATIO = 1.5


class BenchmarkError(RuntimeError):
    """A step failed; the message holds its output."""


@dataclass(frozen=True)
class Measure:
    wall_s: float
    peak_mib: float


def measure(command: Sequence[str], cwd: Path) -> Measure:
    """Run ``command`` alone; its wall time and its own peak resident memory (raises if it fails)."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            raise BenchmarkError(f"{' '.join(command)} failed in {cwd}:\n{log.read()[-4000:]}")
    return Measure(wall, usage.ru_maxrss / 1024)  # KiB on Linux


def python(*arguments: str) -> list[str]:
    return [sys.executable, *arguments]


def run_scale(project: Path) -> dict[str, Measure]:
    """The three steps on the review in ``project``."""
    manifest = ("--manifest", "config/review.yaml", "--raw-dir", str(RAW), "--bib", str(BIB))
    results = {"gate": measure(python("-m", "engine.validation", *manifest, "check"), project)}
    validated = Path("results") / "validated"
    sheets = load_review(project / "config" / "review.yaml").sheet_names
    runs = [measure(python("-m", "engine.validation", *manifest, "validate", "--sheet", sheet, "--out",
                           str(validated / f"{sheet}.csv")), project) for sheet in sheets]
    results["validation"] = Measure(sum(r.wall_s for r in runs), max(r.peak_mib for r in runs))
    figures = Path("results") / "figures"
    results["meta-analysis"] = measure(
        python("-m", "engine.analysis", "--manifest", "config/review.yaml", "--validated-dir", str(validated),
               "--out", "results/derived/ma.json", "--figure", "forest", str(figures / "forest.svg"),
               "--figure", "forest-dose", str(figures / "forest-dose.svg")),
        project)
    return results


def slope_ratio(studies: Sequence[int], values: Sequence[float]) -> float:
    """slope(last interval) / slope(first interval); 1 for linear growth, nan when the first interval shows
    no growth (at small scales the fixed costs and the machine's noise dominate: measure larger ones)."""
    first = (values[1] - values[0]) / (studies[1] - studies[0])
    last = (values[-1] - values[-2]) / (studies[-1] - studies[-2])
    return last / first if first > 0 else float("nan")


def verdicts(studies: Sequence[int], table: Sequence[dict[str, Measure]]) -> list[tuple[str, str, float, bool]]:
    """(step, quantity, slope ratio, within the target) for each step's time and memory."""
    found = []
    for step in STEPS:
        for quantity in ("wall_s", "peak_mib"):
            ratio = slope_ratio(studies, [getattr(row[step], quantity) for row in table])
            found.append((step, quantity, ratio, bool(ratio <= TARGET_SLOPE_RATIO)))
    return found


def markdown(info: dict[str, object], studies: Sequence[int], table: Sequence[dict[str, Measure]]) -> str:
    lines = [f"Scale benchmark, {info['date']} ({info['cores']} cores, Python {info['python']}).", "",
             "| studies | " + " | ".join(f"{step} s | {step} MiB" for step in STEPS) + " |",
             "|---:|" + "---:|" * (2 * len(STEPS))]
    for n, row in zip(studies, table, strict=True):
        cells = " | ".join(f"{row[step].wall_s:.1f} | {row[step].peak_mib:.0f}" for step in STEPS)
        lines.append(f"| {n:,} | {cells} |")
    lines += ["", f"Target: linear growth (slope of the last interval <= {TARGET_SLOPE_RATIO} x the first's).", ""]
    for step, quantity, ratio, ok in verdicts(studies, table):
        what = "time" if quantity == "wall_s" else "peak memory"
        verdict = "holds" if ok else "undetermined (no growth over the first interval)" if math.isnan(ratio) else (
            "DOES NOT HOLD")
        lines.append(f"- {step} {what}: slope ratio {ratio:.2f}, {verdict}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[589, 2942, 5883],
                        help="synthetic review sizes (x 17 studies); at least two, ascending")
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    if len(args.scales) < 2 or sorted(set(args.scales)) != args.scales:
        parser.error("give at least two ascending scales")
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        studies, table = [], []
        # One unmeasured round first: the first processes read the interpreter and libraries from disk.
        warm = copy_project(Path(work) / "warm-up")
        generate(REPO, warm, args.scales[0], seed=1)
        run_scale(warm)
        for scale in args.scales:
            project = copy_project(Path(work) / f"x{scale}")
            studies.append(generate(REPO, project, scale, seed=1))
            table.append(run_scale(project))
            row = ", ".join(f"{step} {m.wall_s:.1f} s / {m.peak_mib:.0f} MiB" for step, m in table[-1].items())
            print(f"{studies[-1]:,} studies: {row}", file=sys.stderr, flush=True)
    info = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cores": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0], "load_average_at_start": os.getloadavg()}
    text = markdown(info, studies, table)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT / f"scale-{stamp}.md").write_text(text, encoding="utf-8")
    record = {**info, "studies": studies,
              "steps": [{step: asdict(measure) for step, measure in row.items()} for row in table],
              "verdicts": [dict(zip(("step", "quantity", "slope_ratio", "holds"), v)) for v in verdicts(studies, table)]}
    (OUT / f"scale-{stamp}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0 if all(ok for *_, ok in verdicts(studies, table)) else 1


if __name__ == "__main__":
    sys.exit(main())
