"""The dependency locks (requirements/): complete, hash-checked, consistent, and split by what needs them.

``requirements/paper.in`` (the build), ``notebook.in`` (the notebook's kernel) and ``test.in`` (the tests,
with both) are compiled by ``make lock`` into ``paper.txt`` and ``test.txt``, which ``make`` installs with
``pip install --require-hashes``.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements"
LOCAL_PACKAGES = {"engine", "scripts", "tests", "benchmarks"}
# A Jupyter server and its front ends, with their dozens of dependencies: nbval needs a kernel, not these.
SERVERS = {"jupyterlab", "notebook", "jupyter-server", "jupyter", "jupyterlab-server", "notebook-shim"}


@dataclass(frozen=True)
class Locked:
    name: str  # normalised (PEP 503)
    version: str
    marker: str
    hashes: frozenset[str]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> list[Locked]:
    """The entries of a pip lock with hashes (``name==version [; marker] \\`` then ``--hash=`` lines)."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.fullmatch(r"([A-Za-z0-9][\w.-]*)==(\S+)\s*(?:;\s*(.*?))?\s*((?:--hash=\S+\s*)*)", line)
        assert found, f"{path.name}: not a pinned, hashed requirement: {line!r}"
        name, version, marker, hashes = found.groups()
        entries.append(Locked(normalise(name), version, marker or "", frozenset(hashes.split())))
    return entries


def read_in(path: Path) -> dict[str, str]:
    """The direct dependencies of a requirements/*.in file and its ``-r`` includes: name -> pinned version."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins |= read_in(path.parent / line[3:].strip())
        elif line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[normalise(name)] = version
    return pins


def third_party_imports(files: list[Path]) -> dict[str, set[str]]:
    """Top-level modules imported by the Python ``files`` (and notebooks), outside the standard library and
    this repository: module -> the files that import it."""
    found: dict[str, set[str]] = {}
    for path in files:
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
        elif path.name == "Snakefile":  # not Python: only its import lines are
            source = "\n".join(
                re.findall(
                    r"^(?:from [\w.]+ import \([^)]*\).*|from [\w.]+ import .*|import [\w., ]+)$",
                    path.read_text(encoding="utf-8"), re.MULTILINE,
                )
            )
        else:
            source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL_PACKAGES and top != "__future__":
                    found.setdefault(top, set()).add(path.relative_to(REPO).as_posix())
    return found


def unlocked_imports(files: list[Path], lock: list[Locked]) -> list[str]:
    """Every third-party import of ``files`` whose distribution is not in ``lock``."""
    locked = {entry.name for entry in lock}
    distributions = packages_distributions()
    problems = []
    for module, users in sorted(third_party_imports(files).items()):
        names = {normalise(name) for name in distributions.get(module, [])}
        if not names & locked:
            problems.append(f"{module} (imported by {', '.join(sorted(users))}) is not in the lock")
    return problems


@pytest.fixture(scope="module")
def paper() -> list[Locked]:
    return read_lock(REQUIREMENTS / "paper.txt")


@pytest.fixture(scope="module")
def test_lock() -> list[Locked]:
    return read_lock(REQUIREMENTS / "test.txt")


def test_every_entry_is_pinned_and_hashed(paper: list[Locked], test_lock: list[Locked]) -> None:
    for entry in [*paper, *test_lock]:
        assert entry.hashes and all(h.startswith("--hash=sha256:") for h in entry.hashes), entry.name


def test_the_locks_are_made_by_make_lock() -> None:
    for name in ("paper.txt", "test.txt"):
        head = (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines()[:2]
        assert head == ["# This file was autogenerated by uv via the following command:", "#    make lock"], name


def test_the_paper_lock_is_the_test_lock_restricted_to_the_paper(paper: list[Locked], test_lock: list[Locked]) -> None:
    # Installing test.txt over paper.txt must change no package the paper uses.
    assert set(paper) <= set(test_lock)
    assert len({(e.name, e.marker) for e in paper}) == len(paper)


def test_every_direct_dependency_is_locked_at_its_pinned_version(paper: list[Locked], test_lock: list[Locked]) -> None:
    for source, lock in (("paper.in", paper), ("test.in", test_lock)):
        versions = {entry.name: entry.version for entry in lock}
        for name, version in read_in(REQUIREMENTS / source).items():
            assert versions.get(name) == version, f"{source}: {name}=={version}, the lock has {versions.get(name)}"


def test_the_build_imports_only_what_the_paper_lock_holds(paper: list[Locked]) -> None:
    files = [*sorted((REPO / "engine").rglob("*.py")), *sorted((REPO / "scripts").rglob("*.py")), REPO / "Snakefile"]
    assert unlocked_imports(files, paper) == []


def test_the_tests_and_the_notebook_import_only_what_the_test_lock_holds(test_lock: list[Locked]) -> None:
    files = [*sorted((REPO / "tests").rglob("*.py")), *sorted((REPO / "notebooks").glob("*.ipynb"))]
    assert unlocked_imports(files, test_lock) == []


def test_an_import_missing_from_the_lock_is_named(paper: list[Locked]) -> None:
    # pytest is installed here but is no dependency of the paper.
    assert third_party_imports([REPO / "tests" / "conftest.py"]) == {"pytest": {"tests/conftest.py"}}
    problems = unlocked_imports([REPO / "tests" / "conftest.py"], paper)
    assert problems == ["pytest (imported by tests/conftest.py) is not in the lock"]


def test_no_jupyter_server_is_installed_for_the_notebook_check(test_lock: list[Locked]) -> None:
    names = {entry.name for entry in test_lock}
    assert not names & SERVERS
    assert {"ipykernel", "nbval", "nbconvert"} <= names


def test_environment_yml_installs_the_test_lock_with_hashes() -> None:
    environment = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert pip == ["--require-hashes", "-r requirements/test.txt"]
    assert "python=3.11" in environment["dependencies"]
