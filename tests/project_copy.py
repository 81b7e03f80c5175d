"""A throw-away copy of the project to rebuild in, for tests that change its data or text.

The copy holds the working tree as a clean clone would (no .git, no build outputs, no caches), so a build
in it starts from nothing and never locks or touches the repository itself.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Top-level entries that a clean clone does not have: version control, outputs, environments, caches.
_NOT_COPIED_AT_TOP = frozenset({".git", ".snakemake", "results", "_manuscript", ".venv", ".pytest_cache",
                                ".hypothesis", ".ruff_cache", ".mypy_cache"})
_NOT_COPIED_ANYWHERE = frozenset({"__pycache__", ".ipynb_checkpoints"})


def _ignore(folder: str, names: list[str]) -> set[str]:
    top = Path(folder).resolve() == REPO
    return {name for name in names if name in _NOT_COPIED_ANYWHERE or (top and name in _NOT_COPIED_AT_TOP)}


def copy_project(dest: Path) -> Path:
    """Copy the repository's working tree into ``dest`` (created; must not exist) and return ``dest``."""
    shutil.copytree(REPO, dest, ignore=_ignore, symlinks=True)
    return dest


def build(project: Path, *targets: str, dry_run: bool = False, cores: int = 2) -> subprocess.CompletedProcess:
    """Run Snakemake in ``project`` (output captured, never raising); ``dry_run`` adds ``-n``."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), *(["-n"] if dry_run else []), *targets]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
