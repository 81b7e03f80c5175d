"""Render the manuscript (Quarto sources) to self-contained HTML and PDF.

Usage::

    python -m engine.render --qmd manuscript/index.qmd --output-dir _manuscript \
        [--engine auto|quarto|pandoc]

Both engines write ``<output-dir>/<stem>.html`` (self-contained) and
``<output-dir>/<stem>.pdf``:

* ``quarto``: ``quarto render`` of the project whose ``_quarto.yml`` is found
  above the ``.qmd``; the outputs are moved up from the sub-directory that
  Quarto mirrors below its output-dir.
* ``pandoc``: Pandoc (pypandoc_binary) with the project's Lua filter
  (_extensions/review-engine/quarto-subset.lua, the filter the review-engine
  Quarto extension gives ``quarto render``) and citeproc; HTML through engine/templates/article.html, PDF through
  Pandoc's Typst writer (engine/templates/article.typ) and the ``typst``
  Python compiler. Offline, and byte-for-byte reproducible.
* ``auto`` (default): ``quarto`` if it is on PATH, else ``pandoc``.

Both engines stamp the paper with the commit it was built from ("modified"
when tracked files differ from it), the build date and the versions of the
tools, and end every figure and table caption with a link to the script that
made it: the filter does it in both, from the metadata file
``results/render-meta.yml`` that :func:`write_render_meta` writes before a
render (see :func:`build_stamp`).
``--list-inputs`` prints every file the render reads (:func:`render_inputs`)
and renders nothing. ``--preview`` writes the live preview's page
(engine/preview.py) with the Pandoc engine: the HTML alone, its stylesheets and
images linked, not embedded (:func:`render_preview`). Embedding takes a third of
the HTML's render, and the PDF longer still; the preview serves the linked files.

Before either engine runs, the source is checked against the project's
Quarto subset (:func:`lint_manuscript`, documented in manuscript/README.md);
any problem fails the render with all problems listed. Exit status: 0 on
success, 1 on any failure (message on stderr).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from engine import atomic
from engine.confinement import ConfinementError, html_resources, path_problem, typst_root

# libyaml's loader (in the PyYAML wheels): the pure-Python one was a visible part of every build's start.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
REPO_ROOT = Path(__file__).resolve().parents[1]
# The filter lives in the project's Quarto extension, so that `quarto render` runs the same file.
EXTENSION_NAME = "review-engine"
EXTENSION_DIR = REPO_ROOT / "_extensions" / EXTENSION_NAME
LUA_FILTER = EXTENSION_DIR / "quarto-subset.lua"
TEMPLATES = REPO_ROOT / "engine" / "templates"
HTML_TEMPLATE = TEMPLATES / "article.html"
HTML_STYLESHEETS = (TEMPLATES / "article.css", TEMPLATES / "values.css")
TYPST_TEMPLATE = TEMPLATES / "article.typ"
# The render's own Python code: a change to it changes the outputs like a change to the text.
RENDER_CODE = tuple(REPO_ROOT / "engine" / name for name in ("__init__.py", "render.py", "atomic.py", "confinement.py"))
# Written by engine/bundle.py into a reproducibility bundle, which has no .git:
# its table names the commit, the uncommitted changes and the SOURCE_DATE_EPOCH
# of the build, so that a rebuild from the bundle stamps the same commit.
BUNDLE_README = "BUNDLE.md"
BUNDLE_COMMIT = re.compile(r"^\| commit \| `(?P<commit>[0-9a-f]{40})` \|$", re.MULTILINE)
BUNDLE_CHANGES = re.compile(r"^\| uncommitted changes \| (?P<changes>.*) \|$", re.MULTILINE)
BUNDLE_EPOCH = re.compile(r"^\| SOURCE_DATE_EPOCH \| `(?P<epoch>\d+)`", re.MULTILINE)
# Distributions named in the build stamp: they compile the PDF, run the
# pipeline, and compute or draw what the paper shows. Python and Pandoc are
# named too (Pandoc is a binary, its version comes from the binary itself).
STAMPED_DISTRIBUTIONS = (
    ("Typst", "typst"),
    ("Snakemake", "snakemake"),
    ("pandas", "pandas"),
    ("matplotlib", "matplotlib"),
    ("great-tables", "great-tables"),
)

# The subset's Markdown dialect. _quarto.yml must declare the same `from`
# so that Quarto parses the source the same way.
SUBSET_READER = "markdown-raw_html-raw_tex-tex_math_dollars-tex_math_single_backslash"
XREF_PREFIXES = ("fig", "tbl", "sec")
# Quarto's other cross-reference kinds: recognised only to reject them.
QUARTO_ONLY_XREF_PREFIXES = frozenset(
    {"eq", "lst", "thm", "lem", "cor", "prp", "cnj", "def", "exm", "exr", "sol", "rem", "alg"}
)
RAW_FORMATS = ("html", "typst", "comment")
DATE_KEYWORDS = ("today", "now", "last-modified")

XREF_ID = re.compile(r"^(fig|tbl|sec)-[A-Za-z0-9][A-Za-z0-9_-]*$")
VALUE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
SHORTCODE = re.compile(r"\{\{<\s+(?P<body>.*?)\s+>\}\}")
META_SHORTCODE = re.compile(r"meta\s+v\.(?P<key>\S+)")
INCLUDE_LINE = re.compile(
    r"^\s*\{\{<\s+include\s+(?:\"(?P<dq>[^\"]+)\"|'(?P<sq>[^']+)'|(?P<bare>\S+))\s+>\}\}\s*$"
)
FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
RAW_INFO = re.compile(r"^\{=(?P<format>[\w-]+)\}$")
INLINE_CODE = re.compile(r"(?P<ticks>`+)(?P<code>.+?)(?P=ticks)(?P<attrs>\{[^{}]*\})?")
# INLINE_CODE over line breaks: a code span may run on within its paragraph.
CODE_SPAN = re.compile(INLINE_CODE.pattern, re.DOTALL)
LINK_TARGET = re.compile(r"\]\((?P<target>[^)]*)\)")
URL = re.compile(r"<?\b[a-z][a-z0-9+.-]*://[^\s>]*>?", re.IGNORECASE)
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)(?:\s+\{(?P<attrs>[^{}]*)\})?\s*$")
DIV_FENCE = re.compile(r"^:{3,}\s*(?P<rest>.*?)\s*$")
INLINE_ATTRS = re.compile(r"(?<=[\])])\{(?P<attrs>[^{}]*)\}")
# The alt text may hold bracketed spans, as in ![PRISMA [2020]{.lit} flow](x.svg).
IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\((?P<src>[^)\s]*)[^)]*\)")
IMAGE_BEFORE_ATTRS = re.compile(IMAGE.pattern + "$")
ATTR_TOKEN = re.compile(r"""#[^\s}]+|\.[^\s}]+|[\w-]+=(?:"[^"]*"|'[^']*'|[^\s}]+)|\S+""")
CITATION = re.compile(
    r"(?<![\w@.\\])-?@(?:\{(?P<braced>[^}]*)\}|(?P<key>[A-Za-z0-9_](?:[\w:.#$%&+?<>~/-]*[A-Za-z0-9_])?))"
)
FRONT_MATTER_BUILD = re.compile(r"^build\s*:")
# The metadata file (one of _quarto.yml's metadata-files) through which the stamp reaches the filter.
RENDER_META_NAME = "render-meta.yml"
RENDER_INFO_KEY = "render-info"
# ASCII punctuation: Pandoc's Markdown takes each backslash-escaped one literally (all_symbols_escapable).
MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
PANDOC_WARNING = re.compile(r"^\[WARNING\]", re.MULTILINE)


# Checks a path written in the sources (and the kind of reference, for the message): why it cannot be read.
Locator = Callable[[str, str], "str | None"]


class RenderError(Exception):
    """The manuscript could not be rendered; the message says why."""


@dataclass(frozen=True)
class Problem:
    """One violation of the Quarto subset, located in a source file."""

    file: Path
    line: int
    what: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what} [{self.rule}]"


@dataclass(frozen=True)
class SourceLine:
    """A line of the include-expanded manuscript and where it came from."""

    file: Path
    line: int
    text: str


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of ``_quarto.yml`` that the Pandoc path honours."""

    root: Path
    output_dir: Path
    metadata_files: tuple[Path, ...]
    bibliography: tuple[Path, ...]
    csl: Path | None
    number_sections: bool
    link_citations: bool
    reference_section_title: str | None
    lang: str | None
    stylesheets: tuple[Path, ...]
    repo_url: str | None


# --------------------------------------------------------------------------
# Project configuration


def find_project_root(qmd: Path) -> Path:
    """Return the nearest directory at or above ``qmd`` holding ``_quarto.yml``."""
    for directory in qmd.resolve().parents:
        if (directory / "_quarto.yml").is_file():
            return directory
    raise RenderError(f"no _quarto.yml found above {qmd}")


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def load_config(root: Path) -> ProjectConfig:
    """Read ``root/_quarto.yml``; refuse a reader other than the subset's."""
    raw = yaml.load((root / "_quarto.yml").read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
    reader = raw.get("from", SUBSET_READER)
    if reader != SUBSET_READER:
        raise RenderError(f"_quarto.yml sets from: {reader}; the subset needs from: {SUBSET_READER}")
    project = raw.get("project") or {}
    csl = raw.get("csl")
    html_format = (raw.get("format") or {}).get("html") or {}
    return ProjectConfig(
        root=root,
        output_dir=root / project.get("output-dir", "_manuscript"),
        metadata_files=tuple(root / p for p in _as_list(raw.get("metadata-files"))),
        bibliography=tuple(root / p for p in _as_list(raw.get("bibliography"))),
        csl=root / csl if csl else None,
        number_sections=bool(raw.get("number-sections", False)),
        link_citations=bool(raw.get("link-citations", True)),
        reference_section_title=raw.get("reference-section-title"),
        lang=raw.get("lang"),
        stylesheets=tuple(root / p for p in _as_list(html_format.get("css"))),
        repo_url=repository_url(raw.get("repo-url")),
    )


def repository_url(configured: object) -> str | None:
    """``repo-url`` of ``_quarto.yml``: the repository's web address, for links to its files.

    Only the sources say it, never the environment (such as GitHub Actions'
    GITHUB_REPOSITORY): a reviewer's rebuild must give the published bytes.
    """
    if not configured:
        return None
    url = str(configured).rstrip("/")
    if not re.fullmatch(r"https?://[^\s\"'<>]+", url):
        raise RenderError(f"_quarto.yml: repo-url {configured!r} is not an http(s) address")
    return url


# --------------------------------------------------------------------------
# Build stamp


@dataclass(frozen=True)
class Revision:
    """The commit a build comes from, and whether the tracked files differ from it."""

    commit: str | None  # the full hash; None when neither git nor a bundle says
    modified: bool
    epoch: int | None  # the commit's time (seconds since 1970, UTC)


@dataclass(frozen=True)
class BuildStamp:
    """What the paper says about its own build, all of it fixed by commit, tree and tools."""

    revision: Revision
    date: str  # ISO date of the epoch the render uses
    tools: tuple[tuple[str, str], ...]  # (name, version)
    repo_url: str | None

    def items(self) -> list[dict[str, str]]:
        """The stamp's entries in reading order, for the filter: ``label``, ``value``, ``href``, ``note``."""
        commit = self.revision.commit
        if commit is None:
            shown: dict[str, str] = {"label": "commit", "value": "not a git checkout"}
        else:
            # A fixed-length prefix: git's --short grows with the object count, which differs
            # between a full and a shallow clone of the same commit.
            shown = {"label": "commit", "value": commit[:12]}
            if self.repo_url:
                shown["href"] = f"{self.repo_url}/tree/{commit}"
            if self.revision.modified:
                shown["note"] = "modified"
        tools = ", ".join(f"{name}\u00a0{version}" for name, version in self.tools)
        return [shown, {"label": "built", "value": self.date}, {"label": "tools", "value": tools}]

    def source_base(self, config: ProjectConfig) -> str:
        """Prefix of links to project files: the repository at the commit, else a relative path.

        The relative path leads from the project's own output-dir, where the
        paper lies in a clone, whatever ``--output-dir`` says: the bytes must
        not depend on where a render was written.
        """
        if self.repo_url and self.revision.commit:
            return f"{self.repo_url}/blob/{self.revision.commit}/"
        return Path(os.path.relpath(config.root, config.output_dir)).as_posix() + "/"


def _git(root: Path, *args: str) -> str | None:
    """Standard output of ``git args`` run in ``root``; None if git is absent or fails."""
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run(
        [git, "--no-optional-locks", *args], cwd=root, capture_output=True, text=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def is_git_checkout(root: Path) -> bool:
    """Whether git tracks the project's ``_quarto.yml``.

    Being below some repository's work tree is not enough: a bundle unpacked
    inside another checkout must not take that checkout's commit for its own.
    """
    return _git(root, "ls-files", "--error-unmatch", "--", "_quarto.yml") is not None


def _bundle_revision(root: Path) -> Revision | None:
    path = root / BUNDLE_README
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    commit, changes, epoch = (
        BUNDLE_COMMIT.search(text),
        BUNDLE_CHANGES.search(text),
        BUNDLE_EPOCH.search(text),
    )
    if commit is None or changes is None:
        raise RenderError(f"{path}: no `commit` or `uncommitted changes` row (engine/bundle.py writes them)")
    # The changes are `git status --porcelain` lines in backticks; untracked (??) ones modify nothing.
    status = [
        line for line in re.findall(r"`([^`]+)`", changes["changes"]) if line != "git status --porcelain"
    ]
    modified = any(not line.startswith("??") for line in status)
    return Revision(commit["commit"], modified, int(epoch["epoch"]) if epoch else None)


def revision(root: Path) -> Revision:
    """The project's commit: from git in a checkout, else from a bundle's ``BUNDLE.md``.

    "Modified" means that a tracked file below the project root differs from
    the commit; untracked and ignored files (the build's outputs) do not count.
    """
    if is_git_checkout(root):
        head = (_git(root, "log", "-1", "--format=%H %ct") or "").split()
        status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".")
        if len(head) == 2 and status is not None:
            return Revision(head[0], bool(status.strip()), int(head[1]))
    return _bundle_revision(root) or Revision(None, False, None)


def epoch_of(current: Revision) -> int:
    """SOURCE_DATE_EPOCH, else the time of the commit built from, else 0."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    return current.epoch if current.epoch is not None else 0


def tool_versions() -> tuple[tuple[str, str], ...]:
    """Python, Pandoc and the stamped distributions that are installed, with their versions."""
    import pypandoc

    tools = [("Python", platform.python_version()), ("Pandoc", pypandoc.get_pandoc_version())]
    for name, distribution in STAMPED_DISTRIBUTIONS:
        try:
            tools.append((name, importlib.metadata.version(distribution)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return tuple(tools)


def build_stamp(config: ProjectConfig) -> BuildStamp:
    """The stamp of a render of the project now: commit, date, tools, repository."""
    current = revision(config.root)
    date = datetime.fromtimestamp(epoch_of(current), tz=UTC).date().isoformat()
    return BuildStamp(current, date, tool_versions(), config.repo_url)


def render_meta_path(config: ProjectConfig) -> Path:
    """The ``render-meta.yml`` among the metadata files: where the stamp goes for both engines."""
    for path in config.metadata_files:
        if path.name == RENDER_META_NAME:
            return path
    raise RenderError(
        f"{config.root / '_quarto.yml'}: metadata-files does not list results/{RENDER_META_NAME}; add it, so"
        " that both quarto render and the Pandoc engine read the build stamp"
    )


def _markdown_literal(text: str) -> str:
    # Pandoc parses metadata strings as Markdown: escaped, a stamp string is plain text (the filter checks).
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def render_meta_text(stamp: BuildStamp, config: ProjectConfig) -> str:
    """The YAML of ``render-meta.yml``: ``render-info`` with the stamp's items and the source-link prefix."""
    info = {
        "source-base": _markdown_literal(stamp.source_base(config)),
        "stamp": [{key: _markdown_literal(value) for key, value in item.items()} for item in stamp.items()],
    }
    body = yaml.safe_dump({RENDER_INFO_KEY: info}, allow_unicode=True, sort_keys=False, width=2**16)
    return "# Written by engine/render.py (write_render_meta) for both render engines; do not edit.\n" + body


def write_render_meta(config: ProjectConfig, stamp: BuildStamp | None = None) -> Path:
    """Write the stamp of a render of the project now to its ``render-meta.yml``, unless it holds it already.

    A metadata file rather than a Pandoc argument: ``quarto render``, which an author may run
    directly, reads it from _quarto.yml's metadata-files as the Pandoc engine does. Unchanged, the file
    and its modification time are left alone. Returns its path.
    """
    path = render_meta_path(config)
    text = render_meta_text(stamp or build_stamp(config), config)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic.write_text(path, text)
    return path


def write_stamp(qmd: Path) -> Path:
    """Write the stamp of a render of ``qmd`` now (:func:`write_render_meta`); returns the file's path."""
    return write_render_meta(load_config(find_project_root(qmd)))


def record_render_settings(path: Path, qmd: Path, engine: str, unmade: Sequence[Path] = ()) -> Path:
    """Write what a render of ``qmd`` depends on besides its sources, where it changes without them.

    That is the engine, written to ``path``, and the build stamp, which changes with a commit or a tool
    upgrade, written to the project's ``render-meta.yml`` (:func:`write_render_meta`). The Snakefile makes
    both files inputs of the render, so a new stamp or engine renders the paper again; unchanged settings
    leave the files and their modification times alone. (Snakemake ``params`` would do the same, but
    tracked params make Snakemake import pandas on every call, a no-op included.) The paths the sources
    name that no file or rule provides (``unmade``, see :func:`split_unmade`) are written there too, so
    that a path that cannot be read renders the paper again and its lint names the line. Returns ``path``.
    """
    write_stamp(qmd)
    text = f"engine: {engine}\n"
    text += "".join(f"named by the sources, but no file and no rule: {path.as_posix()}\n" for path in unmade)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic.write_text(path, text)
    return path


def absent_values(metadata_files: Iterable[Path]) -> dict[str, str]:
    """Key -> reason of the values the registry holds no number for (``v_absent``, engine/values.py)."""
    absent: dict[str, str] = {}
    for path in metadata_files:
        if path.is_file():
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
            absent.update({str(key): str(reason) for key, reason in (data.get("v_absent") or {}).items()})
    return absent


def split_unmade(inputs: Iterable[Path], can_make: Callable[[str], bool]) -> tuple[list[Path], list[Path]]:
    """The render's inputs that exist or that a rule makes (``can_make``), and the others.

    An include or image path with a typo names a file that nothing makes. Declared as an input, it would
    make Snakemake drop the render and keep an existing paper as if it were a source ("Nothing to be
    done", exit 0): such a path is recorded in the render's settings instead (see
    :func:`record_render_settings`), so that the render runs and its lint names the line.
    """
    made, unmade = [], []
    for path in inputs:
        (made if path.exists() or can_make(path.as_posix()) else unmade).append(path)
    return made, unmade


def value_keys(metadata_files: Iterable[Path]) -> set[str]:
    """Keys of the ``v`` mapping across the metadata files."""
    keys: set[str] = set()
    for path in metadata_files:
        if not path.is_file():
            raise RenderError(f"metadata file {path} not found (it is written by the values step)")
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        values = data.get("v") or {}
        if not isinstance(values, dict):
            raise RenderError(f"{path}: `v` must be a mapping of value keys")
        keys.update(str(key) for key in values)
    return keys


def pandoc_executable() -> str:
    """The Pandoc binary shipped by pypandoc_binary."""
    import pypandoc

    return pypandoc.get_pandoc_path()


def bibliography_keys(bibliographies: Iterable[Path]) -> set[str]:
    """Citation keys of the bibliography files, as Pandoc reads them."""
    keys: set[str] = set()
    for path in bibliographies:
        if not path.is_file():
            raise RenderError(f"bibliography {path} not found")
        result = subprocess.run(
            [pandoc_executable(), str(path), "--to", "csljson"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RenderError(f"cannot read bibliography {path}:\n{result.stderr}")
        keys.update(entry["id"] for entry in json.loads(result.stdout))
    return keys


# --------------------------------------------------------------------------
# Includes


def _fence_closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3 and set(stripped) == {fence[0]} and len(stripped) >= len(fence)
    )


def _fenced(lines: Sequence[str]) -> Iterator[tuple[str | None, str | None]]:
    """Yield ``(info, state)`` per line of Markdown.

    ``state`` is None outside fenced code/raw blocks, ``"open"`` on an
    opening fence (``info`` is then its info string, e.g. ``{=html}``),
    ``"inside"`` within the block and ``"close"`` on the closing fence.
    """
    fence: str | None = None
    for line in lines:
        if fence is None:
            opened = FENCE_OPEN.match(line)
            if opened:
                fence = opened["fence"]
                yield opened["info"], "open"
            else:
                yield None, None
        elif _fence_closes(line, fence):
            fence = None
            yield "", "close"
        else:
            yield "", "inside"


def _include_target(match: re.Match[str], main_dir: Path, root: Path) -> Path:
    return _project_file(match["dq"] or match["sq"] or match["bare"], main_dir, root)


def _project_file(written: str, main_dir: Path, root: Path) -> Path:
    """The file an include or image path names, normalised but not resolved.

    Quarto resolves these paths against the main document, not the including
    file; a leading "/" means the project root.
    """
    if written.startswith("/"):
        return Path(os.path.normpath(root / written.lstrip("/")))
    return Path(os.path.normpath(main_dir / written))


def expand_includes(qmd: Path, root: Path) -> tuple[list[SourceLine], list[Problem]]:
    """Replace ``{{< include path >}}`` lines by the files' lines, recursively."""
    qmd = qmd.resolve()
    problems: list[Problem] = []

    def expand(path: Path, stack: tuple[Path, ...]) -> list[SourceLine]:
        lines = path.read_text(encoding="utf-8").splitlines()
        out: list[SourceLine] = []
        for number, (text, (_, where)) in enumerate(zip(lines, _fenced(lines), strict=True), start=1):
            if where is not None or "{{< include" not in text:
                out.append(SourceLine(path, number, text))
                continue
            match = INCLUDE_LINE.match(text)
            if match is None:
                problems.append(
                    Problem(path, number, "include shortcode must stand alone on its line", "include")
                )
                continue
            neighbours = lines[number - 2 : number - 1] + lines[number : number + 1]
            if any(line.strip() for line in neighbours):
                problems.append(
                    Problem(path, number, "include shortcode must be surrounded by blank lines", "include")
                )
            written = match["dq"] or match["sq"] or match["bare"]
            unreadable = path_problem(written, _project_file(written, qmd.parent, root), root, "included file")
            target = _include_target(match, qmd.parent, root).resolve()
            if unreadable:
                problems.append(Problem(path, number, unreadable, "include"))
            elif target in stack:
                problems.append(Problem(path, number, f"include cycle through {target}", "include"))
            else:
                out.extend(expand(target, (*stack, target)))
        return out

    return expand(qmd, (qmd,)), problems


# --------------------------------------------------------------------------
# Inputs


def _image_sources(lines: Sequence[str], outside_blocks: Sequence[bool]) -> list[str]:
    """The image paths of a Markdown file's lines, read where Pandoc reads images.

    Only lines outside fenced code and raw blocks count (``outside_blocks``), and
    nothing in a code span; a caption may span lines, as in a paragraph. (A
    regular expression rather than a Pandoc parse: the Snakefile asks for these
    inputs on every call, a no-op included, and a Pandoc run cost more than the
    rest of the DAG. The strace test in tests/engine/test_render.py checks the result
    against the files a render opens.)
    """
    prose = "\n".join(line if outside else "" for line, outside in zip(lines, outside_blocks, strict=True))
    return [image["src"] for image in IMAGE.finditer(CODE_SPAN.sub("code", prose))]


def manuscript_files(qmd: Path, root: Path) -> set[Path]:
    """The qmd, the files it includes (recursively) and the local images of all of them.

    A file that does not exist yet (a table the pipeline has still to write)
    is listed by its path: what it includes cannot be known before it exists.
    """
    qmd = qmd.resolve()
    found: set[Path] = set()
    pending = [qmd]
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.add(path)
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        outside_blocks = [where is None for _, where in _fenced(lines)]
        for line, outside in zip(lines, outside_blocks, strict=True):
            match = INCLUDE_LINE.match(line) if outside else None
            if match:
                pending.append(_include_target(match, qmd.parent, root))
        found.update(
            _project_file(source, qmd.parent, root)
            for source in _image_sources(lines, outside_blocks)
            if not (URL.match(source) or source.startswith("data:"))
        )
    return found


def render_inputs(qmd: Path) -> list[Path]:
    """Every file the Pandoc engine reads to render ``qmd``, found by parsing the sources.

    ``_quarto.yml`` and what it names (metadata files, bibliography, CSL,
    stylesheets), the qmd with its includes and images, the filter, the
    templates, the render's own code, and a bundle's ``BUNDLE.md`` outside
    git. Paths are relative to the project root (absolute for files
    outside it), normalised, deduplicated and sorted; files the pipeline has
    still to write are listed by path.
    """
    qmd = qmd.resolve()
    root = find_project_root(qmd)
    config = load_config(root)
    files = {
        root / "_quarto.yml",
        *config.metadata_files,
        *config.bibliography,
        *([config.csl] if config.csl else []),
        *config.stylesheets,
        LUA_FILTER,
        HTML_TEMPLATE,
        *HTML_STYLESHEETS,
        TYPST_TEMPLATE,
        *RENDER_CODE,
        *manuscript_files(qmd, root),
    }
    if (root / BUNDLE_README).is_file() and not is_git_checkout(root):
        files.add(root / BUNDLE_README)
    return sorted({_relative_to_project(path, root) for path in files})


def _relative_to_project(path: Path, root: Path) -> Path:
    normalised = Path(os.path.normpath(path))
    return normalised.relative_to(root) if normalised.is_relative_to(root) else normalised


# --------------------------------------------------------------------------
# Lint


def _blank(match: re.Match[str]) -> str:
    return " " * len(match[0])


def _attr_tokens(attrs: str) -> list[str]:
    return ATTR_TOKEN.findall(attrs)


class _Checker:
    """Collects subset problems over the include-expanded source lines."""

    def __init__(self, known_keys: set[str], bib_keys: set[str], locate: Locator | None = None,
                 absent: Mapping[str, str] | None = None) -> None:
        self.known_keys = known_keys
        self.absent = dict(absent or {})
        self.bib_keys = bib_keys
        self.locate = locate
        self.problems: list[Problem] = []
        self.ids: dict[str, SourceLine] = {}
        self.unnumbered: set[str] = set()
        self.refs: list[tuple[str, SourceLine]] = []

    def report(self, where: SourceLine, what: str, rule: str) -> None:
        self.problems.append(Problem(where.file, where.line, what, rule))

    def check(self, lines: Sequence[SourceLine]) -> list[Problem]:
        body_start = self._front_matter_end(lines)
        for where in lines[:body_start]:
            self._shortcodes(where, where.text)
            if FRONT_MATTER_BUILD.match(where.text):
                self.report(where, "front matter `build`: the render writes the build stamp", "front-matter")
        texts = [line.text for line in lines[body_start:]]
        raw_format = None
        for where, (info, state) in zip(lines[body_start:], _fenced(texts), strict=True):
            if state == "open":
                self._fence_info(where, info or "")
                raw = RAW_INFO.match(info or "")
                raw_format = raw["format"] if raw else None
            elif state is None:
                self._text_line(where)
            elif state == "inside" and raw_format == "html" and self.locate:
                for resource in html_resources(where.text):
                    self._locate(where, resource, "raw HTML resource", "image")
        self._resolve_refs()
        return self.problems

    def _locate(self, where: SourceLine, written: str, what: str, rule: str) -> None:
        problem = self.locate(written, what) if self.locate else None
        if problem:
            self.report(where, problem, rule)

    @staticmethod
    def _front_matter_end(lines: Sequence[SourceLine]) -> int:
        if not lines or lines[0].text.strip() != "---":
            return 0
        for index, line in enumerate(lines[1:], start=1):
            if line.text.strip() in ("---", "..."):
                return index + 1
        return 0

    def _fence_info(self, where: SourceLine, info: str) -> None:
        raw = RAW_INFO.match(info)
        if raw and raw["format"] not in RAW_FORMATS:
            self.report(
                where, f"raw block format '{raw['format']}' (allowed: {', '.join(RAW_FORMATS)})", "raw-format"
            )
        elif not raw and info.startswith("{"):
            self.report(
                where, f"code block attributes {info} (executable cells are not in the subset)", "code-cell"
            )

    def _text_line(self, where: SourceLine) -> None:
        text = re.sub(r"\\.", "  ", where.text)
        for code in INLINE_CODE.finditer(text):
            if code["attrs"]:
                self.report(where, f"attributes on inline code {code['attrs']}", "attributes")
        text = INLINE_CODE.sub(_blank, text)
        if "<!--" in text:
            self.report(where, "HTML comment (renders as text); use a ```{=comment} block", "comment")
        text = self._shortcodes(where, text)
        for image in IMAGE.finditer(text):
            if URL.match(image["src"]) or image["src"].startswith("data:"):
                self.report(where, f"image {image['src']} is not a local file", "image")
            else:
                self._locate(where, image["src"], "image", "image")
        self._attributes(where, text)
        text = LINK_TARGET.sub(lambda m: "](" + " " * len(m["target"]) + ")", text)
        self._citations(where, URL.sub(_blank, text))

    def _shortcodes(self, where: SourceLine, text: str) -> str:
        for match in SHORTCODE.finditer(text):
            meta = META_SHORTCODE.fullmatch(match["body"])
            if meta is None:
                self.report(where, f"shortcode {match[0]} (only meta v.KEY and include)", "shortcode")
            elif not VALUE_KEY.match(meta["key"]):
                self.report(where, f"value key '{meta['key']}' is not [A-Za-z0-9_-]+", "shortcode")
            elif meta["key"] in self.absent:
                self.report(where, f"value 'v.{meta['key']}' has no number: {self.absent[meta['key']]}",
                            "absent-value")
            elif meta["key"] not in self.known_keys:
                self.report(where, f"unknown value key 'v.{meta['key']}'", "unknown-value")
        text = SHORTCODE.sub(_blank, text)
        if "{{<" in text or ">}}" in text:
            self.report(where, "malformed shortcode (write {{< meta v.KEY >}} on one line)", "shortcode")
        return text

    def _attributes(self, where: SourceLine, text: str) -> None:
        heading = HEADING.match(text)
        if heading and heading["attrs"] is not None:
            self._heading_attrs(where, _attr_tokens(heading["attrs"]))
            text = text[: heading.start("attrs") - 1]
        div = DIV_FENCE.match(text)
        if div:
            self._div_attrs(where, div["rest"])
            return
        for match in INLINE_ATTRS.finditer(text):
            tokens = _attr_tokens(match["attrs"])
            before = text[: match.start()]
            if before.endswith("]"):
                self._span_attrs(where, tokens)
                continue
            image = IMAGE_BEFORE_ATTRS.search(before)
            if image is None:
                self.report(where, f"attributes on a link {match[0]}", "attributes")
                continue
            self._image_attrs(
                where, tokens, standalone=text.strip() == text[image.start() : match.end()].strip()
            )

    def _define(self, where: SourceLine, token: str, prefix: str) -> None:
        identifier = token[1:]
        if not XREF_ID.match(identifier) or not identifier.startswith(prefix + "-"):
            self.report(where, f"id {token} (here only #{prefix}-NAME, NAME of [A-Za-z0-9_-])", "id")
        elif identifier in self.ids:
            first = self.ids[identifier]
            self.report(where, f"duplicate id {token} (first at {first.file}:{first.line})", "id")
        else:
            self.ids[identifier] = where

    def _heading_attrs(self, where: SourceLine, tokens: list[str]) -> None:
        ids = [t for t in tokens if t.startswith("#")]
        for token in tokens:
            if token.startswith("#"):
                self._define(where, token, "sec")
            elif token != ".unnumbered":
                self.report(
                    where, f"heading attribute {token} (allowed: #sec-NAME, .unnumbered)", "attributes"
                )
        if ".unnumbered" in tokens:
            self.unnumbered.update(t[1:] for t in ids)

    def _div_attrs(self, where: SourceLine, rest: str) -> None:
        if not rest:
            return
        if not (rest.startswith("{") and rest.endswith("}")):
            self.report(where, f"div class {rest} (allowed: {{#tbl-NAME}}, {{#refs}})", "attributes")
            return
        tokens = _attr_tokens(rest[1:-1])
        if tokens == ["#refs"]:
            return
        for token in tokens:
            if token.startswith("#"):
                self._define(where, token, "tbl")
            else:
                self.report(where, f"div attribute {token} (allowed: {{#tbl-NAME}}, {{#refs}})", "attributes")

    def _span_attrs(self, where: SourceLine, tokens: list[str]) -> None:
        if tokens and tokens[0] == ".lit":
            # A literal names its source (claim= a ledger claim id, source= in words); the audit checks it.
            extra = [t for t in tokens[1:] if t.split("=", 1)[0] not in ("claim", "source") or "=" not in t]
            if extra or len(tokens) > 2:
                self.report(where, f"literal span attributes {' '.join(tokens)} (allowed: .lit, and one of claim= "
                                   "or source=)", "attributes")
            return
        if ".value" in tokens:
            pairs = dict(t.split("=", 1) for t in tokens if "=" in t)
            extra = [t for t in tokens if t != ".value" and t.split("=", 1)[0] not in ("key", "title")]
            key = pairs.get("key", "").strip("\"'")
            if extra or not key:
                self.report(
                    where,
                    f"value span attributes {' '.join(tokens)} (allowed: .value key= title=)",
                    "attributes",
                )
            elif key not in self.known_keys:
                self.report(where, f"unknown value key '{key}' in a value span", "unknown-value")
            return
        self.report(where, f"span attributes {' '.join(tokens)} (allowed: .lit [claim=|source=], .value)",
                    "attributes")

    def _image_attrs(self, where: SourceLine, tokens: list[str], standalone: bool) -> None:
        for token in tokens:
            if token.startswith("#"):
                self._define(where, token, "fig")
                if not standalone:
                    self.report(where, f"figure {token} must stand alone in its paragraph", "figure")
            elif not token.startswith("width="):
                self.report(where, f"image attribute {token} (allowed: #fig-NAME, width=)", "attributes")

    def _citations(self, where: SourceLine, text: str) -> None:
        for match in CITATION.finditer(text):
            key = match["key"] or match["braced"] or ""
            prefix = key.split("-", 1)[0] if "-" in key else ""
            if prefix in XREF_PREFIXES:
                self.refs.append((key, where))
            elif prefix.lower() in XREF_PREFIXES:
                self.report(
                    where,
                    f"capitalised cross-reference @{key} (write @{key[0].lower()}{key[1:]})",
                    "xref-prefix",
                )
            elif prefix.lower() in QUARTO_ONLY_XREF_PREFIXES:
                self.report(
                    where, f"cross-reference @{key}: only fig-, tbl-, sec- are in the subset", "xref-prefix"
                )
            elif key not in self.bib_keys:
                self.report(where, f"unknown citation key @{key}", "unknown-citation")

    def _resolve_refs(self) -> None:
        for key, where in self.refs:
            if key not in self.ids:
                self.report(where, f"unresolved cross-reference @{key}", "unresolved-xref")
            elif key in self.unnumbered:
                self.report(
                    where, f"cross-reference @{key} points to an unnumbered section", "unresolved-xref"
                )


def check_source(lines: Sequence[SourceLine], known_keys: set[str], bib_keys: set[str],
                 locate: Locator | None = None, absent: Mapping[str, str] | None = None) -> list[Problem]:
    """Subset problems of already include-expanded source lines; ``locate`` checks the files they name."""
    return _Checker(set(known_keys), set(bib_keys), locate, absent).check(lines)


def file_locator(qmd: Path, root: Path) -> Locator:
    """Checks a path written in ``qmd`` or its includes (Quarto resolves them against ``qmd``'s folder)."""
    def locate(written: str, what: str) -> str | None:
        return path_problem(written, _project_file(written, qmd.parent, root), root, what)
    return locate


def lint_manuscript(qmd_path: Path, known_keys: Iterable[str], bib_keys: Iterable[str]) -> list[Problem]:
    """All Quarto-subset problems of ``qmd_path`` and the files it includes.

    Reports shortcodes other than ``meta v.KEY``/``include``, include
    errors, cross-reference prefixes other than fig-/tbl-/sec-, attributes
    outside the allowed set, unknown value keys, unresolved cross-references
    and unknown citation keys. The project root (for ``/``-rooted includes)
    is the directory of the nearest ``_quarto.yml``, else the qmd's own.
    """
    qmd_path = Path(qmd_path)
    try:
        root = find_project_root(qmd_path)
    except RenderError:
        root = qmd_path.resolve().parent
    lines, problems = expand_includes(qmd_path, root)
    locate = file_locator(qmd_path.resolve(), root)
    return _in_source_order(problems + check_source(lines, set(known_keys), set(bib_keys), locate))


def _in_source_order(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: (str(problem.file), problem.line))


def _raise_problems(problems: Sequence[Problem]) -> None:
    if problems:
        listing = "\n".join(f"  {problem}" for problem in problems)
        raise RenderError(f"{len(problems)} Quarto-subset problem(s):\n{listing}")


# --------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class Job:
    """One render: the expanded source, its settings and where to write."""

    qmd: Path
    config: ProjectConfig
    output_dir: Path
    source: str
    epoch: int
    metadata: tuple[tuple[str, str], ...]

    @property
    def html(self) -> Path:
        return self.output_dir / f"{self.qmd.stem}.html"

    @property
    def pdf(self) -> Path:
        return self.output_dir / f"{self.qmd.stem}.pdf"


def _front_matter(lines: Sequence[SourceLine]) -> dict:
    end = _Checker._front_matter_end(lines)
    if end == 0:
        return {}
    data = yaml.load("\n".join(line.text for line in lines[1 : end - 1]), Loader=YAML_LOADER) or {}
    return data if isinstance(data, dict) else {}


def _date_override(front_matter: dict, epoch: int) -> str | None:
    # Quarto's date keywords would make the output depend on the clock.
    if str(front_matter.get("date", "")).strip() in DATE_KEYWORDS:
        return datetime.fromtimestamp(epoch, tz=UTC).date().isoformat()
    return None


def _metadata(config: ProjectConfig, front_matter: dict, epoch: int) -> tuple[tuple[str, str], ...]:
    """The ``--metadata`` pairs: project settings the document does not set.

    Pandoc's ``--metadata`` beats the document, while in Quarto the document
    beats ``_quarto.yml``; passing only unset keys keeps Quarto's order.
    """
    settings = {
        "number-sections": str(config.number_sections).lower(),
        "link-citations": str(config.link_citations).lower(),
        "lang": config.lang,
        "reference-section-title": config.reference_section_title,
    }
    pairs = [(key, value) for key, value in settings.items() if value is not None and key not in front_matter]
    date = _date_override(front_matter, epoch)
    return (*pairs, ("date", date)) if date else tuple(pairs)


def prepare(qmd: Path, output_dir: Path | None = None) -> Job:
    """Load the project, expand includes and lint; raise on any problem."""
    qmd = qmd.resolve()
    if not qmd.is_file():
        raise RenderError(f"{qmd} not found")
    root = find_project_root(qmd)
    config = load_config(root)
    # First: the stamp is one of the metadata files the lint reads.
    stamp = build_stamp(config)
    write_render_meta(config, stamp)
    lines, problems = expand_includes(qmd, root)
    problems += check_source(lines, value_keys(config.metadata_files), bibliography_keys(config.bibliography),
                             file_locator(qmd, root), absent_values(config.metadata_files))
    _raise_problems(_in_source_order(problems))
    epoch = epoch_of(stamp.revision)
    return Job(
        qmd=qmd,
        config=config,
        output_dir=(output_dir or config.output_dir).resolve(),
        source="\n".join(line.text for line in lines) + "\n",
        epoch=epoch,
        metadata=_metadata(config, _front_matter(lines), epoch),
    )


def _run_pandoc(job: Job, args: list[str]) -> bytes:
    """Run Pandoc on the expanded source; any warning is an error."""
    config = job.config
    command = [
        pandoc_executable(),
        "--from",
        SUBSET_READER,
        *[f"--metadata-file={path}" for path in config.metadata_files],
        f"--lua-filter={LUA_FILTER}",
        "--citeproc",
        *[f"--bibliography={path}" for path in config.bibliography],
        *([f"--csl={config.csl}"] if config.csl else []),
        *[f"--metadata={key}={value}" for key, value in job.metadata],
        "--standalone",
        *args,
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(job.epoch)}
    # cwd = the qmd's directory: relative image paths resolve as in Quarto.
    result = subprocess.run(
        command,
        input=job.source.encode("utf-8"),
        capture_output=True,
        cwd=job.qmd.parent,
        env=env,
        check=False,
    )
    stderr = result.stderr.decode("utf-8", errors="replace")
    if result.returncode != 0 or PANDOC_WARNING.search(stderr):
        raise RenderError(f"pandoc failed for {job.qmd}:\n{stderr.strip()}")
    return result.stdout


def render_html_pandoc(job: Job, embed: bool = True) -> bytes:
    """The HTML, no script, no web font: self-contained, CSS and images embedded.

    Without ``embed`` (the preview), the images stay linked as the source writes them and the stylesheets
    are linked by their paths from the qmd's folder: all relative to that folder, as a server of the
    project sees it.
    """
    stylesheets = [
        path if embed else Path(os.path.relpath(path, job.qmd.parent)) for path in HTML_STYLESHEETS
    ]
    return _run_pandoc(
        job,
        [
            "--to",
            "html5",
            f"--template={HTML_TEMPLATE}",
            *[f"--css={path.as_posix()}" for path in stylesheets],
            *(["--embed-resources"] if embed else []),
            "--section-divs",
            "--mathml",
        ],
    )


def render_pdf_pandoc(job: Job) -> bytes:
    """PDF via Pandoc's Typst writer and the embedded-font Typst compiler."""
    import typst

    root = job.config.root
    typst_source = _run_pandoc(
        job,
        [
            # Citeproc formats citations; Typst's own citation engine stays off.
            "--to",
            "typst-citations",
            f"--template={TYPST_TEMPLATE}",
            f"--metadata=typst-root-prefix={job.qmd.parent.relative_to(root).as_posix()}",
        ],
    )
    # Typst reads below its root, by paths its code may compute: the root is a folder of the declared
    # inputs only (engine/confinement.py), so that nothing else can reach the PDF.
    with tempfile.TemporaryDirectory(prefix="typst-root-") as folder:
        try:
            sandbox = typst_root(root, render_inputs(job.qmd), Path(folder))
            pdf, warnings = typst.compile_with_warnings(
                typst_source, root=str(sandbox), ignore_system_fonts=True, timestamp=job.epoch
            )
        except ConfinementError as error:
            raise RenderError(f"typst for {job.qmd}: {error}") from error
        except typst.TypstError as error:
            # Named as the project's paths: the folder of copies is gone when the message is read.
            message = str(error).replace(folder, str(root))
            if "file not found" in message:
                message += ("\nTypst reads only the files the render declares (the manuscript, its includes and "
                            "images): a file read in a {=typst} block must be one of them")
            raise RenderError(f"typst failed for {job.qmd}:\n{message}") from error
    for warning in warnings:
        print(f"typst warning: {warning}", file=sys.stderr)
    return pdf


def render_pandoc(job: Job) -> tuple[Path, Path]:
    """The Pandoc engine; outputs are written only if both formats succeed.

    The two formats are rendered side by side (each is mostly a Pandoc process, and Typst's compiler
    runs while the HTML's Pandoc does): a text edit waits for the slower of them, not for both.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        html_future = pool.submit(render_html_pandoc, job)
        pdf_future = pool.submit(render_pdf_pandoc, job)
        html, pdf = html_future.result(), pdf_future.result()
    atomic.write_bytes(job.html, html)
    atomic.write_bytes(job.pdf, pdf)
    return job.html, job.pdf


def render_preview(qmd: Path, output_dir: Path | None = None) -> Path:
    """Lint, then render ``qmd`` to HTML alone with the Pandoc engine, resources linked; return its path."""
    job = prepare(qmd, output_dir)
    html = render_html_pandoc(job, embed=False)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    job.html.write_bytes(html)
    return job.html


def render_quarto(job: Job, quarto: str) -> tuple[Path, Path]:
    """The Quarto engine: ``quarto render`` of the qmd within its project."""
    root = job.config.root
    relative = job.qmd.relative_to(root)
    command = [quarto, "render", relative.as_posix()]
    if job.output_dir != job.config.output_dir.resolve():
        # Quarto takes --output-dir as "input/project relative" (`quarto render --help`).
        inside = job.output_dir.is_relative_to(root.resolve())
        command += [
            "--output-dir",
            str(job.output_dir.relative_to(root.resolve()) if inside else job.output_dir),
        ]
    # Quarto reads _quarto.yml itself; only the date keyword needs help.
    for key, value in job.metadata:
        if key == "date":
            command += ["-M", f"date:{value}"]
    # Quarto's bundled typst honours SOURCE_DATE_EPOCH for the PDF dates.
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(job.epoch)}
    result = subprocess.run(command, cwd=root, env=env, check=False)
    if result.returncode != 0:
        raise RenderError(f"quarto render failed for {job.qmd} (exit {result.returncode})")
    # Quarto mirrors the source's directory below output-dir.
    produced = job.output_dir / relative.parent
    for target in (job.html, job.pdf):
        source = produced / target.name
        if not source.is_file():
            raise RenderError(f"quarto did not produce {source}")
        if source != target:
            source.replace(target)
    _prune_empty_dirs(produced, job.output_dir)
    _remove_resource_copies(job)
    return job.html, job.pdf


def _prune_empty_dirs(directory: Path, top: Path) -> None:
    """Remove ``directory`` and its parents up to (not including) ``top`` while they are empty."""
    while (
        directory != top
        and directory.is_relative_to(top)
        and directory.is_dir()
        and not any(directory.iterdir())
    ):
        directory.rmdir()
        directory = directory.parent


def _remove_resource_copies(job: Job) -> None:
    """Delete the copies of the paper's images that Quarto leaves below the output directory.

    Quarto copies each resource a document references to the same project-relative path below its
    output-dir (``_manuscript/results/figures/x.svg``); the self-contained HTML and the PDF need none of
    them, and a copy would go stale beside the paper.
    """
    root = job.config.root.resolve()
    for source in manuscript_files(job.qmd, root):
        if source.suffix in (".qmd", ".md") or not source.is_relative_to(root):
            continue
        copy = job.output_dir / source.relative_to(root)
        if copy.is_file() and copy.resolve() != source.resolve():
            copy.unlink()
            _prune_empty_dirs(copy.parent, job.output_dir)


def render(qmd: Path, output_dir: Path | None = None, engine: str = "auto") -> tuple[Path, Path]:
    """Lint, then render ``qmd``; return the (html, pdf) paths.

    ``output_dir`` defaults to ``project.output-dir`` of ``_quarto.yml``.
    """
    job = prepare(qmd, output_dir)
    quarto = shutil.which("quarto")
    if engine == "quarto" and quarto is None:
        raise RenderError("--engine quarto: quarto is not on PATH")
    if engine == "quarto" or (engine == "auto" and quarto):
        return render_quarto(job, quarto)
    return render_pandoc(job)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m engine.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--qmd", type=Path, default=Path("manuscript/index.qmd"), help="manuscript source")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where <stem>.html and <stem>.pdf go (default: project.output-dir of _quarto.yml)",
    )
    parser.add_argument("--engine", choices=("auto", "quarto", "pandoc"), default="auto")
    parser.add_argument(
        "--list-inputs",
        action="store_true",
        help="print every file the render reads, one per line (project-relative), and render nothing",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="write the live preview's page: HTML alone, resources linked (Pandoc engine), no PDF",
    )
    args = parser.parse_args(argv)
    if args.preview and args.engine == "quarto":
        parser.error("--preview renders with the Pandoc engine: leave out --engine quarto")
    try:
        if args.list_inputs:
            print("\n".join(path.as_posix() for path in render_inputs(args.qmd)))
            return 0
        if args.preview:
            written: tuple[Path, ...] = (render_preview(args.qmd, args.output_dir),)
        else:
            written = render(args.qmd, args.output_dir, args.engine)
    except RenderError as error:
        print(f"render: {error}", file=sys.stderr)
        return 1
    print("\n".join(f"wrote {path}" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
