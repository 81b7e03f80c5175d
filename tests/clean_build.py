"""Complete builds of throw-away project copies under a chosen environment, for the robustness tests.

One reference build is shared by three test modules (through the ``reference_build`` fixture in
conftest.py), because a build takes most of a minute: it runs without network where ``unshare -n`` works
(the offline test), with a fixed SOURCE_DATE_EPOCH, ``LANG=C.UTF-8`` and ``TZ=UTC`` (the determinism test
compares it with a build elsewhere under another locale and time zone), and it is the complete earlier
build that the bad-input cases break.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.project_copy import copy_project

# A fixed build time: a copy has no .git, and the outputs must not depend on when they were made.
EPOCH = "1700000000"
# Where a build writes; results/logs hold timings and paths by design and are not outputs of the paper.
OUTPUT_DIRS = ("results", "_manuscript")
NOT_OUTPUTS = ("results/logs",)


@dataclass(frozen=True)
class Build:
    project: Path
    result: subprocess.CompletedProcess
    offline: bool

    def log(self) -> str:
        return self.result.stdout[-3000:] + self.result.stderr[-6000:]


@cache
def offline_prefix() -> tuple[str, ...] | None:
    """``unshare -n`` (a new network namespace with no interface up) when it works here, else None."""
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ("unshare", "-n") if probe.returncode == 0 else None


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without locale and time-zone settings, plus SOURCE_DATE_EPOCH and ``settings``."""
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith("LC_") and key not in ("LANG", "LANGUAGE", "TZ", "SOURCE_DATE_EPOCH")}
    return {**inherited, "SOURCE_DATE_EPOCH": EPOCH, **settings}


def run(project: Path, env: dict[str, str], command: Sequence[str] = (), offline: bool = False,
        timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``command`` (default: the full Snakemake build) in ``project``; ``offline`` puts it in ``unshare -n``."""
    prefix = offline_prefix() if offline else ()
    assert prefix is not None, "offline runs need `unshare -n`"
    command = list(command) or [sys.executable, "-m", "snakemake", "--cores", "2"]
    return subprocess.run([*prefix, *command], cwd=project, env=env, capture_output=True, text=True,
                          check=False, timeout=timeout)


def build_copy(dest: Path, env: dict[str, str], offline: bool = False,
               prepare: Callable[[Path], None] | None = None) -> Build:
    """Copy the project to ``dest``, let ``prepare`` change the copy, and build it completely."""
    project = copy_project(dest)
    if prepare is not None:
        prepare(project)
    return Build(project, run(project, env, offline=offline), offline)


def reference_build(dest: Path) -> Build:
    """The shared build: offline when possible, UTF-8 locale, UTC."""
    return build_copy(dest, environment(LANG="C.UTF-8", TZ="UTC"), offline=offline_prefix() is not None)


def output_digests(project: Path) -> dict[str, str]:
    """sha256 of every file a build wrote (relative path -> digest), logs excepted."""
    files = [path for folder in OUTPUT_DIRS for path in (project / folder).rglob("*") if path.is_file()
             and not any(path.is_relative_to(project / skip) for skip in NOT_OUTPUTS)]
    return {path.relative_to(project).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
