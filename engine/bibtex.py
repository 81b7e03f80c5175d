"""The syntax of a BibTeX file, checked before any job so that a malformed entry stops the build at once.

Pandoc reads the bibliography only when the paper is rendered, the last job of a build, and a brace left
open makes it report the entry after the broken one. :func:`syntax_problems` reads the file as Pandoc's
BibTeX reader does (entries ``@type{key, field = value, ...}``, values in braces, in quotes, numbers or
macro names joined by ``#``, ``@string``, ``@preamble`` and ``@comment``, ``%`` comments between entries)
and names the entry, the field and the line where the syntax breaks.

A value in braces may span lines and hold an ``@``; one that reaches a line starting a new entry
(``@type{``) is taken as unclosed, which is what a missing brace almost always is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[^\s\"#%'(),={}]+")
_ENTRY_START = re.compile(r"\n[ \t]*@[A-Za-z]+[ \t]*[{(]")
_SPACE = re.compile(r"(?:\s+|%[^\n]*)*")
# Most entries have only fields in braces without braces inside, or numbers: one match reads such an entry
# (a bibliography of 100,000 entries in a second); any other entry is read piece by piece.
_SIMPLE_ENTRY = re.compile(r"@[A-Za-z]+\{[^\s\"#%'(),={}]+,(?:\s*[A-Za-z][\w-]*\s*=\s*(?:\{[^{}]*\}|[0-9]+)\s*,)*\s*\}")


@dataclass(frozen=True)
class SyntaxProblem:
    """Where the file breaks the syntax: the line (1-based) and what is wrong (naming the entry's key)."""

    line: int
    what: str


class _Broken(Exception):
    def __init__(self, position: int, what: str):
        super().__init__(what)
        self.position, self.what = position, what


_BRACE = re.compile(r"[{}]")
_QUOTE_OR_BRACE = re.compile(r'[{"]')


class _Reader:
    """A cursor over the file's text; each method reads one piece of the syntax or raises _Broken."""

    def __init__(self, text: str):
        self.text = text
        self.at = 0
        self.next_entry: int | None = None  # where the entry after the one being read starts

    def start_entry(self, at: int) -> None:
        self.at = at
        following = _ENTRY_START.search(self.text, at)
        self.next_entry = following.start() if following else None

    def line(self, position: int) -> int:
        return self.text.count("\n", 0, position) + 1

    def _found(self) -> str:
        return repr(self.text[self.at]) if self.at < len(self.text) else "the end of the file"

    def skip_space(self) -> None:
        self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.at : self.at + 1]

    def expect(self, characters: str, what: str) -> str:
        found = self.peek()
        if not found or found not in characters:
            raise _Broken(self.at, f"expected {what}, found {self._found()}")
        self.at += 1
        return found

    def name(self, what: str) -> str:
        self.skip_space()
        match = _NAME.match(self.text, self.at)
        if match is None:
            raise _Broken(self.at, f"expected {what}, found {self._found()}")
        self.at = match.end()
        return match[0]

    def _limit(self) -> tuple[int, str]:
        """Where a value must end at the latest (the next entry, else the end) and how to name that place."""
        if self.next_entry is None:
            return len(self.text), "the end of the file"
        return self.next_entry, f"the next entry (line {self.line(self.next_entry + 1)})"

    def braced(self) -> None:
        """From just after an opening brace to just after the brace that closes it."""
        opened, depth = self.at - 1, 1
        limit, where = self._limit()
        while depth:
            found = _BRACE.search(self.text, self.at, limit)
            if found is None:
                raise _Broken(opened, f"the brace opened on line {self.line(opened)} does not close before {where}")
            depth += 1 if found[0] == "{" else -1
            self.at = found.end()

    def quoted(self) -> None:
        """From just after an opening quote to just after the closing one (braces inside may hold quotes)."""
        opened = self.at - 1
        limit, where = self._limit()
        while True:
            found = _QUOTE_OR_BRACE.search(self.text, self.at, limit)
            if found is None:
                raise _Broken(opened, f"the quote opened on line {self.line(opened)} does not close before {where}")
            self.at = found.end()
            if found[0] == '"':
                return
            self.braced()

    def value(self) -> None:
        """A field's value: pieces in braces, in quotes, numbers or macro names, joined by #."""
        while True:
            first = self.peek()
            self.at += first in ("{", '"')
            if first == "{":
                self.braced()
            elif first == '"':
                self.quoted()
            else:
                self.name("a value in braces, in quotes, a number or a macro name")
            if self.peek() != "#":
                return
            self.at += 1


def _entry(reader: _Reader) -> str | None:
    """Read one entry from just after its @; returns its key (None for @string, @preamble, @comment).

    A problem is raised as _Broken, its text naming the entry's key once it is read.
    """
    kind = reader.name("an entry type after @").lower()
    close = {"{": "}", "(": ")"}[reader.expect("{(", f"'{{' after @{kind}")]
    if kind == "comment":
        if close == "}":
            reader.braced()
        else:
            reader.value()
        return None
    if kind in ("string", "preamble"):
        if kind == "string":
            reader.name("a macro name")
            reader.expect("=", "'=' after the macro name")
        reader.value()
        reader.expect(close, f"{close!r} closing the @{kind}")
        return None
    key = reader.name("the entry's key")
    after, field_at = "the key", reader.at
    value_end = reader.at
    try:
        while reader.expect("," + close, f"',' or {close!r} after {after}") == ",":
            if reader.peek() == close:
                reader.at += 1
                break
            field_at = reader.at
            field = reader.name("a field name or the entry's closing brace")
            after = f"field {field!r}"
            reader.expect("=", f"'=' after the field name {field!r}")
            reader.value()
            value_end = reader.at
    except _Broken as broken:
        if (
            reader.text.startswith("@", broken.position)
            and after != "the key"
            and _alone_on_its_line(reader, value_end - 1)
        ):
            # The entry's closing brace, alone on its line, closed a value instead: a brace in it is left open.
            raise _Broken(
                field_at,
                f"entry {key}: {after} has a '{{' that does not close, so its value runs on "
                f"to the next entry (line {reader.line(broken.position)})",
            ) from None
        if reader.text.startswith("@", broken.position):
            raise _Broken(
                broken.position, f"entry {key} is not closed: {close!r} missing before the next entry"
            ) from None
        raise _Broken(broken.position, f"entry {key}: {broken.what}") from None
    return key


def _alone_on_its_line(reader: _Reader, position: int) -> bool:
    line_start = reader.text.rfind("\n", 0, position) + 1
    return not reader.text[line_start:position].strip()


def syntax_problems(text: str) -> list[SyntaxProblem]:
    """Every entry of ``text`` that breaks the BibTeX syntax, with its line; reading resumes at the next entry."""
    reader = _Reader(text)
    problems = []
    while (start := text.find("@", reader.at)) != -1:
        line_start = text.rfind("\n", 0, start) + 1
        if "%" in text[line_start:start]:  # an @ in a comment line
            end = text.find("\n", start)
            reader.at = len(text) if end == -1 else end
            continue
        simple = _SIMPLE_ENTRY.match(text, start)
        if simple:
            reader.at = simple.end()
            continue
        reader.start_entry(start + 1)
        try:
            _entry(reader)
        except _Broken as broken:
            problems.append(SyntaxProblem(reader.line(broken.position), broken.what))
            following = _ENTRY_START.search(text, broken.position)
            reader.at = following.start() + 1 if following else len(text)
    return problems
