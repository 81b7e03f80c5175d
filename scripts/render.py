"""Render the manuscript (Quarto sources) to self-contained HTML and PDF.

Usage::

    python -m scripts.render --qmd manuscript/index.qmd --output-dir _manuscript \
        [--engine auto|quarto|pandoc]

Both engines write ``<output-dir>/<stem>.html`` (self-contained) and
``<output-dir>/<stem>.pdf``:

* ``quarto``: ``quarto render`` of the project whose ``_quarto.yml`` is found
  above the ``.qmd``; the outputs are moved up from the sub-directory that
  Quarto mirrors below its output-dir.
* ``pandoc``: Pandoc (pypandoc_binary) with scripts/filters/quarto-subset.lua
  and citeproc; HTML through manuscript/templates/article.html, PDF through
  Pandoc's Typst writer (manuscript/templates/article.typ) and the ``typst``
  Python compiler. Offline, and byte-for-byte reproducible.
* ``auto`` (default): ``quarto`` if it is on PATH, else ``pandoc``.

Before either engine runs, the source is checked against the project's
Quarto subset (:func:`lint_manuscript`, documented in manuscript/README.md);
any problem fails the render with all problems listed. Exit status: 0 on
success, 1 on any failure (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
LUA_FILTER = REPO_ROOT / "scripts" / "filters" / "quarto-subset.lua"
TEMPLATES = REPO_ROOT / "manuscript" / "templates"

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
LINK_TARGET = re.compile(r"\]\((?P<target>[^)]*)\)")
URL = re.compile(r"<?\b[a-z][a-z0-9+.-]*://[^\s>]*>?", re.IGNORECASE)
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)(?:\s+\{(?P<attrs>[^{}]*)\})?\s*$")
DIV_FENCE = re.compile(r"^:{3,}\s*(?P<rest>.*?)\s*$")
INLINE_ATTRS = re.compile(r"(?<=[\])])\{(?P<attrs>[^{}]*)\}")
IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\((?P<src>[^)\s]*)[^)]*\)")
IMAGE_BEFORE_ATTRS = re.compile(IMAGE.pattern + "$")
ATTR_TOKEN = re.compile(r"""#[^\s}]+|\.[^\s}]+|[\w-]+=(?:"[^"]*"|'[^']*'|[^\s}]+)|\S+""")
CITATION = re.compile(
    r"(?<![\w@.\\])-?@(?:\{(?P<braced>[^}]*)\}|(?P<key>[A-Za-z0-9_](?:[\w:.#$%&+?<>~/-]*[A-Za-z0-9_])?))"
)
PANDOC_WARNING = re.compile(r"^\[WARNING\]", re.MULTILINE)


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
    raw = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8")) or {}
    reader = raw.get("from", SUBSET_READER)
    if reader != SUBSET_READER:
        raise RenderError(f"_quarto.yml sets from: {reader}; the subset needs from: {SUBSET_READER}")
    project = raw.get("project") or {}
    csl = raw.get("csl")
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
    )


def source_date_epoch(root: Path) -> int:
    """SOURCE_DATE_EPOCH, else the last git commit's time, else 0."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    git = shutil.which("git")
    if git is None:
        return 0
    result = subprocess.run(
        [git, "log", "-1", "--format=%ct"], cwd=root, capture_output=True, text=True, check=False
    )
    stamp = result.stdout.strip()
    return int(stamp) if result.returncode == 0 and stamp.isdigit() else 0


def value_keys(metadata_files: Iterable[Path]) -> set[str]:
    """Keys of the ``v`` mapping across the metadata files."""
    keys: set[str] = set()
    for path in metadata_files:
        if not path.is_file():
            raise RenderError(f"metadata file {path} not found (it is written by the values step)")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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
    # Quarto resolves include paths against the main document, not the
    # including file; a leading "/" means the project root.
    raw = match["dq"] or match["sq"] or match["bare"]
    if raw.startswith("/"):
        return (root / raw.lstrip("/")).resolve()
    return (main_dir / raw).resolve()


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
            target = _include_target(match, qmd.parent, root)
            if not target.is_file():
                problems.append(Problem(path, number, f"included file not found: {target}", "include"))
            elif target in stack:
                problems.append(Problem(path, number, f"include cycle through {target}", "include"))
            else:
                out.extend(expand(target, (*stack, target)))
        return out

    return expand(qmd, (qmd,)), problems


# --------------------------------------------------------------------------
# Lint


def _blank(match: re.Match[str]) -> str:
    return " " * len(match[0])


def _attr_tokens(attrs: str) -> list[str]:
    return ATTR_TOKEN.findall(attrs)


class _Checker:
    """Collects subset problems over the include-expanded source lines."""

    def __init__(self, known_keys: set[str], bib_keys: set[str]) -> None:
        self.known_keys = known_keys
        self.bib_keys = bib_keys
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
        texts = [line.text for line in lines[body_start:]]
        for where, (info, state) in zip(lines[body_start:], _fenced(texts), strict=True):
            if state == "open":
                self._fence_info(where, info or "")
            elif state is None:
                self._text_line(where)
        self._resolve_refs()
        return self.problems

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
        if tokens == [".lit"]:
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
        self.report(where, f"span attributes {' '.join(tokens)} (allowed: .lit, .value)", "attributes")

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


def check_source(lines: Sequence[SourceLine], known_keys: set[str], bib_keys: set[str]) -> list[Problem]:
    """Subset problems of already include-expanded source lines."""
    return _Checker(set(known_keys), set(bib_keys)).check(lines)


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
    return _in_source_order(problems + check_source(lines, set(known_keys), set(bib_keys)))


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
    data = yaml.safe_load("\n".join(line.text for line in lines[1 : end - 1])) or {}
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
    lines, problems = expand_includes(qmd, root)
    problems += check_source(lines, value_keys(config.metadata_files), bibliography_keys(config.bibliography))
    _raise_problems(_in_source_order(problems))
    epoch = source_date_epoch(root)
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


def render_html_pandoc(job: Job) -> bytes:
    """Self-contained HTML: CSS and images embedded, no script, no web font."""
    return _run_pandoc(
        job,
        [
            "--to",
            "html5",
            f"--template={TEMPLATES / 'article.html'}",
            f"--css={TEMPLATES / 'article.css'}",
            f"--css={TEMPLATES / 'values.css'}",
            "--embed-resources",
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
            f"--template={TEMPLATES / 'article.typ'}",
            f"--metadata=typst-root-prefix={job.qmd.parent.relative_to(root).as_posix()}",
        ],
    )
    try:
        pdf, warnings = typst.compile_with_warnings(
            typst_source, root=str(root), ignore_system_fonts=True, timestamp=job.epoch
        )
    except typst.TypstError as error:
        raise RenderError(f"typst failed for {job.qmd}:\n{error}") from error
    for warning in warnings:
        print(f"typst warning: {warning}", file=sys.stderr)
    return pdf


def render_pandoc(job: Job) -> tuple[Path, Path]:
    """The Pandoc engine; outputs are written only if both formats succeed."""
    html = render_html_pandoc(job)
    pdf = render_pdf_pandoc(job)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    job.html.write_bytes(html)
    job.pdf.write_bytes(pdf)
    return job.html, job.pdf


def render_quarto(job: Job, quarto: str) -> tuple[Path, Path]:
    """The Quarto engine: ``quarto render`` of the qmd within its project."""
    root = job.config.root
    relative = job.qmd.relative_to(root)
    command = [quarto, "render", relative.as_posix()]
    if job.output_dir != job.config.output_dir.resolve():
        command += ["--output-dir", str(job.output_dir)]
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
    if produced != job.output_dir and produced.is_dir() and not any(produced.iterdir()):
        produced.rmdir()
    return job.html, job.pdf


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
    parser = argparse.ArgumentParser(prog="python -m scripts.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--qmd", type=Path, default=Path("manuscript/index.qmd"), help="manuscript source")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where <stem>.html and <stem>.pdf go (default: project.output-dir of _quarto.yml)",
    )
    parser.add_argument("--engine", choices=("auto", "quarto", "pandoc"), default="auto")
    args = parser.parse_args(argv)
    try:
        html, pdf = render(args.qmd, args.output_dir, args.engine)
    except RenderError as error:
        print(f"render: {error}", file=sys.stderr)
        return 1
    print(f"wrote {html}\nwrote {pdf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
