"""manuscript/references.bib: the review's 28 references, in its numbering, plus the review itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIB = REPO / "manuscript" / "references.bib"
SOURCE = Path(__file__).resolve().parents[3] / "shared" / "sources" / (
    "review-gao-jin-2022-ivig-livedoid-vasculopathy.txt"
)

# Reference n of the review is KEYS[n - 1].
KEYS = [
    "polo2014", "micieli2018", "galeotti2017", "stangel2006", "scarpone2020", "monshi2014",
    "ravat2002", "levy1999", "page2021", "weishaupt2019", "amital2000", "schanz2003",
    "kreuter2004", "pitarch2005", "tuchinda2011", "bounfour2013", "kim2015", "vieira2016",
    "yoshioka2018", "ozden2020", "dinescu2020", "kofler2021", "takahagi2021", "malaguti2015",
    "gelfand2012", "pierangeli2001", "guo2018", "katz2005",
]


def _read_braced(text: str, i: int) -> tuple[str, int]:
    """text[i] is '{'; return the content up to its matching '}' and the index after it."""
    depth, start = 0, i
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    raise ValueError("unbalanced braces")


def parse_bib(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """A tiny BibTeX reader: (entry type, key, fields), in file order; enough for this file."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("%"))
    entries = []
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        body, _ = _read_braced(text, text.index("{", match.start()))
        fields: dict[str, str] = {}
        i = len(body[: body.index(",")]) + 1
        while True:
            m = re.compile(r"\s*,?\s*(\w+)\s*=\s*").match(body, i)
            if not m:
                break
            name, i = m.group(1).lower(), m.end()
            if body[i] == "{":
                value, i = _read_braced(body, i)
            elif body[i] == '"':
                end = body.index('"', i + 1)
                value, i = body[i + 1:end], end + 1
            else:
                m2 = re.compile(r"[^,}\s]+").match(body, i)
                value, i = m2.group(0), m2.end()
            assert name not in fields, f"{match.group(2)}: duplicate field {name}"
            fields[name] = value
        entries.append((match.group(1).lower(), match.group(2), fields))
    return entries


@pytest.fixture(scope="module")
def entries():
    return parse_bib(BIB.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def by_key(entries):
    return {key: fields for _, key, fields in entries}


# Methods references of the rebuild itself (the statistics the review did not use), after the review's own.
REBUILD_KEYS = ["stijnen2010", "miller1978", "schwarzer2019", "higgins2009", "self1987"]


def test_all_keys_present_once(entries):
    keys = [key for _, key, _ in entries]
    assert len(keys) == len(set(keys)) == 29 + len(REBUILD_KEYS)
    assert set(keys) == set(KEYS) | {"gao2022"} | set(REBUILD_KEYS)


def test_reference_numbers_map_to_keys_in_order(entries):
    assert [key for _, key, _ in entries][:28] == KEYS
    assert entries[28][1] == "gao2022"


def test_required_fields(entries):
    for _, key, fields in entries:
        for name in ("author", "title", "year", "journal", "volume", "pages"):
            assert fields.get(name, "").strip(), (key, name)
        assert re.fullmatch(r"(19|20)\d\d", fields["year"]), key
        assert key.endswith(fields["year"]), key


def test_review_entry(by_key):
    gao = by_key["gao2022"]
    assert gao["doi"] == "10.1177/20406223221097331"
    assert (gao["journal"], gao["year"], gao["volume"], gao["pages"]) == ("Ther Adv Chronic Dis", "2022", "13", "1--13")
    assert gao["author"] == "Gao, Yimeng and Jin, Hongzhong"


def test_non_ascii_names_kept(by_key):
    assert "Strölin, A." in by_key["kofler2021"]["author"]
    assert "Şenturk, N." in by_key["ozden2020"]["author"]
    assert "Bézier, M." in by_key["bounfour2013"]["author"]
    assert "Polo Gascón, M. R." in by_key["polo2014"]["author"]


def _as_listed(author_field: str) -> str:
    """'Polo Gascón, M. R. and ... and others' -> 'Polo Gascón MR, ..., *et al.*' as the review lists them."""
    names = [a.strip() for a in author_field.split(" and ")]
    others = names[-1] == "others"
    names = names[:-1] if others else names
    listed = []
    for name in names:
        last, initials = (part.strip() for part in name.split(","))
        listed.append(f"{last} {initials.replace('.', '').replace(' ', '')}")
    if others:
        return ", ".join(listed) + ", *et al.*"
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


@pytest.mark.skipif(not SOURCE.exists(), reason="review text not available next to the clone")
def test_entries_transcribe_the_reference_list(by_key):
    text = SOURCE.read_text(encoding="utf-8")
    references = text[text.rindex("\nReferences\n"):]
    lines = {int(m.group(1)): m.group(0) for m in re.finditer(r"(?m)^(\d+)\. .+$", references)}
    assert sorted(lines) == list(range(1, 29))
    for number, key in enumerate(KEYS, start=1):
        fields, line = by_key[key], lines[number]
        title = fields["title"].replace("{", "").replace("}", "")
        authors = _as_listed(fields["author"])
        authors += " " if authors.endswith("*et al.*") else ". "  # "al." already ends the list
        assert line.startswith(f"{number}. {authors}{title}."), (key, line)
        issue = f"({fields['number']})" if "number" in fields else ""
        pages = fields["pages"].replace("--", "–")
        tail = f"*{fields['journal']}* {fields['year']}; {fields['volume']}{issue}: {pages}."
        assert line.endswith(tail), (key, tail, line)
