"""Change the data or the text of a copy of the project, rebuild, and watch every number of the paper.

Three builds in one temporary copy, in this order: the project as it is; then one raw value changed
consistently in two sheets (study 9, Monshi et al.: 10 -> 9 responders); then a number typed by hand into
the manuscript's prose. Each build's paper is audited with engine/audit.py, and its values are compared
with the registry recomputed from the copy's raw sheets at that moment.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.audit import Rendered, Token, ValueSpan, check_unmarked
from engine.manifest import load_review
from engine.recompute import fresh_displays
from tests.project_copy import build, copy_project

pytestmark = pytest.mark.slow

TYPED_SENTENCE = "Of these, 42 patients improved."


@dataclass(frozen=True)
class Snapshot:
    """One build of the copy: its paper's numbers, its value spans, and the values the raw sheets give."""

    tokens: tuple[Token, ...]
    values: tuple[ValueSpan, ...]
    fresh: dict[str, str]
    build_log: str

    def displays(self, key: str) -> set[str]:
        return {span.text for span in self.values if span.key == key}


def job_stats(log: str) -> dict[str, int]:
    """Snakemake's "Job stats" table: rule -> number of jobs it ran."""
    table = log.split("Job stats:", 1)[1].split("total", 1)[0] if "Job stats:" in log else ""
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M)}


def rebuild(project: Path) -> Snapshot:
    """Build the copy (failing the test on a failed build) and take its snapshot."""
    result = build(project)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the build failed:\n{log[-6000:]}"
    page = Rendered((project / "_manuscript" / "index.html").read_text(encoding="utf-8"))
    review = load_review(project / "config" / "review.yaml", None, project / "manuscript" / "references.bib")
    fresh = fresh_displays(review)
    return Snapshot(tuple(page.tokens()), tuple(page.values()), fresh, log)


def set_cell(sheet: Path, key_column: str, key: str, column: str, old: str, new: str) -> None:
    """Change one cell of a raw sheet, checking that it held ``old``."""
    with open(sheet, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    matches = [row for row in rows[1:] if row[header.index(key_column)] == key]
    assert len(matches) == 1, f"{sheet.name}: no single row with {key_column} = {key}"
    assert matches[0][header.index(column)] == old, f"{sheet.name}: {column} of {key} is not {old}"
    matches[0][header.index(column)] = new
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def type_a_number_into_the_prose(qmd: Path) -> None:
    """Put TYPED_SENTENCE at the start of the first paragraph after the first level-1 heading."""
    lines = qmd.read_text(encoding="utf-8").split("\n")
    body_start = [i for i, line in enumerate(lines) if line == "---"][1] + 1
    heading = next(i for i in range(body_start, len(lines)) if lines[i].startswith("# "))
    paragraph = next(i for i in range(heading + 1, len(lines)) if lines[i].strip())
    assert lines[paragraph][:1].isalpha(), f"not a prose paragraph: {lines[paragraph]!r}"
    lines[paragraph] = f"{TYPED_SENTENCE} {lines[paragraph]}"
    qmd.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("mutation") / "project")


@pytest.fixture(scope="module")
def original(project: Path) -> tuple[Snapshot, subprocess.CompletedProcess]:
    """Build 1: the project as it is, and a dry run right after it."""
    return rebuild(project), build(project, dry_run=True)


@pytest.fixture(scope="module")
def data_changed(project: Path, original: tuple[Snapshot, subprocess.CompletedProcess]) -> Snapshot:
    """Build 2: study 9 has 9 responders instead of 10, in outcomes.csv and in its high-dose group."""
    raw = project / "data" / "raw"
    set_cell(raw / "outcomes.csv", "study_id", "9", "responders", "10", "9")
    set_cell(raw / "dose_groups.csv", "group_id", "9-high", "responders", "10", "9")
    return rebuild(project)


@pytest.fixture(scope="module")
def text_changed(project: Path, data_changed: Snapshot) -> tuple[Snapshot, subprocess.CompletedProcess]:
    """Build 3: a hand-typed number in the prose; and the audit CLI run on the result."""
    type_a_number_into_the_prose(project / "manuscript" / "index.qmd")
    snapshot = rebuild(project)
    cli = subprocess.run([sys.executable, "-m", "engine.audit", "--html", "_manuscript/index.html",
                          "--pdf", "_manuscript/index.pdf", "--registry", "results/values.yml"],
                         cwd=project, capture_output=True, text=True, check=False)
    return snapshot, cli


# --- (c) an unchanged project rebuilds nothing ------------------------------------------------------------


def test_a_rebuild_without_changes_runs_nothing(original: tuple[Snapshot, subprocess.CompletedProcess]) -> None:
    dry_run = original[1]
    assert dry_run.returncode == 0, dry_run.stderr[-3000:]
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr
    assert job_stats(dry_run.stdout + dry_run.stderr) == {}


# --- (a) a data change moves exactly the numbers computed from it -----------------------------------------


def test_the_hand_computed_values_follow_the_data(original: tuple[Snapshot, subprocess.CompletedProcess],
                                                 data_changed: Snapshot) -> None:
    before = original[0]
    # 80 patients in all. Responders: 76 before, 75 after; study 9's high-dose group holds 65 patients
    # (as before) with 62 -> 61 responders.
    expected = {
        "responders": ("76", "75"),
        "non_responders": ("4", "5"),
        "response_ratio": ("76/80", "75/80"),
        "response_pct": ("95%", "93.75%"),  # 75 / 80 = 0.9375
        "dose_high_responders": ("62", "61"),
        "dose_high_response_ratio": ("62/65", "61/65"),
        "dose_high_response_pct": ("95.38%", "93.85%"),  # 61 / 65 = 0.93846..., two decimals
    }
    for key, (old, new) in expected.items():
        assert (before.fresh[key], data_changed.fresh[key]) == (old, new), key
    for key in ("responders", "response_pct", "response_ratio"):
        assert before.displays(key) == {expected[key][0]}, key
        assert data_changed.displays(key) == {expected[key][1]}, key


def test_every_value_computed_from_the_changed_data_changed_in_the_paper(
        original: tuple[Snapshot, subprocess.CompletedProcess], data_changed: Snapshot) -> None:
    before = original[0]
    assert [span.key for span in before.values] == [span.key for span in data_changed.values]
    changed = {key for key in before.fresh if before.fresh[key] != data_changed.fresh.get(key)}
    assert {"responders", "response_pct", "response_ratio"} <= changed
    for old, new in zip(before.values, data_changed.values, strict=True):
        assert old.text == before.fresh[old.key], f"{old.key} was stale before the change"
        assert new.text == data_changed.fresh[new.key], f"{new.key} is stale after the change: {new.sentence}"
        if new.key not in changed:
            assert new.text == old.text, f"{new.key} changed though its data did not: {new.sentence}"


def test_no_other_number_of_the_paper_changed(original: tuple[Snapshot, subprocess.CompletedProcess],
                                              data_changed: Snapshot) -> None:
    before = original[0]
    assert len(before.tokens) == len(data_changed.tokens)
    changed_displays = {display for key, display in data_changed.fresh.items() if before.fresh.get(key) != display}
    for old, new in zip(before.tokens, data_changed.tokens, strict=True):
        assert (old.kind, old.key, old.where) == (new.kind, new.key, new.where)
        if old.where.startswith("tbl-ledger") and new.text != old.text:
            # The appendix ledger reprints recomputed registry values beside the published ones by design:
            # a cell there may change, but only to a value the changed data recompute.
            assert any(new.text in display for display in changed_displays), (old.text, new.text, old.where)
        elif old.kind != "bound":
            # The tables too stay as they were: the efficacy table prints the review's own text for the
            # responders ("10 patients (a)", responders_text) and the dose-group table its printed outcome
            # (outcome_text); no table cell reads the numeric responders column that changed.
            assert new.text == old.text, f"{old.kind} number {old.text!r} became {new.text!r} ({old.where})"


def test_the_data_change_reran_only_the_jobs_that_read_the_changed_sheets(data_changed: Snapshot) -> None:
    stats = job_stats(data_changed.build_log)
    # outcomes.csv is read by the validation of outcomes and dose_groups, dose_groups.csv by that of
    # dose_groups and regimens; of the tables, efficacy reads outcomes and dose-groups reads dose_groups, so
    # the one job that builds all four tables runs.
    assert stats["validate_sheet"] == 3
    assert stats["tables"] == 1
    assert stats["render"] == 1
    assert "prisma" not in stats


# --- (b) a number typed by hand fails the audit --------------------------------------------------------------


def test_a_typed_number_fails_the_audit_quoting_its_sentence(
        data_changed: Snapshot, text_changed: tuple[Snapshot, subprocess.CompletedProcess]) -> None:
    snapshot, cli = text_changed
    new = [f.message for f in check_unmarked(snapshot.tokens)]
    old = [f.message for f in check_unmarked(data_changed.tokens)]
    added = [message for message in new if message not in old]
    assert len(added) == 1 and len(new) == len(old) + 1, added
    assert "'42'" in added[0] and added[0].endswith(f": {TYPED_SENTENCE}")
    assert cli.returncode == 1
    assert TYPED_SENTENCE in cli.stdout


def test_a_text_change_reruns_only_the_render(text_changed: tuple[Snapshot, subprocess.CompletedProcess]) -> None:
    assert job_stats(text_changed[0].build_log) == {"render": 1, "all": 1}


def test_the_copy_is_the_working_tree_without_outputs_or_caches(tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "copy")
    for kept in ("Snakefile", "data/raw/outcomes.csv", "manuscript/index.qmd", "engine/audit.py"):
        assert (copy / kept).is_file(), kept
    for dropped in (".git", ".snakemake", "results", "_manuscript", ".venv"):
        assert not (copy / dropped).exists(), dropped
    assert not list(copy.rglob("__pycache__"))
