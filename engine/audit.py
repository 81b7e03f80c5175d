"""Audit every number in the rendered paper: each one is computed, quoted, generated or data.

Usage::

    python -m engine.audit --html _manuscript/index.html [--pdf _manuscript/index.pdf] \
        --registry results/values.yml [--raw-dir data/raw]

It prints how many numbers of each kind it found and exits 1 listing every problem with its sentence.

**Numbers.** A numeric token is a run of digits with its decimals, thousands commas and percent sign, and
ranges and ratios joined by a dash, slash or colon: ``17``, ``46.2``, ``95%``, ``2–2.1``, ``76/80``,
``1:2.43``. Tokens are found text node by text node of the visible body (front matter, abstract, prose,
headings, lists, captions, tables), so a digit inside a word is found too (``inhibitor-1``, ``PGE1``; the
manuscript writes ``β[2]{.lit}-GPI``) and a digit typed right next to a value span is a token of its own.
Not numeric tokens: superscript and subscript digits (in this text they are notation, ``τ²``, ``I²``,
``χ²``; a power like ``10⁶`` still shows its base), Roman numerals, and numbers spelt out in words, which
the report lists as notes without failing. Attributes (``title``, ``alt``, ``aria-label``) are not text:
an image's alt text repeats its caption, which is audited; ``<style>`` and ``<script>`` are not text either.

**Kinds.** The innermost mark around a token decides its kind:

==============  ==================================================================================
``bound``       inside ``span.value``: a registry value (its whole text is checked, see below)
``literal``     inside ``span.lit``: a fact quoted from the literature, marked by the author
``structure``   written by the render, not by the author: cross-reference link text, section and
                table-of-contents numbers, caption prefixes ("Figure 1:"), the citation links (a
                locator typed inside a citation, "p. 33", is *not* exempt), the bibliography
                (``div#refs``), footnote and affiliation marks, and the date and build stamp of the
                title block
``table``       inside a great-tables ``table.gt_table`` (cells, column labels, row groups, notes):
                the table test compares these with data/raw cell by cell. A caption or title *inside*
                the table is prose again, and so is the table's ``figcaption``
``path``        an inline ``<code>`` that is a file path as a whole (``data/raw/prisma.csv``): a digit
                in a file name names a file and states nothing. Any other code span is prose
``figure``      text of an inline ``<svg>``: drawn by the figure rules from the validated sheets, so
                data, not prose. Figures embedded as images (``<img src="data:…">``, as the render
                writes them) hold no HTML text at all, so nothing of theirs is seen here
``unmarked``    anything else: a number typed by hand. Every one fails the audit
==============  ==================================================================================

**Literals carry their source.** A ``span.lit`` must say where its number comes from, in one of three ways:
``data-claim`` (``[75]{.lit claim=efficacy_responded_well}``), a row of the review's claims ledger whose
printed number holds it; ``data-source`` (``[2022]{.lit source="journal year"}``), the source in words; or a
citation (``span.citation``) in the same sentence. The report lists the literals by source, and the audit fails
on a literal with none (``unsourced-literal``), on a claim id the ledger does not have or whose printed number
does not hold the literal (``unknown-claim``), on a literal citing a claim the registry reproduces
(``computed-literal``: bind the registry key instead; a claim only transcribed into the sheets may stay literal) and on a literal sourced by a citation or in words whose
number, as the text reads it, equals a registry display (``computed-literal``). The one exemption is a
``data-source`` of :data:`IDENTIFIERS` (a table number, a date, a name, a constant of a formula): identifiers
state no quantity.

**Values.** The text of every ``span.value`` must equal the display of its key (whitespace collapsed): an
unknown key and a stale display both fail. The CLI compares with the written registry (``--registry``)
and, given ``--manifest``, also with :func:`engine.recompute.fresh_displays`, which recomputes the displays from the raw
sheets the way the pipeline's rules do, without reading ``results/``.

**PDF.** The PDF carries no markup, so its check can only count strings in pypdf's text: every bound
display and every literal must occur in the PDF text, as a whole token, at least as often as in the HTML's
audited text. The limits: it cannot tell which occurrence is which, so a lost number is caught only when no
other occurrence of the same string (a table cell, a figure label, a page number) makes up the count,
which makes it weak for short numbers such as "1"; figure text drawn into the PDF (the HTML has it only as
an image) and page numbers can only raise the PDF's counts; a number the HTML never shows whole (the
"1" of "inhibitor-1") cannot be counted and is left out; text only in the PDF (a raw Typst block) is never
audited; and extraction follows pypdf's reading order, so line breaks are joined back
(hyphenation; breaks after dashes and slashes) before counting.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import lxml.html

from engine.values import read_displays

Kind = Literal["bound", "literal", "structure", "table", "path", "figure", "unmarked"]
KINDS: tuple[Kind, ...] = ("bound", "literal", "structure", "table", "path", "figure", "unmarked")

# Vulgar fractions are numbers too, though not Unicode decimals. Superscript and subscript digits are not:
# in this text they are notation (τ², I², χ²); a power such as 10⁶ still shows its base 10.
_DIGIT = r"(?:\d|[\u00bc-\u00be\u2150-\u215f])"
_NUMBER = rf"{_DIGIT}+(?:,\d{{3}}(?!\d))*(?:\.\d+)?%?"
# A sign counts only where it cannot be a word's hyphen ("inhibitor-1" is the number 1).
_SIGN = r"(?:(?<![\w.])[-−+])?"
NUMERIC_TOKEN = re.compile(rf"{_SIGN}{_NUMBER}(?:[–—\-/:]{_NUMBER})*")

# Cardinals from two up: "one", "first" and "once" are too often not counts to be worth listing.
_NUMBER_WORDS = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    r"|dozen)\b", re.IGNORECASE)

# Inline elements do not end a sentence's block; any other element does.
_INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "del", "dfn", "em", "i",
                     "img", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup",
                     "time", "u", "var", "wbr"})
_INVISIBLE = frozenset({"script", "style", "template"})
# A letter somewhere, and either a folder separator or a file extension: "76/80" and "3.5" are not paths.
_FILE_PATH = re.compile(r"^(?=.*[A-Za-z])(?:(?:[\w.-]+/)+[\w.-]*|[\w-]+(?:\.[A-Za-z][A-Za-z0-9]{0,5})+)$")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_WHITESPACE = re.compile(r"\s+")


@dataclasses.dataclass(frozen=True)
class Token:
    """One number of the rendered text."""

    text: str
    kind: Kind
    sentence: str  # the sentence (or table cell, heading, caption) around it, whitespace collapsed
    word: str  # the whitespace-delimited word holding it: "PGE1" for the token "1"
    where: str  # "sec-results p", "tbl-studies row 9 tbl-studies-gt-c3", ...
    reads: str  # the number as the text reads it across marks: "80%" for the literal "80" before "%"
    key: str | None = None  # the registry key of a bound token


# Sources that name an identifier (the review's table numbering, a date, a title, a formula's constant), not a
# quantity: the only
# literals not compared with the registry.
IDENTIFIERS = frozenset({"numbering", "date", "name", "formula"})


@dataclasses.dataclass(frozen=True)
class Literal_:
    """One ``span.lit`` with the source it names."""

    text: str
    reads: str  # the number as the text reads it ("80%" for the literal "80" before "%")
    sentence: str
    claim: str  # data-claim, or ""
    source: str  # data-source, or ""
    citations: tuple[str, ...]  # citation keys in the same sentence

    @property
    def kind(self) -> str:
        """How it is sourced: "claim", "source", "citation" or "none"."""
        return "claim" if self.claim else "source" if self.source else "citation" if self.citations else "none"


@dataclasses.dataclass(frozen=True)
class ValueSpan:
    """One ``span.value`` of the HTML, with its displayed text."""

    key: str
    text: str
    sentence: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """One reason the audit fails."""

    rule: str  # unmarked | unknown-key | stale-value | pdf-missing | pdf-count
    message: str


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """What the audit saw (every number, every value span) and what fails it."""

    tokens: tuple[Token, ...]
    values: tuple[ValueSpan, ...]
    findings: tuple[Finding, ...]
    spelled: tuple[str, ...] = ()  # sentences with a number spelt out in words: shown, not failed
    literals: tuple[Literal_, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts(self) -> dict[Kind, int]:
        """Tokens per kind, every kind present (0 when none)."""
        found = Counter(token.kind for token in self.tokens)
        return {kind: found.get(kind, 0) for kind in KINDS}


# --- reading the HTML ------------------------------------------------------------------------------------


def _classes(element: lxml.html.HtmlElement) -> set[str]:
    return set((element.get("class") or "").split())


def _structure(element: lxml.html.HtmlElement) -> bool:
    """Elements whose numbers the render writes: numbering, citations, bibliography, marks, title-block data."""
    tag, classes = element.tag, _classes(element)
    return (
        (tag == "a" and ("quarto-xref" in classes or "footnote-ref" in classes or "footnote-back" in classes
                         or element.get("role") == "doc-biblioref"))
        or (tag == "span" and bool(classes & {"header-section-number", "toc-section-number",
                                              "quarto-float-caption-prefix"}))
        or (tag == "sup" and bool(classes & {"affiliation-marks", "affiliation-mark"}))
        or element.get("id") == "refs"
        or (tag == "p" and bool(classes & {"date", "build-stamp"}) and _in_title_block(element))
    )


def _in_title_block(element: lxml.html.HtmlElement) -> bool:
    return any(parent.get("id") == "title-block-header" for parent in element.iterancestors())


def _kind_of(element: lxml.html.HtmlElement, inherited: Kind, key: str | None) -> tuple[Kind, str | None]:
    """The kind of the text directly inside ``element``, given the kind around it; the innermost mark wins."""
    tag, classes = element.tag, _classes(element)
    if tag == "span" and "value" in classes:
        return "bound", element.get("data-key") or ""
    if tag == "span" and "lit" in classes:
        return "literal", None
    if tag == "svg":
        return "figure", None
    if tag == "table" and "gt_table" in classes:
        return "table", None
    if inherited == "table" and (tag == "caption" or classes & {"gt_heading", "gt_title", "gt_subtitle"}):
        return "unmarked", None
    if tag == "code" and _FILE_PATH.match(element.text_content().strip()):
        return "path", None
    if _structure(element):
        return "structure", None
    return inherited, key


@dataclasses.dataclass(frozen=True)
class _Piece:
    """A text node with what the walk knew about it."""

    text: str
    kind: Kind
    key: str | None
    mark: lxml.html.HtmlElement | None  # the element that gave the kind (the span.value of a bound piece)
    block: lxml.html.HtmlElement
    where: str
    parent: lxml.html.HtmlElement  # the element the text node is in


@dataclasses.dataclass(frozen=True)
class _Located:
    """A piece, the whole text of its block, and where in that text the piece starts."""

    piece: _Piece
    block_text: str
    offset: int

    def sentence(self, start: int, end: int) -> str:
        """The sentence around ``piece.text[start:end]``."""
        return _sentence(self.block_text, self.offset + start, self.offset + end)

    def word(self, start: int, end: int) -> str:
        return _word(self.block_text, self.offset + start, self.offset + end)

    def reads(self, start: int, end: int) -> str:
        """The numeric token of the block's text that holds ``piece.text[start:end]``."""
        start, end = self.offset + start, self.offset + end
        return next((m.group() for m in NUMERIC_TOKEN.finditer(self.block_text)
                     if m.start() <= start and end <= m.end()), self.block_text[start:end])


def _where(element: lxml.html.HtmlElement, block: lxml.html.HtmlElement) -> str:
    """A human-readable place: the nearest section, figure or table id, then the block (and a cell's row)."""
    anchor = next((e.get("id") for e in (element, *element.iterancestors())
                   if (e.get("id") or "").startswith(("sec-", "fig-", "tbl-", "title-block", "refs"))), "body")
    if block.tag in ("td", "th"):
        table = next(block.iterancestors("table"), None)
        rows = list(table.iter("tr")) if table is not None else []
        row = rows.index(block.getparent()) if block.getparent() in rows else -1
        return f"{anchor} row {row} {block.get('headers') or block.get('class') or block.tag}"
    return f"{anchor} {block.tag}"


def _walk(element: lxml.html.HtmlElement, kind: Kind, key: str | None, mark: lxml.html.HtmlElement | None,
          block: lxml.html.HtmlElement) -> Iterator[_Piece]:
    """Every visible text node under ``element`` in document order, with its kind and block."""
    if not isinstance(element.tag, str) or element.tag in _INVISIBLE:
        return
    marked = _kind_of(element, kind, key)
    if marked != (kind, key):
        (kind, key), mark = marked, element
    if element.tag not in _INLINE:
        block = element
    if element.text:
        yield _Piece(element.text, kind, key, mark, block, _where(element, block), element)
    for child in element:
        yield from _walk(child, kind, key, mark, block)
        if child.tail:
            yield _Piece(child.tail, kind, key, mark, block, _where(element, block), element)


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence of ``text`` that holds ``text[start:end]`` begins and ends."""
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = next((m.end() for m in _SENTENCE_END.finditer(text, end)), len(text))
    return begin, stop


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` that holds ``text[start:end]``, whitespace collapsed."""
    begin, stop = _sentence_bounds(text, start, end)
    return _normal(text[begin:stop])


def _citation_of(located: _Located) -> str:
    """The citation keys of the ``span.citation`` a text piece is inside, or ""."""
    for candidate in (located.piece.parent, *located.piece.parent.iterancestors()):
        if candidate.tag == "span" and "citation" in _classes(candidate):
            return candidate.get("data-cites") or "citation"
    return ""


def _word(text: str, start: int, end: int) -> str:
    """The whitespace-delimited word of ``text`` around ``text[start:end]``."""
    left = len(re.search(r"\S*\Z", text[:start]).group())
    right = len(re.match(r"\S*", text[end:]).group())
    return text[start - left:end + right]


def _normal(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _locate(body: lxml.html.HtmlElement) -> list[_Located]:
    """Every visible text piece of the body, with its block's text."""
    pieces = list(_walk(body, "unmarked", None, None, body))
    parts: dict[lxml.html.HtmlElement, list[str]] = {}
    offsets = []
    for piece in pieces:
        block_parts = parts.setdefault(piece.block, [])
        offsets.append(sum(map(len, block_parts)))
        block_parts.append(piece.text)
    texts = {block: "".join(block_parts) for block, block_parts in parts.items()}
    return [_Located(piece, texts[piece.block], offset) for piece, offset in zip(pieces, offsets, strict=True)]


class Rendered:
    """A rendered HTML page, parsed once: its visible text, piece by piece, classified."""

    def __init__(self, html: str) -> None:
        self.body = lxml.html.document_fromstring(html).body
        self.located = _locate(self.body)

    def tokens(self) -> list[Token]:
        """Every numeric token of the visible body text, classified, in document order."""
        return [Token(match.group(), located.piece.kind, located.sentence(match.start(), match.end()),
                      located.word(match.start(), match.end()), located.piece.where,
                      located.reads(match.start(), match.end()), located.piece.key)
                for located in self.located for match in NUMERIC_TOKEN.finditer(located.piece.text)]

    def values(self) -> list[ValueSpan]:
        """Every ``span.value`` with its key, its whole displayed text and its sentence."""
        sentences: dict[lxml.html.HtmlElement, str] = {}
        for located in self.located:
            if located.piece.kind == "bound" and located.piece.mark is not None:
                sentences.setdefault(located.piece.mark, located.sentence(0, len(located.piece.text)))
        return [ValueSpan(span.get("data-key") or "", _normal(span.text_content()), sentences.get(span, ""))
                for span in self.body.iter("span") if "value" in _classes(span)]

    def literals(self) -> list[Literal_]:
        """Every ``span.lit`` with its source: its attributes, or the citations of its sentence."""
        cited: dict[lxml.html.HtmlElement, list[tuple[int, str]]] = {}
        for located in self.located:
            citation = _citation_of(located)
            if citation:
                cited.setdefault(located.piece.block, []).append((located.offset, citation))
        found: list[Literal_] = []
        seen: set[lxml.html.HtmlElement] = set()
        for located in self.located:
            span = located.piece.mark
            if located.piece.kind != "literal" or span is None or span in seen:
                continue
            seen.add(span)
            text = _normal(span.text_content())
            begin, stop = _sentence_bounds(located.block_text, located.offset, located.offset + len(located.piece.text))
            keys = tuple(dict.fromkeys(key for offset, key in cited.get(located.piece.block, [])
                                       if begin <= offset < stop))
            match = next(NUMERIC_TOKEN.finditer(located.piece.text), None)
            reads = located.reads(match.start(), match.end()) if match else text
            found.append(Literal_(text, reads, located.sentence(0, len(located.piece.text)),
                                  span.get("data-claim") or "", span.get("data-source") or "", keys))
        return found

    def text(self) -> str:
        """The audited text, block by block, whitespace collapsed: what the PDF should hold too."""
        blocks = {located.piece.block: located.block_text for located in self.located}
        return _normal(" ".join(blocks.values()))

    def number_words(self) -> list[str]:
        """Sentences of the prose (not tables, bibliography or figures) that spell a number out in words."""
        found: dict[str, None] = {}
        for located in self.located:
            if located.piece.kind in ("unmarked", "bound", "literal"):
                for match in _NUMBER_WORDS.finditer(located.piece.text):
                    found.setdefault(f"{match.group()!r}: {located.sentence(match.start(), match.end())}")
        return list(found)


# --- the checks ------------------------------------------------------------------------------------------


def check_unmarked(tokens: Sequence[Token]) -> list[Finding]:
    """One finding per unmarked number, quoting its sentence."""
    return [Finding("unmarked", f"unmarked number {t.text!r}"
                                + (f" in {t.word!r}" if t.word != t.text else "")
                                + f" ({t.where}): {t.sentence}")
            for t in tokens if t.kind == "unmarked"]


def check_values(spans: Sequence[ValueSpan], displays: Mapping[str, str]) -> list[Finding]:
    """Each value span's key must be known and its text must be the key's display."""
    findings = []
    for span in spans:
        if span.key not in displays:
            findings.append(Finding("unknown-key", f"value span with unknown key {span.key!r} showing "
                                                   f"{span.text!r}: {span.sentence}"))
        elif _normal(span.text) != _normal(displays[span.key]):
            findings.append(Finding("stale-value", f"value {span.key!r} shows {span.text!r} but the data give "
                                                   f"{displays[span.key]!r}: {span.sentence}"))
    return findings


def check_literals(literals: Sequence[Literal_], displays: Mapping[str, str],
                   claims: Mapping[str, tuple[str, str, str]] | None) -> list[Finding]:
    """Each literal names its source; none states what the registry computes (see the module docstring).

    ``claims``: claim id -> (printed number, registry key, class) of the review's ledger.
    """
    from engine.ledger import normalise

    computed = {normalise(display): key for key, display in displays.items() if display}
    findings = []
    for literal in literals:
        where = f"literal {literal.text!r}: {literal.sentence}"
        if literal.kind == "none":
            findings.append(Finding("unsourced-literal", f"{where} (name its source: a citation in the sentence, "
                                                         "claim=<ledger claim id> or source=\"...\")"))
            continue
        if literal.kind == "claim":
            claim = (claims or {}).get(literal.claim)
            if claim is None:
                findings.append(Finding("unknown-claim", f"{where}: the ledger has no claim {literal.claim!r}"))
            elif normalise(literal.text) not in normalise(claim[0]).replace("\u2013", " ").split() + [
                    normalise(claim[0])] and normalise(literal.text) not in normalise(claim[0]):
                findings.append(Finding("unknown-claim", f"{where}: claim {literal.claim!r} prints {claim[0]!r}"))
            elif claim[1] and claim[2] == "reproduced":
                findings.append(Finding("computed-literal", f"{where}: claim {literal.claim!r} is {claim[2]} by "
                                                            f"{claim[1]!r}: bind {{{{< meta v.{claim[1]} >}}}}"))
            continue
        if literal.kind == "source" and literal.source in IDENTIFIERS:
            continue
        key = computed.get(normalise(literal.reads))
        if key is not None:
            findings.append(Finding("computed-literal", f"{where}: reads {literal.reads!r}, the registry's "
                                                        f"display of {key!r}: bind it instead"))
    return findings


def literal_sources(literals: Sequence[Literal_]) -> dict[str, list[str]]:
    """The literals grouped by how they are sourced, for the report."""
    groups: dict[str, list[str]] = {}
    for literal in literals:
        name = {"claim": f"claim {literal.claim}", "source": f"source: {literal.source}",
                "citation": f"cited: {', '.join(literal.citations)}", "none": "NO SOURCE"}[literal.kind]
        groups.setdefault(name, []).append(literal.text)
    return groups


def normalise_pdf_text(text: str) -> str:
    """PDF text as running text: hyphenation undone, breaks after dashes and slashes joined, spaces plain."""
    text = re.sub(r"\xad\s*\n", "", text)
    text = re.sub(r"(?<=[^\W\d_])-\n(?=[^\W\d_])", "", text)  # a hyphenated word; a broken number keeps "-"
    text = re.sub(r"(?<=[-–—/])\n", "", text)
    return _WHITESPACE.sub(" ", text.replace("\xa0", " ").replace("\u202f", " ").replace("\u2009", " ")).strip()


def count_display(text: str, display: str) -> int:
    """Occurrences of ``display`` in ``text`` as a whole number: "95%" is not in "95.38%", "17" not in "2017"
    nor in "1.17", "0.5" not in "0.4-0.5"; a letter before it does not matter ("β2", "PGE1")."""
    pattern = r"(?<![\d.,/:–—-])" + re.escape(_normal(display)) + r"(?![\w%/:–—]|[.,]\d|-\d)"
    return len(re.findall(pattern, text))


def read_pdf_text(pdf_path: Path) -> str:
    """The PDF's text, every page, via pypdf."""
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(pdf_path).pages)


def check_pdf(numbers: Iterable[str], html_plain: str, pdf_plain: str) -> list[Finding]:
    """Each number occurs in the PDF text at least as often as in the HTML's text.

    A number the HTML text never shows as a whole number (the "1" of "inhibitor-1") cannot be counted
    and is left out.
    """
    findings = []
    for number in sorted(set(numbers)):
        in_html, in_pdf = count_display(html_plain, number), count_display(pdf_plain, number)
        if in_pdf < in_html:
            findings.append(Finding("pdf-missing" if in_pdf == 0 else "pdf-count",
                                    f"{number!r} occurs {in_pdf} time(s) in the PDF text "
                                    f"but {in_html} time(s) in the HTML"))
    return findings


def audit(html: str, displays: Mapping[str, str], pdf_text: str | None = None,
          claims: Mapping[str, tuple[str, str, str]] | None = None) -> AuditResult:
    """All checks on one rendered HTML (and optionally the PDF's extracted text) against key -> display;
    ``claims`` (claim id -> printed number, registry key, class) resolves the literals that cite the ledger."""
    page = Rendered(html)
    tokens, spans, literals = page.tokens(), page.values(), page.literals()
    findings = check_unmarked(tokens) + check_values(spans, displays) + check_literals(literals, displays, claims)
    if pdf_text is not None:
        numbers = [span.text for span in spans if span.text] + [t.reads for t in tokens if t.kind == "literal"]
        findings += check_pdf(numbers, page.text(), normalise_pdf_text(pdf_text))
    return AuditResult(tuple(tokens), tuple(spans), tuple(findings), tuple(page.number_words()), tuple(literals))


# --- the values, recomputed from the raw sheets ---------------------------------------------------------


# --- CLI -------------------------------------------------------------------------------------------------


def report(result: AuditResult) -> str:
    """The summary: counts per kind, then every finding; spelt-out numbers as notes."""
    counts = result.counts()
    lines = ["audit: " + ", ".join(f"{counts[kind]} {kind}" for kind in KINDS)
             + f"; {len(result.values)} value spans, {len({v.key for v in result.values})} keys"]
    if result.literals:
        lines.append(f"  literals by source ({len(result.literals)}):")
        lines += [f"    {source}: {', '.join(texts)}" for source, texts in sorted(literal_sources(result.literals).items())]
    lines += [f"  FAIL [{finding.rule}] {finding.message}" for finding in result.findings]
    if result.spelled:
        lines.append(f"  note: {len(result.spelled)} sentence(s) spell a number out in words (not audited):")
        lines += [f"    {sentence}" for sentence in result.spelled]
    lines.append("audit: OK" if result.ok else f"audit: {len(result.findings)} problem(s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Audit every number in the rendered paper.")
    parser.add_argument("--html", type=Path, required=True, help="_manuscript/index.html")
    parser.add_argument("--pdf", type=Path, help="_manuscript/index.pdf")
    parser.add_argument("--registry", type=Path, required=True, help="results/values.yml")
    parser.add_argument("--manifest", type=Path,
                        help="also recompute every value from the review's raw sheets (config/review.yaml) and compare")
    parser.add_argument("--raw-dir", type=Path, help="the raw sheets (default: data/raw beside the manifest)")
    parser.add_argument("--bib", type=Path, default=Path("manuscript/references.bib"))
    parser.add_argument("--claims", type=Path,
                        help="the claims ledger the literals cite (default: the manifest's claims, if given)")
    args = parser.parse_args(argv)
    html = args.html.read_text(encoding="utf-8")
    pdf_text = read_pdf_text(args.pdf) if args.pdf else None
    claims_path = args.claims
    if claims_path is None and args.manifest:
        from engine.manifest import load_review

        claims_path = load_review(args.manifest, args.raw_dir, args.bib).claims
    claims = None
    if claims_path is not None:
        from engine.ledger import load_claims

        claims = {c.claim_id: (c.published, c.registry_key, c.expected_class) for c in load_claims(claims_path)}
    result = audit(html, read_displays(args.registry), pdf_text, claims)
    if args.manifest:
        from engine.manifest import load_review
        from engine.recompute import fresh_displays

        fresh = check_values(result.values, fresh_displays(load_review(args.manifest, args.raw_dir, args.bib)))
        result = dataclasses.replace(
            result, findings=result.findings + tuple(Finding(f.rule, f"(fresh) {f.message}") for f in fresh))
    print(report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
