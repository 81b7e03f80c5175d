"""The engine holds no name of the review this repository builds first: whatever is Gao & Jin's (IVIG,
livedoid vasculopathy, its dose groups, its primary-report sheet, study 14, its drug list, its tables) is
in config/review.yaml and the plug-ins of scripts/, so that another review needs none of it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

ENGINE = REPO / "engine"
# Words that only the Gao & Jin review uses; each was in the engine before it was made general.
REVIEW_WORDS = re.compile(
    r"\b(IVIG|IVIg|livedoid|LV|vasculopathy|Scarpone|scarpone2020|Gao|Jin|study 14|PRIMARY_STUDY_ID|dose[-_ ]?groups?"
    r"|headache|thrombophil\w*|anticoagula\w*|antithrombotic|responders?|demographics|comorbidit\w*|"
    r"regimens?|ivig-lv)\b", re.IGNORECASE)


def study_authors() -> set[str]:
    """The first authors of the review's studies: no engine file needs one either."""
    import csv

    with open(REPO / "data" / "raw" / "studies.csv", newline="", encoding="utf-8") as handle:
        return {row["first_author"] for row in csv.DictReader(handle)}


def engine_files() -> list:
    folders = (ENGINE, REPO / "_extensions")
    return sorted(path for folder in folders for path in folder.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts)


@pytest.mark.parametrize("path", engine_files(), ids=lambda path: path.relative_to(REPO).as_posix())
def test_no_engine_file_names_the_review(path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = sorted({match.group(0) for match in REVIEW_WORDS.finditer(text)})
    found += sorted(author for author in study_authors() if re.search(rf"\b{re.escape(author)}\b", text))
    assert found == [], f"{path.relative_to(REPO)} names the review: {', '.join(found)}"


def test_the_check_finds_a_review_name() -> None:
    # The pattern must catch what it is for, or the test above proves nothing.
    for text in ("IVIG dose", "PRIMARY_STUDY_ID = 14", "High-dose group", "LV patients", "Responders / patients"):
        assert REVIEW_WORDS.search(text), text


def test_the_layout_shows_engine_review_and_paper() -> None:
    assert (REPO / "engine" / "schemas" / "review.schema.yaml").is_file()
    assert (REPO / "config" / "review.yaml").is_file()
    assert (REPO / "manuscript" / "index.qmd").is_file()
    # Every module of scripts/ is this review's: the manifest names it, or a plug-in it names imports it.
    from engine.manifest import load_review
    from engine.sources import python_sources

    review = load_review(REPO / "config" / "review.yaml")
    references = [rule["function"] for rule in review.rules if rule["check"] == "plugin"]
    references += list(review.values.get("plugins", []))
    references += [spec["plugin"] for spec in [*review.tables.values(), *review.figures.values()] if "plugin" in spec]
    references += list(review.analysis_plugins)
    used = set(python_sources([reference.partition(":")[0] for reference in references], [REPO],
                              relative_to=REPO))
    assert {p.relative_to(REPO).as_posix() for p in (REPO / "scripts").glob("*.py")} <= used | {"scripts/__init__.py"}
