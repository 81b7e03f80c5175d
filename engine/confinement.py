"""Only files of the project are published: the paths a render reads stay inside the project folder.

An include, an image or a resource of a raw HTML block names a file by path, and Pandoc (``--embed-resources``)
and Typst copy what it names into the paper: ``{{< include ../../../../etc/hostname >}}``, or a symbolic link in
``manuscript/`` to a file elsewhere, would publish that file. :func:`path_problem` says why a written path may
not be read (outside the project, or a link out of it, or missing); the render's lint reports it at its line.

Typst code in a ``{=typst}`` block can read any file below its root, by a path it may compute, so no reading
of the source can tell what it reads. The PDF is therefore compiled in a folder that holds copies of the
render's declared inputs only (:func:`typst_root`): a ``read()`` of anything else finds no file.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

# Attributes and CSS through which Pandoc's --embed-resources fetches a file named in raw HTML.
_HTML_RESOURCE = re.compile(
    r"""\b(?:src|poster)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))"""
    r"""|<link\b[^>]*?\bhref\s*=\s*(?:"(?P<ldq>[^"]*)"|'(?P<lsq>[^']*)')"""
    r"""|url\(\s*["']?(?P<url>[^"')]+)""",
    re.IGNORECASE,
)
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.IGNORECASE)


class ConfinementError(Exception):
    """A file the render would read lies outside the project; the message names it."""


def html_resources(text: str) -> list[str]:
    """The local paths a line of raw HTML makes Pandoc embed (remote addresses, data: and #anchors left out)."""
    found = []
    for match in _HTML_RESOURCE.finditer(text):
        path = next(value for value in match.groupdict().values() if value is not None).strip()
        if path and not _REMOTE.match(path):
            found.append(path)
    return found


def path_problem(written: str, target: Path, root: Path, what: str) -> str | None:
    """Why ``target`` (the normalised path ``written`` names, as Quarto resolves it) may not be read, or None.

    ``what`` names the kind of reference in the message ("included file", "image").
    """
    root = root.resolve()
    if not Path(os.path.normpath(target)).is_relative_to(root):
        return f"{what} {written} is outside the project ({target}): only files of the project are published"
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        return (f"{what} {written} is a symbolic link to {resolved}, outside the project: only files of the "
                "project are published; copy the file into the project instead")
    if not resolved.is_file():
        return f"{what} not found: {target}"
    return None


def typst_root(root: Path, inputs: Iterable[Path], folder: Path) -> Path:
    """Copy the declared ``inputs`` (project-relative; others are skipped) from ``root`` into ``folder``.

    The copies keep their project-relative paths, so that the Typst source reads them from ``folder`` as
    it would from the project. A declared input that is a link out of the project is refused.
    """
    resolved_root = root.resolve()
    for relative in inputs:
        if relative.is_absolute():
            continue
        source = root / relative
        if not source.is_file():
            continue
        if not source.resolve().is_relative_to(resolved_root):
            raise ConfinementError(f"{relative} is a symbolic link to {source.resolve()}, outside the project: "
                                   "only files of the project are published")
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return folder
