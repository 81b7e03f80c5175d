"""What differs between two builds of the paper: the comparisons behind engine/changes.py's report.

Each build is a project folder holding its results: the registry (``results/values.yml``), the tables
(``results/tables/*.md``, read back by engine/table_cells.py), the ledger (``results/tables/ledger.md``),
with the sources beside them (``manuscript/*.qmd``, ``data/raw/*.csv``, ``data/published/*.csv``,
``config/schemas/``). :func:`compare` finds

* the registry values whose display or value changed, added or removed, and the manuscript sentences
  that quote them (``{{< meta v.KEY >}}``), each changed value marked;
* the table cells that changed (rows matched by their row group and leading cells), the rows, columns and
  source notes added or removed;
* the ledger's claims whose class or recomputed value changed;
* the input rows changed, added or removed, matched by the sheet's primary key (``x-primary-key`` of
  ``config/schemas/<sheet>.schema.yaml``; for a sheet without one, its first columns that tell the rows
  apart);
* the source files (code, configuration, manuscript) that differ.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.table_cells import Row, Table, read_table

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
REGISTRY = Path("results/values.yml")
TABLES = Path("results/tables")
LEDGER = "ledger"
LEDGER_KEY = ("Section", "Context", "Published")
LEDGER_SHOWN = ("Recomputed", "Class")
INPUT_DIRS = (Path("data/raw"), Path("data/published"))
SCHEMAS = Path("config/schemas")
MANUSCRIPT = Path("manuscript")
SOURCES = ("Snakefile", "_quarto.yml", "config/**/*", "engine/**/*", "scripts/**/*", "manuscript/**/*")
META = re.compile(r"\{\{<\s+meta\s+v\.(?P<key>[A-Za-z0-9_-]+)\s+>\}\}")
LITERAL = re.compile(r"\[(?P<text>[^\[\]]*)\]\{\.lit\}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[*])")
TABLE_DIV = re.compile(r"^:::+\s*\{#tbl-(?P<name>[A-Za-z0-9_-]+)\}\s*$", re.MULTILINE)


class ChangesError(Exception):
    """A side could not be read or built; the message says which and why."""


# --------------------------------------------------------------------------
# Registry values and the sentences that quote them


@dataclass(frozen=True)
class ValueChange:
    key: str
    old: Mapping[str, object] | None  # the registry entry (display, value, ...); None: not in that build
    new: Mapping[str, object] | None


def read_registry(root: Path) -> dict[str, dict]:
    path = root / REGISTRY
    if not path.is_file():
        raise ChangesError(
            f"{path} not found: build that version first (snakemake --cores 4) or name a commit"
        )
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
    if not isinstance(data, dict):
        raise ChangesError(f"{path}: expected a mapping of registry keys")
    return data


def value_changes(base: Mapping[str, dict], head: Mapping[str, dict]) -> list[ValueChange]:
    """Keys whose display or value differs, or that only one registry holds, in key order."""

    def shown(entry: Mapping[str, object] | None) -> tuple[object, object] | None:
        return None if entry is None else (str(entry.get("display")), entry.get("value"))

    return [
        ValueChange(key, base.get(key), head.get(key))
        for key in sorted(set(base) | set(head))
        if shown(base.get(key)) != shown(head.get(key))
    ]


@dataclass(frozen=True)
class Quote:
    file: str
    line: int
    sentence: str  # Markdown, the values shown as in the paper, each changed one as ~~old~~ **new**
    keys: tuple[str, ...]  # the changed keys it quotes


def _paragraphs(lines: Sequence[str]) -> Iterator[list[tuple[int, str]]]:
    """Runs of text lines with their line numbers, outside fenced blocks; in the front matter only the
    indented lines of block values (the abstract), each YAML key ending a run."""
    paragraph: list[tuple[int, str]] = []
    fenced = False
    front = bool(lines) and lines[0].strip() == "---"
    for number, line in enumerate(lines, start=1):
        if front and number > 1 and line.strip() in ("---", "..."):
            front = False
            line = ""
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced or not line.strip() or (front and not line[0].isspace()):
            if paragraph:
                yield paragraph
            paragraph = []
        else:
            paragraph.append((number, line.strip()))
    if paragraph:
        yield paragraph


def quoting_sentences(
    manuscript: Path, displays: Mapping[str, str], changed: Mapping[str, tuple[str | None, str | None]]
) -> list[Quote]:
    """The sentences of ``manuscript/*.qmd`` that quote a ``changed`` key (key -> (old, new) display).

    Every value is shown as ``displays`` has it, a changed one as ``~~old~~ **new**``; ``{.lit}`` spans as
    their text. A sentence's line is that of its first changed value.
    """

    def shown(match: re.Match[str]) -> str:
        if match["key"] not in changed:
            return displays.get(match["key"], match[0])
        old, new = changed[match["key"]]
        return " ".join(part for part in (f"~~{old}~~" if old else "", f"**{new}**" if new else "") if part)

    quotes = []
    for qmd in sorted(manuscript.glob("*.qmd")):
        for paragraph in _paragraphs(qmd.read_text(encoding="utf-8").splitlines()):
            text, starts = "", []
            for number, line in paragraph:
                starts.append((len(text), number))
                text += line + " "
            at = 0
            for sentence in SENTENCE_END.split(text.strip()):
                at = text.index(sentence, at)
                quoted = [m for m in META.finditer(sentence) if m["key"] in changed]
                if quoted:
                    line = max(number for start, number in starts if start <= at + quoted[0].start())
                    rendered = LITERAL.sub(r"\g<text>", META.sub(shown, sentence))
                    keys = tuple(dict.fromkeys(m["key"] for m in quoted))
                    quotes.append(Quote(qmd.relative_to(manuscript.parent).as_posix(), line, rendered, keys))
                at += len(sentence)
    return quotes


# --------------------------------------------------------------------------
# Tables


@dataclass(frozen=True)
class CellChange:
    row: str  # the row, as its group and leading cells
    column: str
    old: str
    new: str


@dataclass(frozen=True)
class TableChanges:
    name: str
    cells: tuple[CellChange, ...] = ()
    added: tuple[str, ...] = ()  # rows, each as "label: cell; ..." text
    removed: tuple[str, ...] = ()
    notes_added: tuple[str, ...] = ()
    notes_removed: tuple[str, ...] = ()
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    whole: str = ""  # "added" or "removed" when only one build has the table

    def __bool__(self) -> bool:
        return any(
            (
                self.cells,
                self.added,
                self.removed,
                self.notes_added,
                self.notes_removed,
                self.columns_added,
                self.columns_removed,
                self.whole,
            )
        )


def _row_keys(table: Table, width: int) -> list[tuple[str, ...]]:
    """Each row's group and first ``width`` cells, numbered where they repeat (a second "#2")."""
    seen: Counter[tuple[str, ...]] = Counter()
    keys = []
    for row in table.rows:
        key = (row.group or "", *row.cells[:width])
        seen[key] += 1
        keys.append(key if seen[key] == 1 else (*key, f"#{seen[key]}"))
    return keys


def key_width(*tables: Table) -> int:
    """The fewest leading cells that, with the row group, tell every row of each table apart."""
    widest = max((len(table.labels) for table in tables), default=1)
    for width in range(1, widest + 1):
        if all(len({(row.group, *row.cells[:width]) for row in t.rows}) == len(t.rows) for t in tables):
            return width
    return widest


def _describe_key(key: tuple[str, ...]) -> str:
    return " · ".join(part for part in key if part)


def _describe_matched(labels: Sequence[str], key: tuple[str, ...], width: int, old: Row, new: Row) -> str:
    """A matched row as its group and labelled key cells, with the next cell for context if it is unchanged:
    "No. 1 (Study: Ames et al.)"."""
    group, cells, repeat = key[0], key[1 : width + 1], key[width + 1 :]
    shown = " · ".join(
        [*([group] if group else []), *(f"{label} {cell}" for label, cell in zip(labels, cells, strict=False)), *repeat]
    )
    if width < len(labels) and width < len(old.cells) and old.cells[width] == new.cells[width]:
        shown += f" ({labels[width]}: {new.cells[width]})"
    return shown


def _describe_row(labels: Sequence[str], cells: Sequence[str]) -> str:
    return "; ".join(f"{label}: {cell}" for label, cell in zip(labels, cells, strict=True))


def table_changes(name: str, base: Table, head: Table, width: int | None = None) -> TableChanges:
    """Cells, rows, notes and columns that differ; rows matched by group and the first ``width`` cells."""
    width = width or key_width(base, head)
    old_rows = dict(zip(_row_keys(base, width), base.rows, strict=True))
    new_rows = dict(zip(_row_keys(head, width), head.rows, strict=True))
    shared = [label for label in head.labels if label in base.labels]
    cells = []
    for key, new in new_rows.items():
        old = old_rows.get(key)
        if old is None:
            continue
        for label in shared:
            before, after = old.cells[base.column(label)], new.cells[head.column(label)]
            if before != after:
                cells.append(
                    CellChange(_describe_matched(head.labels, key, width, old, new), label, before, after)
                )
    return TableChanges(
        name=name,
        cells=tuple(cells),
        added=tuple(_describe_row(head.labels, r.cells) for k, r in new_rows.items() if k not in old_rows),
        removed=tuple(_describe_row(base.labels, r.cells) for k, r in old_rows.items() if k not in new_rows),
        notes_added=tuple(note for note in head.notes if note not in base.notes),
        notes_removed=tuple(note for note in base.notes if note not in head.notes),
        columns_added=tuple(label for label in head.labels if label not in base.labels),
        columns_removed=tuple(label for label in base.labels if label not in head.labels),
    )


@dataclass(frozen=True)
class ClaimChange:
    claim: str  # section · context · published
    old: Mapping[str, str] | None  # Recomputed, Class; None: the claim is not in that ledger
    new: Mapping[str, str] | None


def _ledger_rows(table: Table, path: Path) -> dict[str, dict[str, str]]:
    missing = [label for label in (*LEDGER_KEY, *LEDGER_SHOWN) if label not in table.labels]
    if missing:
        raise ChangesError(f"{path}: the ledger table has no column {', '.join(missing)}")
    rows: dict[str, dict[str, str]] = {}
    seen: Counter[str] = Counter()
    for row in table.rows:
        claim = _describe_key(tuple(row.cells[table.column(label)] for label in LEDGER_KEY))
        seen[claim] += 1
        rows[claim if seen[claim] == 1 else f"{claim} #{seen[claim]}"] = {
            label: row.cells[table.column(label)] for label in LEDGER_SHOWN
        }
    return rows


def ledger_changes(base: Table, head: Table, base_path: Path, head_path: Path) -> list[ClaimChange]:
    """Claims whose recomputed value or class changed, or that only one ledger lists."""
    old, new = _ledger_rows(base, base_path), _ledger_rows(head, head_path)
    return [
        ClaimChange(claim, old.get(claim), new.get(claim))
        for claim in [*new, *(c for c in old if c not in new)]
        if old.get(claim) != new.get(claim)
    ]


def table_numbers(manuscript: Path) -> dict[str, int]:
    """Table name -> its number in the paper: the order of the ``::: {#tbl-NAME}`` divs."""
    names = [
        m["name"]
        for qmd in sorted(manuscript.glob("*.qmd"))
        for m in TABLE_DIV.finditer(qmd.read_text(encoding="utf-8"))
    ]
    return {name: number for number, name in enumerate(dict.fromkeys(names), start=1)}


# --------------------------------------------------------------------------
# Input rows


@dataclass(frozen=True)
class RowChange:
    key: str  # "column=value, ..." of the primary key
    kind: str  # "changed", "added", "removed"
    columns: tuple[tuple[str, str, str], ...]  # (column, old, new); for added/removed, every column


@dataclass(frozen=True)
class SheetChanges:
    sheet: str  # the path, e.g. data/raw/studies.csv
    key: tuple[str, ...]
    key_from_schema: bool
    rows: tuple[RowChange, ...]
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV sheet (no rows when the file is absent)."""
    if not path.is_file():
        return [], []
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def schema_key(schema: Path) -> tuple[str, ...] | None:
    if not schema.is_file():
        return None
    key = (yaml.load(schema.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}).get("x-primary-key")
    return tuple(key) if key else None


def leading_key(header: Sequence[str], *tables: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """The fewest first columns whose values tell the rows of each table apart (all columns if none do)."""
    for width in range(1, len(header) + 1):
        columns = tuple(header[:width])
        if all(len({tuple(row.get(c, "") for c in columns) for row in rows}) == len(rows) for rows in tables):
            return columns
    return tuple(header)


def sheet_changes(
    name: str,
    base: tuple[list[str], list[dict]],
    head: tuple[list[str], list[dict]],
    key: tuple[str, ...] | None,
) -> SheetChanges:
    """Rows changed, added or removed between two versions of a sheet, matched by ``key``."""
    (old_header, old_rows), (new_header, new_rows) = base, head
    from_schema = key is not None
    key = key or leading_key(new_header or old_header, old_rows, new_rows)

    def index(rows: list[dict]) -> dict[str, dict]:
        return {", ".join(f"{c}={row.get(c, '')}" for c in key): row for row in rows}

    old, new = index(old_rows), index(new_rows)
    columns = [c for c in new_header if c in old_header]
    changes = []
    for row_key, row in new.items():
        if row_key not in old:
            changes.append(RowChange(row_key, "added", tuple((c, "", row[c]) for c in new_header)))
            continue
        changed = tuple((c, old[row_key][c], row[c]) for c in columns if old[row_key][c] != row[c])
        if changed:
            changes.append(RowChange(row_key, "changed", changed))
    changes += [
        RowChange(row_key, "removed", tuple((c, row[c], "") for c in old_header))
        for row_key, row in old.items()
        if row_key not in new
    ]
    return SheetChanges(
        name,
        key,
        from_schema,
        tuple(changes),
        columns_added=tuple(c for c in new_header if c not in old_header),
        columns_removed=tuple(c for c in old_header if c not in new_header),
    )


def input_changes(base: Path, head: Path) -> list[SheetChanges]:
    changes = []
    for folder in INPUT_DIRS:
        names = sorted({p.name for root in (base, head) for p in (root / folder).glob("*.csv")})
        for name in names:
            sheet = Path(name).stem
            key = schema_key(head / SCHEMAS / f"{sheet}.schema.yaml") or schema_key(
                base / SCHEMAS / f"{sheet}.schema.yaml"
            )
            found = sheet_changes(
                (folder / name).as_posix(),
                read_rows(base / folder / name),
                read_rows(head / folder / name),
                key,
            )
            if found.rows or found.columns_added or found.columns_removed:
                changes.append(found)
    return changes


def source_changes(base: Path, head: Path) -> list[str]:
    """The source files (code, configuration, manuscript) that differ in content or exist on one side only."""

    def digests(root: Path) -> dict[str, str]:
        files = {
            path
            for pattern in SOURCES
            for path in root.glob(pattern)
            if path.is_file() and "__pycache__" not in path.parts
        }
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    old, new = digests(base), digests(head)
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


@dataclass(frozen=True)
class Changes:
    values: list[ValueChange]
    quotes: list[Quote]
    tables: list[TableChanges]
    numbers: dict[str, int]
    claims: list[ClaimChange]
    inputs: list[SheetChanges]
    sources: list[str]


def compare(base: Path, head: Path) -> Changes:
    """Everything the report lists, between the builds in ``base`` and ``head``."""
    old_registry, new_registry = read_registry(base), read_registry(head)
    values = value_changes(old_registry, new_registry)

    def displays(registry: Mapping[str, dict]) -> dict[str, str]:
        return {key: str(entry.get("display")) for key, entry in registry.items()}

    def display(entry: Mapping[str, object] | None) -> str | None:
        return None if entry is None else str(entry.get("display"))

    changed = {change.key: (display(change.old), display(change.new)) for change in values}
    removed = {key: pair for key, pair in changed.items() if pair[1] is None}
    # The head's text quotes the head's values; a removed value is quoted, if anywhere, by the base's text.
    quotes = quoting_sentences(head / MANUSCRIPT, displays(new_registry), changed)
    quotes += quoting_sentences(base / MANUSCRIPT, displays(old_registry), removed) if removed else []
    tables, claims = [], []
    for name in sorted({p.stem for root in (base, head) for p in (root / TABLES).glob("*.md")}):
        old_path, new_path = base / TABLES / f"{name}.md", head / TABLES / f"{name}.md"
        if not (old_path.is_file() and new_path.is_file()):
            tables.append(TableChanges(name, whole="added" if new_path.is_file() else "removed"))
        elif name == LEDGER:
            claims = ledger_changes(read_table(old_path), read_table(new_path), old_path, new_path)
        elif found := table_changes(name, read_table(old_path), read_table(new_path)):
            tables.append(found)
    return Changes(
        values,
        quotes,
        tables,
        table_numbers(head / MANUSCRIPT),
        claims,
        input_changes(base, head),
        source_changes(base, head),
    )
