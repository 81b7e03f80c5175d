"""The Python files a job runs: a module and every project module it imports, read from the source.

The Snakefile lists them as each rule's inputs, so that an edit to any of them reruns exactly the jobs
that run it. They are found statically (``ast``), following ``import`` and ``from ... import`` of the
project's own packages (``engine``, and the review's ``scripts``) wherever they appear, function bodies
included; imports only type checkers see (``if TYPE_CHECKING:``) are skipped, since they never run.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path


def _module_file(module: str, roots: tuple[Path, ...]) -> Path | None:
    parts = module.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(tree: ast.AST) -> list[str]:
    """Module names a file imports at run time, in order (``from a import b`` yields a and a.b)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@functools.cache
def _closure(module: str, roots: tuple[Path, ...], packages: tuple[str, ...]) -> tuple[Path, ...]:
    seen: dict[Path, None] = {}
    pending = [module]
    while pending:
        name = pending.pop(0)
        path = _module_file(name, roots)
        if path is None or path in seen:
            continue
        seen[path] = None
        package_init = _module_file(name.split(".")[0], roots)
        if package_init is not None and package_init.name == "__init__.py":
            seen.setdefault(package_init, None)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        pending.extend(found for found in _imported(tree) if found.split(".")[0] in packages)
    return tuple(seen)


def python_sources(modules: list[str], roots: list[Path], packages: tuple[str, ...] = ("engine", "scripts"),
                   relative_to: Path | None = None) -> list[str]:
    """The files of ``modules`` and of every project module they import, as sorted POSIX paths.

    ``roots`` are the folders the packages live in (the engine's and the review's); paths come out
    relative to ``relative_to`` (the working directory of the build) when given.
    """
    found: dict[Path, None] = {}
    for module in modules:
        for path in _closure(module, tuple(Path(root).resolve() for root in roots), packages):
            found.setdefault(path, None)
    base = Path(relative_to).resolve() if relative_to is not None else None
    return sorted(_relative(path, base) for path in found)


def _relative(path: Path, base: Path | None) -> str:
    if base is None:
        return path.as_posix()
    import os

    return Path(os.path.relpath(path, base)).as_posix()
