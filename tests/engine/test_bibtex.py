"""The gate's BibTeX check (engine/bibtex.py) refuses what Pandoc refuses, and says where.

Pandoc, which reads the bibliography in the render, is the reference: each variant of an entry below is
given to both, and the check must flag exactly the variants Pandoc cannot read.
"""

from __future__ import annotations

import subprocess

import pytest

from engine.bibtex import syntax_problems
from engine.render import pandoc_executable
from tests.conftest import BIB

GOOD = """% a comment line with an address: someone@example.org
@article{one2020,
  author = {One, A. and Two, B.},
  title  = {A {IVIG} title with "quotes" and an @ sign},
  year   = 2020,
  note   = "in quotes, {with braces}" # { and a join},
}

@string{jad = {J Am Acad Dermatol}}
@article{two2021, journal = jad, title = {No trailing comma}, year = {2021}}
@comment{anything {nested} here}
"""

# (name, the text, what the check must say): each breaks one entry of GOOD.
BROKEN = (
    ("comma_missing_between_fields", GOOD.replace("B.},\n", "B.}\n"), (4, "expected ',' or '}' after field 'author'")),
    ("brace_left_open", GOOD.replace("{IVIG} title", "{IVIG title"),
     (4, "entry one2020: field 'title' has a '{' that does not close")),
    ("comma_missing_after_the_key", GOOD.replace("{one2020,", "{one2020"), (3, "after the key")),
    ("quote_left_open", GOOD.replace('{with braces}"', "{with braces}"), (6, "the quote opened on line 6 does not close")),
    ("equals_sign_missing", GOOD.replace("year   = 2020", "year   2020"), (5, "'=' after the field name 'year'")),
    ("entry_not_closed", GOOD.replace("year = {2021}}", "year = {2021}"),
     (11, "entry two2021 is not closed: '}' missing before the next entry")),
)


def pandoc_reads(text: str, tmp_path) -> bool:
    path = tmp_path / "refs.bib"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run([pandoc_executable(), str(path), "--to", "csljson"], capture_output=True, check=False)
    return result.returncode == 0


def test_pandoc_and_the_check_read_the_good_file(tmp_path) -> None:
    assert pandoc_reads(GOOD, tmp_path)
    assert syntax_problems(GOOD) == []


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_what_pandoc_refuses_is_named_at_its_entry(text: str, expected: tuple[int, str], tmp_path) -> None:
    assert not pandoc_reads(text, tmp_path)
    problems = syntax_problems(text)
    assert len(problems) == 1, problems
    line, fragment = expected
    assert problems[0].line == line and fragment in problems[0].what, problems[0]


def test_the_projects_bibliography_is_well_formed() -> None:
    assert syntax_problems(BIB.read_text(encoding="utf-8")) == []


def test_reading_resumes_at_the_next_entry() -> None:
    text = GOOD.replace("B.},\n", "B.}\n") + "@article{three2022, title = {Broken again} year = {2022}}\n"
    assert [problem.line for problem in syntax_problems(text)] == [4, 12]
