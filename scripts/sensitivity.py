"""This review's sensitivity analyses that count its data otherwise (``derive`` plug-ins of config/review.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas

# Responders whom Table 2 counts although they responded only when IVIG was given again years later, per
# study: Monshi's footnote a ("1 refractory patient successfully retreated after 6 years with 7 cycles").
RETREATED = {9: 1}


def responders_first_course(rows: pandas.DataFrame, sheets: Mapping[str, pandas.DataFrame]) -> pandas.Series:
    """The responders of each study with the retreated patients counted as non-responders."""
    notes = sheets["outcomes"].set_index("study_id")["note"].fillna("")
    for study, _ in RETREATED.items():
        if "retreated" not in str(notes.get(study, "")):
            raise ValueError(f"data/raw/outcomes.csv, study_id {study}, column note: scripts/sensitivity.py counts "
                             "a retreated responder there, but the note no longer says so; update RETREATED")
    return rows["events"] - rows["study_id"].map(RETREATED).fillna(0).astype(int)
