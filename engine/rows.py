"""The rows a review's analyses and tables read: one per study (the outcome's), or one per row of another
sheet labelled by its study, with ``events`` and ``total`` from the columns the manifest names.

Rows whose events or total are not reported cannot be pooled: :func:`analysis_rows` leaves them out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

    from engine.manifest import Review

_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def missing(value: object) -> bool:
    return value is None or value != value or str(value) in ("", "NA", "<NA>")


def format_label(template: str, row: Mapping[str, Any]) -> str:
    """A study label from the manifest's format ("{first_author} {year}"); a missing field is left out."""
    def field(match: re.Match[str]) -> str:
        value = row.get(match.group(1))
        if missing(value):
            return ""
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    return " ".join(_FIELD.sub(field, template).split())


def _study_frame(review: Review, sheets: Mapping[str, pandas.DataFrame]) -> pandas.DataFrame:
    """The key sheet joined, one row per study, with every other sheet that has one row per key."""
    key_sheet, key = review.outcome["key"].split(".")
    frame = sheets[key_sheet]
    wanted = {review.outcome[part].split(".")[0] for part in ("events", "total")} - {key_sheet}
    for name in sorted(wanted):
        other = sheets[name]
        frame = frame.merge(other, on=key, how="left", suffixes=("", f"_{name}"), validate="one_to_one")
    return frame


def outcome_rows(review: Review, sheets: Mapping[str, pandas.DataFrame]) -> pandas.DataFrame:
    """One row per study: every column of its sheets, plus ``key``, ``label``, ``events`` and ``total``."""
    frame = _study_frame(review, sheets)
    key_sheet, key = review.outcome["key"].split(".")

    def column(reference: str) -> pandas.Series:
        # A column another sheet shares with the key sheet carries that sheet's suffix after the merge.
        sheet, name = reference.split(".")
        return frame[f"{name}_{sheet}" if sheet != key_sheet and f"{name}_{sheet}" in frame.columns else name]

    return frame.assign(
        key=frame[key],
        label=[format_label(review.outcome["label"], row) for row in frame.to_dict("records")],
        events=column(review.outcome["events"]).astype("Int64"),
        total=column(review.outcome["total"]).astype("Int64"),
    )


def _pooled(rows: pandas.DataFrame) -> pandas.DataFrame:
    """The rows that can be pooled: events and total both reported."""
    usable = rows[rows["events"].notna() & rows["total"].notna()]
    return usable.assign(events=usable["events"].astype(int), total=usable["total"].astype(int))


def analysis_rows(review: Review, sheets: Mapping[str, pandas.DataFrame], spec: Mapping[str, Any]) -> pandas.DataFrame:
    """The rows of one analysis: the outcome's, or those of ``spec["rows"]`` labelled by their study; filtered."""
    from engine.manifest import Where

    studies = outcome_rows(review, sheets)
    source = spec.get("rows")
    if source is None:
        rows = studies
    else:
        key = review.outcome["key"].split(".")[1]
        other = Where(source.get("where", {})).apply(sheets[source["sheet"]])
        rows = other.merge(studies[[key, "label"]], on=key, how="left").assign(
            events=other[source["events"]].astype("Int64").to_numpy(),
            total=other[source["total"]].astype("Int64").to_numpy())
    for column, plugin in spec.get("derive", {}).items():
        rows = rows.assign(**{column: review.plugin(plugin)(rows, sheets).to_numpy()})
    rows = Where(spec.get("where", {})).apply(rows)
    if "levels" in spec:
        rows = rows[rows[spec["by"]].isin(list(spec["levels"]))]
        rows = rows.assign(subgroup=rows[spec["by"]].map(spec["levels"]))
    return _pooled(rows).reset_index(drop=True)
