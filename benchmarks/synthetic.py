"""A synthetic review N times larger than Gao & Jin 2022, for benchmarking the build at scale.

Usage::

    python benchmarks/synthetic.py --scale 100 --seed 1 PROJECT   # PROJECT: a copy of the repository

writes ``PROJECT/data/raw/*.csv`` and ``PROJECT/manuscript/references.bib``. The review's 17 studies stay
as they are (study ids 1-17), so every number the manuscript quotes still has its registry key (the keys
come from the data's categories, dose classes and study 14's primary report). They are followed by
``scale - 1`` blocks of 17 synthetic studies (ids 18, 19, ...), each modelled on the real study in the same
position and drawn with a seeded generator (the same seed gives the same bytes):

* study size: a single-patient report stays one patient; a series gets a log-normally scattered size
  around its model's (2-150 patients); sex, age range and thrombophilia are drawn to fit it;
* responders: binomial, with a per-study response probability drawn around the model's response rate;
  recurrences among the responders where the model states recurrences;
* dose groups as in the model (a split study is split at random, patients and responders summing to the
  study's), and the model's regimens;
* aggregates (comorbidities, headache): the same categories, their source studies extended by every
  synthetic copy of the original source studies, and their counts scaled with those studies' patients;
* PRISMA: every reported count times ``scale``, which keeps the flow's arithmetic;
* references.bib: the real entries plus one synthetic entry per synthetic study.

Text cells other than the counts' own wording are copied from the model study. The manuscript's prose is
unchanged, so its sentences no longer describe the data; that is fine for timing the build.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAW = Path("data") / "raw"
BIB = Path("manuscript") / "references.bib"
MANIFEST = Path("config") / "review.yaml"
UNCHANGED_SHEETS = ("primary_scarpone2020.csv",)  # the primary report of study 14: one study, not scaled

Row = dict[str, str]

_SYLLABLES = ("ka", "lo", "mer", "san", "ti", "ver", "do", "rin", "bel", "ha", "nor", "zu", "gra", "el",
              "mon", "pe", "sha", "vik", "ar", "lind", "ko", "ru", "sel", "tam")
_COUNTRIES = ("Germany", "Japan", "United States", "France", "Italy", "Spain", "Korea", "Brazil", "China",
              "United Kingdom", "Austria", "Turkey", "Israel", "Portugal", "Romania", "India", "Canada")


@dataclass(frozen=True)
class Review:
    """The sheets of a review, as rows of text cells in their files' column order."""

    columns: Mapping[str, Sequence[str]]
    rows: Mapping[str, list[Row]]


def read_sheets(raw_dir: Path) -> Review:
    """Every CSV sheet of ``raw_dir`` except those copied unchanged."""
    columns, rows = {}, {}
    for path in sorted(raw_dir.glob("*.csv")):
        if path.name in UNCHANGED_SHEETS:
            continue
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows[path.stem] = list(reader)
            columns[path.stem] = list(reader.fieldnames or [])
    return Review(columns, rows)


def write_sheet(path: Path, columns: Sequence[str], rows: Sequence[Row]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def _patients_text(n: int) -> str:
    return f"{n} patient{'' if n == 1 else 's'}"


def _number(value: float) -> str:
    """A number as the sheets print it: no trailing ".0"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


class Authors:
    """Fictional first authors and their unique citation keys (``^[a-z]+[0-9]{4}[a-z]?$``)."""

    def __init__(self, rng: random.Random, taken: set[str]):
        self.rng = rng
        self.taken = set(taken)

    def draw(self, year: int) -> tuple[str, str]:
        """A surname and a key for it that no entry has yet."""
        while True:
            surname = "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 3))).capitalize()
            for suffix in ("", *"abcdefghijklmnopqrstuvwxyz"):
                key = f"{surname.lower()}{year}{suffix}"
                if key not in self.taken:
                    self.taken.add(key)
                    return surname, key


def synthetic_study(model: Row, outcome: Row, study_id: int, rng: random.Random,
                    authors: Authors) -> tuple[Row, Row]:
    """A study modelled on ``model`` (studies.csv row) and its outcome row (outcomes.csv)."""
    model_patients = int(model["patients"])
    patients = 1 if model_patients == 1 else min(150, max(2, round(model_patients * rng.lognormvariate(0, 0.6))))
    year = rng.randint(1999, 2024)
    surname, key = authors.draw(year)
    study = {**model, "study_id": str(study_id), "ref_key": key, "first_author": surname, "year": str(year),
             "country": rng.choice(_COUNTRIES), "patients": str(patients),
             "note": f"Synthetic (benchmarks/synthetic.py), modelled on study {model['study_id']}."}
    if patients == 1:
        age = rng.randint(16, 85)
        study |= {"age_text": str(age), "age_statistic": "value", "age_value": str(age), "age_min": "NA",
                  "age_max": "NA"}
    else:
        low = rng.randint(16, 50)
        high = min(95, low + rng.randint(5, 45))
        mean = _number(rng.uniform(low, high))
        study |= {"age_text": f"{mean} ({low}–{high})", "age_statistic": "mean", "age_value": mean,
                  "age_min": str(low), "age_max": str(high)}
    males = binomial(rng, patients, 0.3)
    study |= {"males": str(males), "females": str(patients - males)}
    if model["thrombophilia_positive"] != "NA":
        positive = binomial(rng, patients, 0.25)
        study |= {"thrombophilia_positive": str(positive),
                  "thrombophilia_text": _patients_text(positive) if positive else "None"}
    model_rate = int(outcome["responders"]) / model_patients
    responders = binomial(rng, patients, rng.betavariate(1 + 8 * model_rate, 1 + 8 * (1 - model_rate)))
    result = {**outcome, "study_id": str(study_id), "responders": str(responders),
              "responders_text": _patients_text(responders), "note": ""}
    if outcome["recurrences"] != "NA":
        relapsed = binomial(rng, responders, 0.3)
        result |= {"recurrences": str(relapsed),
                   "recurrence_text": f"{_patients_text(relapsed)} relapsed" if relapsed else "NR"}
    return study, result


def split(rng: random.Random, total: int, sizes: Sequence[int]) -> list[int]:
    """``total`` split into len(sizes) parts, each between 0 and its size (the sizes sum to >= total)."""
    parts = []
    left = total
    for index, size in enumerate(sizes):
        rest = sum(sizes[index + 1:])
        part = rng.randint(max(0, left - rest), min(size, left)) if index < len(sizes) - 1 else left
        parts.append(part)
        left -= part
    return parts


def synthetic_groups(models: Sequence[Row], study: Row, outcome: Row, rng: random.Random) -> list[Row]:
    """The study's dose groups, as its model's: patients and responders summing to the study's."""
    patients, responders = int(study["patients"]), int(outcome["responders"])
    if len(models) == 1:
        sizes = [patients]
    else:
        cuts = sorted(rng.sample(range(1, patients), len(models) - 1))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, patients])]
    groups = []
    for model, size, responded in zip(models, sizes, split(rng, responders, sizes)):
        suffix = model["group_id"].split("-", 1)[1]
        recurrences = "NA" if model["recurrences"] == "NA" else str(binomial(rng, responded, 0.3))
        groups.append({**model, "group_id": f"{study['study_id']}-{suffix}", "study_id": study["study_id"],
                       "patients": str(size), "responders": str(responded), "recurrences": recurrences,
                       "note": ""})
    return groups


def scaled_aggregates(rows: Sequence[Row], studies: Mapping[int, Row], copies: Mapping[int, list[int]],
                      original_total: int) -> Iterator[Row]:
    """Each aggregate over the original source studies and all their copies, its count scaled with them."""
    total = sum(int(study["patients"]) for study in studies.values())
    for row in rows:
        sources = [int(part) for part in row["source_studies"].split(";")]
        extended = [*sources, *(copy for source in sources for copy in copies[source])]
        pool = sum(int(studies[i]["patients"]) for i in extended)
        original_pool = sum(int(studies[i]["patients"]) for i in sources)
        patients = min(pool, round(int(row["patients"]) * pool / original_pool))
        denominator = row["denominator"]
        if denominator != "NA":
            denominator = str(max(patients, round(int(denominator) * total / original_total)))
        yield {**row, "patients": str(patients), "denominator": denominator,
               "source_studies": ";".join(map(str, extended))}


def scaled_prisma(rows: Sequence[Row], scale: int) -> list[Row]:
    """Every count times ``scale``: sums and differences of the flow stay exact."""
    return [{**row, "n": str(int(row["n"]) * scale) if row["n"] else ""} for row in rows]


def bib_entry(study: Row) -> str:
    return (f"@article{{{study['ref_key']},\n  author  = {{{study['first_author']}, A. and others}},\n"
            f"  title   = {{Intravenous immunoglobulin for livedoid vasculopathy: a synthetic {study['design']}}},\n"
            f"  journal = {{Synthetic Benchmark Journal}},\n  year    = {{{study['year']}}},\n"
            f"  volume  = {{1}},\n  pages   = {{{study['study_id']}}},\n}}\n")


def generate(source: Path, target: Path, scale: int, seed: int) -> int:
    """Write the review ``scale`` times larger into ``target`` (a project copy); returns the number of studies."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    review = read_sheets(source / RAW)
    rng = random.Random(seed)
    originals = review.rows["studies"]
    outcomes_by_id = {row["study_id"]: row for row in review.rows["outcomes"]}
    groups_by_study: dict[str, list[Row]] = {}
    for group in review.rows["dose_groups"]:
        groups_by_study.setdefault(group["study_id"], []).append(group)
    regimens_by_group: dict[str, list[Row]] = {}
    for regimen in review.rows["regimens"]:
        regimens_by_group.setdefault(regimen["group_id"], []).append(regimen)
    bib_text = (source / BIB).read_text(encoding="utf-8")
    authors = Authors(rng, {row["ref_key"] for row in originals})

    studies, outcomes = list(originals), list(review.rows["outcomes"])
    groups, regimens = list(review.rows["dose_groups"]), list(review.rows["regimens"])
    copies: dict[int, list[int]] = {int(row["study_id"]): [] for row in originals}
    next_id = max(copies) + 1
    new_entries = []
    for _ in range(scale - 1):
        for model in originals:
            study, outcome = synthetic_study(model, outcomes_by_id[model["study_id"]], next_id, rng, authors)
            new_groups = synthetic_groups(groups_by_study[model["study_id"]], study, outcome, rng)
            for model_group, group in zip(groups_by_study[model["study_id"]], new_groups):
                regimens += [{**regimen, "group_id": group["group_id"], "note": ""}
                             for regimen in regimens_by_group[model_group["group_id"]]]
            studies.append(study)
            outcomes.append(outcome)
            groups += new_groups
            copies[int(model["study_id"])].append(next_id)
            new_entries.append(bib_entry(study))
            next_id += 1
    by_id = {int(row["study_id"]): row for row in studies}
    original_total = sum(int(row["patients"]) for row in originals)
    sheets = {
        "studies": studies, "outcomes": outcomes, "dose_groups": groups, "regimens": regimens,
        "aggregates": list(scaled_aggregates(review.rows["aggregates"], by_id, copies, original_total)),
        "prisma": scaled_prisma(review.rows["prisma"], scale),
    }
    raw = target / RAW
    raw.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        write_sheet(raw / f"{name}.csv", review.columns[name], rows)
    for name in UNCHANGED_SHEETS:
        shutil.copyfile(source / RAW / name, raw / name)
    (target / BIB).parent.mkdir(parents=True, exist_ok=True)
    (target / BIB).write_text(bib_text.rstrip("\n") + "\n\n" + "\n".join(new_entries), encoding="utf-8")
    return len(studies)


def check(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own check of every sheet (schemas, the manifest's rules, PRISMA, bibliography keys)."""
    return subprocess.run([sys.executable, "-m", "engine.validation", "--manifest", str(MANIFEST), "--raw-dir",
                           str(RAW), "--bib", str(BIB), "check"], cwd=project, capture_output=True, text=True,
                          check=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("project", type=Path, help="the project copy to write data/raw and references.bib into")
    parser.add_argument("--scale", type=int, default=100, help="how many times larger (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, default=REPO, help="where the real sheets are (default: repo)")
    args = parser.parse_args(argv)
    if args.project.resolve() == args.source.resolve():
        parser.error("refusing to overwrite the source's own data: give a copy of the project")
    n = generate(args.source, args.project, args.scale, args.seed)
    result = check(args.project)
    print(f"{n} studies written to {args.project / RAW}", file=sys.stderr)
    sys.stderr.write(result.stdout + result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
