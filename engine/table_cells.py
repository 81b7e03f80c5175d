"""A built table read back into its cells: the HTML block of a ``results/tables/<name>.md`` include.

engine/tables.py writes each table as a Markdown include holding a great-tables HTML block (and a Typst
one). This module reads the HTML block back: column labels in column order (a label under a spanner is
"Spanner: Label"), one :class:`Row` per body row with its row group, and the source notes. engine/changes.py
compares two builds' tables with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup, Tag

HTML_BLOCK_OPEN = "```{=html}\n"


class TableReadError(ValueError):
    """The file holds no great-tables table that can be read back."""


@dataclass(frozen=True)
class Row:
    group: str | None  # the row group heading above the row (a subgroup's label), if any
    cells: tuple[str, ...]  # in column order


@dataclass(frozen=True)
class Table:
    labels: tuple[str, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...]

    def column(self, label: str) -> int:
        """The index of the column labelled ``label``."""
        return self.labels.index(label)


def _html_block(text: str, path: Path) -> str:
    start = text.find(HTML_BLOCK_OPEN)
    end = text.find("\n```", start + len(HTML_BLOCK_OPEN)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise TableReadError(f"{path}: no ```{{=html}} block (engine/tables.py writes one per table)")
    return text[start + len(HTML_BLOCK_OPEN) : end]


def _text(tag: Tag) -> str:
    return tag.get_text(" ", strip=True)


def read_table(path: Path) -> Table:
    """The table of the include file ``path``."""
    soup = BeautifulSoup(_html_block(path.read_text(encoding="utf-8"), path), "lxml")
    table = soup.find("table", class_="gt_table")
    if table is None or table.find("tbody") is None:
        raise TableReadError(
            f"{path}: the HTML block holds no great-tables table (table.gt_table with a body)"
        )
    headings = {th.get("id"): _text(th) for th in table.find_all("th", class_="gt_col_heading")}
    spanners = {
        th.get("id"): _text(th)
        for th in table.find_all("th", class_="gt_column_spanner_outer")
        if th.get("id")
    }
    labels: list[str] | None = None
    rows: list[Row] = []
    group = None
    for tr in table.find("tbody").find_all("tr"):
        heading = tr.find("th", class_="gt_group_heading")
        if heading is not None:
            group = _text(heading)
            continue
        cells = tr.find_all("td", class_="gt_row")
        # Each cell names its column's heading (and spanner) in `headers`: the labels in column order.
        row_labels = []
        for td in cells:
            ids = td.get("headers", [])
            ids = ids.split() if isinstance(ids, str) else ids
            label = next((headings[i] for i in reversed(ids) if i in headings), None)
            spanner = next((spanners[i] for i in ids if i in spanners), None)
            if label is None:
                raise TableReadError(f"{path}: a cell of row {len(rows) + 1} names no column heading")
            row_labels.append(f"{spanner}: {label}" if spanner else label)
        if labels is None:
            labels = row_labels
        elif row_labels != labels:
            raise TableReadError(
                f"{path}: row {len(rows) + 1} has columns {row_labels}, the first row {labels}"
            )
        rows.append(Row(group, tuple(_text(td) for td in cells)))
    notes = tuple(_text(td) for td in table.find_all("td", class_="gt_sourcenote"))
    return Table(tuple(labels if labels is not None else headings.values()), tuple(rows), notes)
