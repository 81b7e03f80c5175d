"""Plug-in of this review for validation: the dose-group ids of data/raw/dose_groups.csv.

Its own module, importing only the engine's sheet reader: the validate_sheet jobs run it, and a job reruns
when any module it imports changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.sheets import Problem, Sheet

GROUP_SUFFIX = {"high": "high", "low": "low", "not_grouped": "none"}


def group_id_problems(sheet: Sheet, others: Mapping[str, Sheet | None]) -> Iterable[Problem]:
    """A group id reads "<study_id>-<high|low|none>", matching its row's study and dose group."""
    for row, number in zip(sheet.rows, sheet.row_numbers):
        group_id, study_id = row.get("group_id"), row.get("study_id")
        suffix = GROUP_SUFFIX.get(row.get("dose_group"))
        if isinstance(group_id, str) and suffix and group_id != f"{study_id}-{suffix}":
            yield Problem(str(sheet.path), number, "group_id", group_id,
                          f"group_id must be '<study_id>-<high|low|none>' matching study_id and dose_group"
                          f" ({study_id}-{suffix})")
