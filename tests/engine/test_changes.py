"""engine/differences.py and engine/changes.py on two small builds made by hand, their differences written
out below by hand.

The base and the head each have a registry, a manuscript quoting it, two tables and a ledger written by
engine/tables.py's writer (so in the format of a real build), and input sheets, one with a schema's primary
key and two without. A last test builds two commits of a tiny git repository in temporary worktrees.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine import changes, differences
from engine.tables import Column, TableSpec, include_file
from tests.fixed_git import run_git
from tests.project_copy import build

DEMOGRAPHICS = (Column("no", "No."), Column("study", "Study"), Column("country", "Country"))
DOSES = (Column("study", "Study"), Column("n", "n"), Column("per_cycle", "Per cycle"))
LEDGER = tuple(
    Column(key, key.capitalize())
    for key in ("section", "context", "published", "recomputed", "class", "reason")
)

BASE_QMD = """---
title: "A small review"
abstract: |
  Of all {{< meta v.n_patients >}} patients, {{< meta v.responders >}} responded ({{< meta v.response_pct >}}).
  Nothing else is counted here.
---

# Results

The review dates from [2022]{.lit}. An early count gave {{< meta v.only_base >}} things.

::: {#tbl-demographics}

{{< include ../results/tables/demographics.md >}}

The studies.

:::

::: {#tbl-dose-groups}

{{< include ../results/tables/dose-groups.md >}}

The doses.

:::
"""

HEAD_QMD = BASE_QMD.replace(
    "An early count gave {{< meta v.only_base >}} things.",
    "We counted {{< meta v.only_head >}} new\nthings over two lines, and {{< meta v.n_patients >}} patients.",
)


def registry(**entries: tuple[str, object]) -> dict:
    return {
        key: {"display": display, "value": value, "made_by": "hand"}
        for key, (display, value) in entries.items()
    }


def studies(*rows: tuple[str, str, str]) -> TableSpec:
    return TableSpec(
        "demographics",
        DEMOGRAPHICS,
        tuple({"no": no, "study": study, "country": country} for no, study, country in rows),
        notes=("Countries as printed.",),
    )


def doses(low_per_cycle: str) -> TableSpec:
    rows = (
        {"group": "High", "study": "A et al.", "n": "2", "per_cycle": "2"},
        {"group": "Low", "study": "A et al.", "n": "1", "per_cycle": low_per_cycle},
    )
    return TableSpec(
        "dose-groups", DOSES, rows, spanners=(("Computed dose, g/kg", ("per_cycle",)),), group_key="group"
    )


def ledger(recomputed: str, klass: str) -> TableSpec:
    rows = (
        {
            "section": "Abstract",
            "context": "effective in 95% (76/80)",
            "published": "95%",
            "recomputed": recomputed,
            "class": klass,
            "reason": "",
        },
        {
            "section": "Abstract",
            "context": "effective in 95% (76/80)",
            "published": "80",
            "recomputed": "80",
            "class": "reproduced",
            "reason": "",
        },
    )
    return TableSpec("ledger", LEDGER, rows)


def make_build(root: Path, values: dict, qmd: str, tables: list[TableSpec], sheets: dict[str, str]) -> Path:
    (root / "results" / "tables").mkdir(parents=True)
    (root / "results" / "values.yml").write_text(yaml.safe_dump(values), encoding="utf-8")
    for spec in tables:
        (root / "results" / "tables" / f"{spec.name}.md").write_text(include_file(spec), encoding="utf-8")
    (root / "manuscript").mkdir()
    (root / "manuscript" / "index.qmd").write_text(qmd, encoding="utf-8")
    (root / "config" / "schemas").mkdir(parents=True)
    (root / "config" / "schemas" / "studies.schema.yaml").write_text("x-primary-key: [study_id]\n")
    for name, text in sheets.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def builds(tmp_path: Path) -> tuple[Path, Path]:
    base = make_build(
        tmp_path / "base",
        registry(
            n_patients=("80", 80),
            responders=("76", 76),
            response_pct=("95%", 95.0),
            age_mean=("46.2", 46.21),
            only_base=("3", 3),
        ),
        BASE_QMD,
        [
            studies(
                ("1", "Levy et al.", "Israel"), ("2", "Amital et al.", "Israel"), ("3", "X et al.", "France")
            ),
            doses("1"),
            ledger("95%", "reproduced"),
        ],
        {
            "data/raw/studies.csv": "study_id,country,note\n1,Israel,\n2,Israel,\n3,France,\n",
            "data/raw/prisma.csv": "data,reason,n\nrecords_screened,,41\nreports_excluded,wrong design,3\n"
            "reports_excluded,no IVIG,2\n",
            "data/published/claims.csv": "claim_id,published,expected_class\nabstract_pct,95%,reproduced\n",
        },
    )
    head = make_build(
        tmp_path / "head",
        registry(
            n_patients=("80", 80),
            responders=("75", 75),
            response_pct=("93.75%", 93.75),
            age_mean=("46.2", 46.24),
            only_head=("5", 5),
        ),
        HEAD_QMD,
        [
            studies(
                ("1", "Levy et al.", "Israel"), ("2", "Amital et al.", "Germany"), ("4", "Y et al.", "Spain")
            ),
            doses("1.5"),
            ledger("93.75%", "differs"),
        ],
        {
            "data/raw/studies.csv": "study_id,country,note\n1,Israel,\n2,Germany,\n4,Spain,new study\n",
            "data/raw/prisma.csv": "data,reason,n\nrecords_screened,,40\nreports_excluded,wrong design,3\n"
            "reports_excluded,no IVIG,2\n",
            "data/published/claims.csv": "claim_id,published,expected_class\nabstract_pct,95%,differs\n",
        },
    )
    return base, head


def test_every_changed_registry_value_is_listed_with_both_displays(builds: tuple[Path, Path]) -> None:
    found = differences.compare(*builds)
    listed = [(c.key, c.old and c.old["display"], c.new and c.new["display"]) for c in found.values]
    assert listed == [
        ("age_mean", "46.2", "46.2"),
        ("only_base", "3", None),
        ("only_head", None, "5"),
        ("responders", "76", "75"),
        ("response_pct", "95%", "93.75%"),
    ]


def test_the_sentences_quoting_a_changed_value_show_it_old_and_new(builds: tuple[Path, Path]) -> None:
    quotes = differences.compare(*builds).quotes
    assert [(q.file, q.line, q.keys, q.sentence) for q in quotes] == [
        (
            "manuscript/index.qmd",
            4,
            ("responders", "response_pct"),
            "Of all 80 patients, ~~76~~ **75** responded (~~95%~~ **93.75%**).",
        ),
        (
            "manuscript/index.qmd",
            10,
            ("only_head",),
            "We counted **5** new things over two lines, and 80 patients.",
        ),
        # The removed value, in the base's text.
        ("manuscript/index.qmd", 10, ("only_base",), "An early count gave ~~3~~ things."),
    ]


def test_every_changed_cell_row_and_note_of_each_table(builds: tuple[Path, Path]) -> None:
    found = differences.compare(*builds)
    by_name = {table.name: table for table in found.tables}
    assert sorted(by_name) == ["demographics", "dose-groups"]  # the ledger has its own section
    demographics = by_name["demographics"]
    assert demographics.cells == (
        differences.CellChange("No. 2 (Study: Amital et al.)", "Country", "Israel", "Germany"),
    )
    assert demographics.added == ("No.: 4; Study: Y et al.; Country: Spain",)
    assert demographics.removed == ("No.: 3; Study: X et al.; Country: France",)
    assert demographics.notes_added == demographics.notes_removed == ()
    # The same study in two row groups: told apart by the group.
    assert by_name["dose-groups"].cells == (
        differences.CellChange("Low · Study A et al. (n: 1)", "Computed dose, g/kg: Per cycle", "1", "1.5"),
    )
    assert found.numbers == {"demographics": 1, "dose-groups": 2}


def test_the_ledger_claims_whose_class_changed(builds: tuple[Path, Path]) -> None:
    assert differences.compare(*builds).claims == [
        differences.ClaimChange(
            "Abstract · effective in 95% (76/80) · 95%",
            {"Recomputed": "95%", "Class": "reproduced"},
            {"Recomputed": "93.75%", "Class": "differs"},
        ),
    ]


def test_the_input_rows_behind_them_by_primary_key(builds: tuple[Path, Path]) -> None:
    found = {sheet.sheet: sheet for sheet in differences.compare(*builds).inputs}
    assert sorted(found) == ["data/published/claims.csv", "data/raw/prisma.csv", "data/raw/studies.csv"]
    studies_sheet = found["data/raw/studies.csv"]
    assert (studies_sheet.key, studies_sheet.key_from_schema) == (("study_id",), True)
    assert studies_sheet.rows == (
        differences.RowChange("study_id=2", "changed", (("country", "Israel", "Germany"),)),
        differences.RowChange(
            "study_id=4",
            "added",
            (("study_id", "", "4"), ("country", "", "Spain"), ("note", "", "new study")),
        ),
        differences.RowChange(
            "study_id=3", "removed", (("study_id", "3", ""), ("country", "France", ""), ("note", "", ""))
        ),
    )
    # No schema: the first columns that tell the rows apart ("data" alone repeats).
    prisma = found["data/raw/prisma.csv"]
    assert (prisma.key, prisma.key_from_schema) == (("data", "reason"), False)
    assert prisma.rows == (
        differences.RowChange("data=records_screened, reason=", "changed", (("n", "41", "40"),)),
    )
    assert found["data/published/claims.csv"].rows == (
        differences.RowChange(
            "claim_id=abstract_pct", "changed", (("expected_class", "reproduced", "differs"),)
        ),
    )


def test_the_source_files_that_differ(builds: tuple[Path, Path]) -> None:
    assert differences.compare(*builds).sources == ["manuscript/index.qmd"]


def test_the_report_is_markdown_for_a_job_summary(builds: tuple[Path, Path]) -> None:
    report = changes.render_report(differences.compare(*builds), "`base`", "`head`")
    lines = report.splitlines()
    assert lines[0] == "## What changed in the paper: `base` → `head`"
    assert lines[2] == "5 registry values, 2 table cells, 1 ledger claim, 5 input rows changed."
    assert "| `age_mean` | 46.2 (value 46.21) | 46.2 (value 46.24) | not quoted |" in lines
    assert "| `responders` | 76 | 75 | manuscript/index.qmd:4 |" in lines
    assert "| `only_base` | 3 | (none) | manuscript/index.qmd:10 |" in lines
    assert (
        "- manuscript/index.qmd:4: Of all 80 patients, ~~76~~ **75** responded (~~95%~~ **93.75%**)." in lines
    )
    assert "### Table 1 (`demographics`)" in lines
    assert "| No. 2 (Study: Amital et al.) | Country | Israel | Germany |" in lines
    assert "- Row added: No.: 4; Study: Y et al.; Country: Spain" in lines
    assert "| Abstract · effective in 95% (76/80) · 95% | reproduced: 95% | differs: 93.75% |" in lines
    assert "| study\\_id=2 | changed | country | Israel | Germany |" in lines
    assert "`manuscript/index.qmd`" in lines


def test_no_difference_says_so(builds: tuple[Path, Path]) -> None:
    base, _ = builds
    report = changes.render_report(differences.compare(base, base), "a", "a")
    assert report == (
        "## What changed in the paper: a → a\n\n"
        "0 registry values, 0 table cells, 0 ledger claims, 0 input rows changed.\n"
    )


def test_a_cell_holds_text_not_markup() -> None:
    assert changes.cell("a|b *c* <x> [l](u)\nnext") == "a\\|b \\*c\\* &lt;x&gt; \\[l\\](u)<br>next"


def test_a_folder_without_a_registry_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(
        differences.ChangesError, match=r"results/values.yml not found: build that version first"
    ):
        differences.compare(tmp_path, tmp_path)


# --- two commits, each built in a temporary worktree ------------------------------------------------------

TINY_SNAKEFILE = """rule all:
    input: "data/registry.yml"
    output: "results/values.yml"
    shell: "cp {input} {output}"
"""


def test_two_commits_are_built_in_worktrees_and_compared(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "Snakefile").write_text(TINY_SNAKEFILE)
    (repo / ".gitignore").write_text("results/\n.snakemake/\n")
    run_git(repo, "init", "-q", date="2026-01-01T00:00:00Z")
    commits = []
    for day, shown in ((1, "12"), (2, "13")):
        (repo / "data" / "registry.yml").write_text(yaml.safe_dump(registry(n_studies=(shown, int(shown)))))
        run_git(repo, "add", "-A", date=f"2026-01-0{day}T00:00:00Z")
        run_git(repo, "commit", "-q", "-m", f"day {day}", date=f"2026-01-0{day}T00:00:00Z")
        commits.append(run_git(repo, "rev-parse", "HEAD", date="2026-01-01T00:00:00Z").strip())
    out = tmp_path / "summary.md"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.changes",
            "--repo",
            str(repo),
            "--base",
            commits[0],
            "--head",
            commits[1],
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = out.read_text(encoding="utf-8")
    assert report.startswith(f"## What changed in the paper: `{commits[0]}` ({commits[0][:12]}) → ")
    assert "| `n_studies` | 12 | 13 | not quoted |" in report.splitlines()
    assert "`data/registry.yml`" not in report  # not a source the report lists: only its effect
    # Both worktrees are gone; the repository's own checkout is untouched and unbuilt.
    assert (
        run_git(repo, "worktree", "list", "--porcelain", date="2026-01-01T00:00:00Z").count("worktree ") == 1
    )
    assert not (repo / "results").exists()


def test_a_stale_build_folder_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "Snakefile").write_text(TINY_SNAKEFILE)
    (project / "data" / "registry.yml").write_text(yaml.safe_dump(registry(n_studies=("12", 12))))
    result = build(project, cores=1)
    assert result.returncode == 0, result.stderr
    changes.check_current(project)  # just built: accepted
    (project / "data" / "registry.yml").write_text(yaml.safe_dump(registry(n_studies=("13", 13))))
    with pytest.raises(changes.ChangesError, match="older than their sources, Snakemake would rerun jobs"):
        changes.check_current(project)


# --- two real builds of the paper ----------------------------------------------------------------------------


@pytest.mark.slow
def test_one_edited_cell_of_a_real_build_is_the_only_change(reference_build, tmp_path: Path) -> None:
    """The shared complete build against a copy of it with one Table 1 cell edited and rebuilt."""
    import shutil

    from tests.clean_build import environment, run

    assert reference_build.result.returncode == 0, reference_build.log()
    head = shutil.copytree(reference_build.project, tmp_path / "head", symlinks=True)
    sheet = head / "data" / "raw" / "studies.csv"
    before = "ASP, NSAID, CTX, AZA, GC, warfarin, heparin, local plastic surgery"
    after = "ASP, NSAID, CTX, AZA, GC, warfarin, heparin, skin graft"
    assert sheet.read_text(encoding="utf-8").count(before) == 1
    sheet.write_text(sheet.read_text(encoding="utf-8").replace(before, after), encoding="utf-8")
    rebuilt = run(head, environment(LANG="C.UTF-8", TZ="UTC"))
    assert rebuilt.returncode == 0, rebuilt.stderr[-4000:]

    found = differences.compare(reference_build.project, head)
    # The column feeds no registry value, ledger claim or other table: Table 1's cell is all that moves.
    assert found.values == [] and found.claims == []
    assert [(t.name, t.cells) for t in found.tables] == [
        (
            "demographics",
            (differences.CellChange("No. 1 (Study: Levy et al.)", "Previous treatment", before, after),),
        )
    ]
    assert found.numbers["demographics"] == 1
    assert [(s.sheet, s.rows) for s in found.inputs] == [
        (
            "data/raw/studies.csv",
            (differences.RowChange("study_id=1", "changed", (("previous_treatments_text", before, after),)),),
        )
    ]
    assert found.sources == []
