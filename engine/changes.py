"""What changed in the paper between two versions, for its reviewers: a Markdown report.

Usage (from the project root, in its virtualenv)::

    python -m engine.changes --base <commit-or-folder> --head <commit-or-folder> [--out FILE] [--cores 2]

Each side is a built project folder (one holding ``results/``, such as ``.`` after ``snakemake``) or a git
commit, which is checked out into a temporary worktree and built there with ``snakemake`` (the same
interpreter; the worktree is removed afterwards); the two sides are made ready side by side. A folder with
a Snakefile must be up to date: a dry run that would remake its registry or a table stops the report,
since stale results would report changes that are not there.

The report lists (engine/differences.py finds them)

* every registry value (``results/values.yml``) whose display or value changed, was added or removed, with
  the manuscript sentences that quote it (``{{< meta v.KEY >}}`` in ``manuscript/*.qmd``), the changed
  value marked in them;
* every table cell that changed (``results/tables/*.md``, read back by engine/table_cells.py; rows are
  matched by their row group and leading cells), every row added or removed, and every changed source note;
* every claim of the ledger (``results/tables/ledger.md``) whose class or recomputed value changed;
* the input rows behind them: every row of ``data/raw/*.csv`` and ``data/published/*.csv`` changed, added or
  removed, matched by the sheet's primary key (``x-primary-key`` of ``config/schemas/<sheet>.schema.yaml``;
  for a sheet without one, its first columns that tell the rows apart);
* the source files that differ (code, configuration, manuscript), which explain changes the data do not.

The Markdown suits a GitHub job summary: ``python -m engine.changes ... >> "$GITHUB_STEP_SUMMARY"``.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.differences import REGISTRY, TABLES, Changes, ChangesError, compare

BUILD_TIMEOUT_SECONDS = 3600


# --------------------------------------------------------------------------
# The two sides


@dataclass(frozen=True)
class Side:
    root: Path
    label: str
    commit: str | None = None  # a commit checked out in ``root``, to build; None: a built folder


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ChangesError(f"git {' '.join(args)} failed in {repo}:\n{result.stderr.strip()}")
    return result.stdout.strip()


def _snakemake(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT_SECONDS,
    )


def check_current(root: Path) -> None:
    """Fail when Snakemake would remake the registry or a table in ``root``: they would not match its sources.

    Only what the report reads is checked: a new commit changes the paper's build stamp, and so its
    render, but no value or table.
    """
    if not (root / "Snakefile").is_file():
        return
    targets = [
        REGISTRY.as_posix(),
        *sorted(p.relative_to(root).as_posix() for p in (root / TABLES).glob("*.md")),
    ]
    result = _snakemake(root, "--cores", "1", "--dry-run", *targets)
    output = result.stdout + result.stderr
    if result.returncode != 0 or "Nothing to be done" not in output:
        jobs = (
            output[output.find("Job stats:") :].split("\ntotal", 1)[0]
            if "Job stats:" in output
            else output[-2000:]
        )
        raise ChangesError(
            f"{root}: the registry or the tables are older than their sources, Snakemake would rerun jobs "
            f"({jobs.strip()}): run snakemake --cores 4 there first, or name a commit."
        )


def _make_ready(side: Side, cores: int) -> None:
    if side.commit is None:
        check_current(side.root)
        return
    result = _snakemake(side.root, "--cores", str(cores))
    if result.returncode != 0:
        raise ChangesError(f"the build of {side.label} failed:\n{result.stderr[-4000:]}")


@contextmanager
def ready(specs: Sequence[str], repo: Path, cores: int) -> Iterator[list[Side]]:
    """The sides ``specs`` name, ready to compare: a built folder as it is (checked to be up to date), a
    commit checked out into a temporary worktree and built there (removed afterwards). The sides are made
    ready side by side: a commit's build beside the other side's build or check."""
    with tempfile.TemporaryDirectory(prefix="changes-") as scratch:
        worktrees: list[Path] = []
        try:
            sides = []
            for spec in specs:
                if Path(spec).is_dir():
                    sides.append(Side(Path(spec).resolve(), f"`{spec}`"))
                    continue
                commit = _git(repo, "rev-parse", "--verify", "--end-of-options", f"{spec}^{{commit}}")
                worktree = Path(scratch) / f"{len(worktrees)}-{commit[:12]}"
                _git(repo, "worktree", "add", "--detach", str(worktree), commit)
                worktrees.append(worktree)
                sides.append(Side(worktree, f"`{spec}` ({commit[:12]})", commit))
            with ThreadPoolExecutor(max_workers=len(sides)) as pool:
                list(pool.map(lambda side: _make_ready(side, cores), sides))
            yield sides
        finally:
            for worktree in worktrees:
                _git(repo, "worktree", "remove", "--force", str(worktree))


# --------------------------------------------------------------------------
# The report


def cell(text: object) -> str:
    """Text for a Markdown table cell: no markup, no line break, no column separator."""
    escaped = html.escape(str(text), quote=False).replace("\n", "<br>")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", escaped)


def _entry(entry: Mapping[str, object] | None, other: Mapping[str, object] | None) -> str:
    """A registry entry's display; with its value too where the other side shows the same display."""
    if entry is None:
        return "(none)"
    same_display = other is not None and str(other.get("display")) == str(entry.get("display"))
    return cell(
        f"{entry.get('display')} (value {entry.get('value')})" if same_display else entry.get("display")
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def render_report(changes: Changes, base: str, head: str) -> str:
    out = [f"## What changed in the paper: {base} → {head}", ""]
    cells = sum(len(t.cells) for t in changes.tables)
    rows = sum(len(s.rows) for s in changes.inputs)
    out += [
        ", ".join(
            [
                _count(len(changes.values), "registry value", "registry values"),
                _count(cells, "table cell", "table cells"),
                _count(len(changes.claims), "ledger claim", "ledger claims"),
                _count(rows, "input row", "input rows"),
            ]
        )
        + " changed.",
        "",
    ]
    if changes.values:
        out += ["### Registry values", "", "| key | base | head | quoted in |", "|---|---|---|---|"]
        for change in changes.values:
            places = [f"{q.file}:{q.line}" for q in changes.quotes if change.key in q.keys]
            out.append(
                f"| `{change.key}` | {_entry(change.old, change.new)} | {_entry(change.new, change.old)} | "
                f"{', '.join(places) or 'not quoted'} |"
            )
        out.append("")
        if changes.quotes:
            out += ["The sentences that quote them (base value struck through, head value in bold):", ""]
            out += [f"- {q.file}:{q.line}: {q.sentence}" for q in changes.quotes]
            out.append("")
    for table in changes.tables:
        number = changes.numbers.get(table.name)
        title = f"Table {number} (`{table.name}`)" if number else f"Table `{table.name}`"
        out += [f"### {title}", ""]
        if table.whole:
            out += [f"The table was {table.whole}.", ""]
        if table.cells:
            out += ["| row | column | base | head |", "|---|---|---|---|"]
            out += [
                f"| {cell(c.row)} | {cell(c.column)} | {cell(c.old)} | {cell(c.new)} |" for c in table.cells
            ]
            out.append("")
        for what, items in (
            ("Row added", table.added),
            ("Row removed", table.removed),
            ("Note added", table.notes_added),
            ("Note removed", table.notes_removed),
            ("Column added", table.columns_added),
            ("Column removed", table.columns_removed),
        ):
            out += [f"- {what}: {cell(item)}" for item in items]
        out.append("")
    if changes.claims:
        out += ["### Ledger of the published claims", "", "| claim | base | head |", "|---|---|---|"]
        for claim in changes.claims:
            shown = [
                ("(not listed)" if side is None else cell(f"{side['Class']}: {side['Recomputed']}"))
                for side in (claim.old, claim.new)
            ]
            out.append(f"| {cell(claim.claim)} | {shown[0]} | {shown[1]} |")
        out.append("")
    if changes.inputs:
        out += ["### Input rows behind them", ""]
        for sheet in changes.inputs:
            how = "primary key" if sheet.key_from_schema else "rows told apart by"
            out += [
                f"`{sheet.sheet}` ({how} {', '.join(sheet.key)}):",
                "",
                "| row | change | column | base | head |",
                "|---|---|---|---|---|",
            ]
            for row in sheet.rows:
                for column, old, new in row.columns:
                    out.append(
                        f"| {cell(row.key)} | {row.kind} | {cell(column)} | {cell(old)} | {cell(new)} |"
                    )
            out.append("")
            out += [f"- Column added: {cell(c)}" for c in sheet.columns_added]
            out += [f"- Column removed: {cell(c)}" for c in sheet.columns_removed]
    if changes.sources:
        out += ["### Source files that differ", "", ", ".join(f"`{name}`" for name in changes.sources), ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.changes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="a built project folder, or a git commit to build")
    parser.add_argument("--head", required=True, help="a built project folder, or a git commit to build")
    parser.add_argument("--out", type=Path, help="append the report to this file (default: print it)")
    parser.add_argument("--cores", type=int, default=2, help="cores for building a commit (default 2)")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the git repository of the commits")
    args = parser.parse_args(argv)
    if shutil.which("git") is None and not (Path(args.base).is_dir() and Path(args.head).is_dir()):
        print("changes: git is needed to build a commit", file=sys.stderr)
        return 1
    try:
        with ready([args.base, args.head], args.repo, args.cores) as (base, head):
            report = render_report(compare(base.root, head.root), base.label, head.label)
    except (ChangesError, OSError, ValueError) as error:
        print(f"changes: {error}", file=sys.stderr)
        return 1
    if args.out:
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(report)
    else:
        sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
