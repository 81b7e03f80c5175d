"""git with a fixed author, committer and date, for tests that commit: the same tree gives the same commit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run_git(cwd: Path, *args: str, date: str) -> str:
    """Run ``git args`` in ``cwd`` as the test identity at ``date`` (ISO 8601); return its output."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "project tests",
        "GIT_AUTHOR_EMAIL": "tests@example.org",
        "GIT_COMMITTER_NAME": "project tests",
        "GIT_COMMITTER_EMAIL": "tests@example.org",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout
