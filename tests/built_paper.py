"""Whether the repository's paper is built and current, for the tests that read it.

The audit, the rendered-table and the registry tests check ``_manuscript/`` and ``results/``. On a clone
where nothing was built they used to skip, and on a tree edited since the last build they would check an
old paper; either way the run could be green without checking the paper a reviewer reads. They take the
``built_paper`` fixture (tests/conftest.py) instead, which fails them with :func:`paper_problem`'s message.

"Current" means what Snakemake means by it: its ``--summary`` plans no update for any output of the
workflow (the same rerun triggers as a build: file times, checksums, code and parameters).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

UP_TO_DATE = "no update"
SHOWN = 5  # outputs named in a message; the rest are counted


@dataclass(frozen=True)
class Pending:
    """A workflow output that a build would (re)make."""

    path: str
    status: str  # Snakemake's: "missing", "ok", "updated input files", ...
    plan: str  # "update pending", ...


def pending_outputs(root: Path) -> list[Pending]:
    """Every output of the workflow in ``root`` that ``snakemake --summary`` plans to (re)make."""
    command = [sys.executable, "-m", "snakemake", "--summary"]
    # One Snakemake at a time may read a folder (engine/build_guard.py): a build or another test's summary
    # may hold it for a moment, so wait for it, a bounded number of times.
    for _ in range(60):
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        if "Another build is running in this folder" not in result.stdout + result.stderr:
            break
        time.sleep(1)
    lines = result.stdout.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("output_file\t")), None)
    if result.returncode != 0 or header is None:
        raise RuntimeError(
            f"`snakemake --summary` failed in {root} (exit {result.returncode}):\n"
            f"{(result.stdout + result.stderr)[-3000:]}"
        )
    columns = lines[header].split("\t")
    rows = [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[header + 1 :] if "\t" in line]
    return [
        Pending(row["output_file"], row.get("status", ""), row.get("plan", ""))
        for row in rows
        if row.get("plan") != UP_TO_DATE
    ]


def _named(pending: list[Pending]) -> str:
    shown = ", ".join(item.path for item in pending[:SHOWN])
    return shown + (f" and {len(pending) - SHOWN} more" if len(pending) > SHOWN else "")


def paper_problem(root: Path) -> str | None:
    """Why the paper in ``root`` cannot be tested (missing or stale outputs), or None when it is current."""
    pending = pending_outputs(root)
    if not pending:
        return None
    missing = [item for item in pending if item.status == "missing"]
    stale = [item for item in pending if item.status != "missing"]
    parts = []
    if missing:
        parts.append(f"{len(missing)} output(s) missing ({_named(missing)})")
    if stale:
        parts.append(f"{len(stale)} output(s) older than their sources ({_named(stale)})")
    state = "not built" if missing and not stale else "not current"
    return (
        f"the paper in {root} is {state}: {'; '.join(parts)}. These tests check the built paper: "
        "build it first with `snakemake --cores 4`, or run `make test`, which builds before testing."
    )
