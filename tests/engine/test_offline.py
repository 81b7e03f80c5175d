"""The paper builds with no network, fetches nothing when opened, and its PDF carries its own fonts.

The build is the shared reference build (conftest.py), run inside ``unshare -n``: a new network namespace
in which no interface is up, so any attempt to reach a server fails at once. ``unshare -n`` needs root or
unprivileged user namespaces; where it is not available these tests are skipped, saying so.
"""

from __future__ import annotations

import base64
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from tests.clean_build import Build, environment, offline_prefix, run

pytestmark = pytest.mark.skipif(offline_prefix() is None,
                                reason="`unshare -n` is not available here (it needs root or user namespaces)")

REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //host (ftp too)
# Attributes through which a browser loads something while showing the page (a link is only followed on a click).
LOADING_ATTRIBUTES = ("src", "srcset", "data", "poster", "background", "href", "xlink:href", "action", "formaction")
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)", re.IGNORECASE)


def fetched_resources(html: str) -> list[str]:
    """Every remote address the page (and the SVGs embedded in it) would load; hyperlinks ``<a href>`` excepted."""
    soup = BeautifulSoup(html, "html.parser")
    found: list[str] = []
    for element in soup.find_all(True):
        for attribute in LOADING_ATTRIBUTES:
            if element.name == "a" and attribute == "href":
                continue
            for value in str(element.get(attribute) or "").split(","):
                if REMOTE.match(value):
                    found.append(f"<{element.name} {attribute}={value.strip()}>")
        if element.get("src", "").startswith("data:image/svg+xml;base64,"):
            found += svg_resources(base64.b64decode(element["src"].split(",", 1)[1]))
    css = [style.get_text() for style in soup.find_all("style")]
    css += [element["style"] for element in soup.find_all(style=True)]
    found += [url for block in css for match in CSS_URL.finditer(block) for url in match.groups()
              if url and REMOTE.match(url)]
    return found


def svg_resources(svg: bytes) -> list[str]:
    """Remote addresses an SVG would load: images, uses, fonts and styles (its namespace URIs load nothing)."""
    found = []
    for element in ET.fromstring(svg).iter():
        for name, value in element.attrib.items():
            if name.rsplit("}", 1)[-1] in ("href", "src") and REMOTE.match(value):
                found.append(f"<svg {element.tag} {name}={value}>")
        if element.tag.endswith("}style") and element.text:
            found += [url for match in CSS_URL.finditer(element.text) for url in match.groups()
                      if url and REMOTE.match(url)]
    return found


@pytest.mark.slow
def test_the_paper_builds_without_network(reference_build: Build) -> None:
    assert reference_build.offline
    assert reference_build.result.returncode == 0, reference_build.log()
    for name in ("index.html", "index.pdf"):
        assert (reference_build.project / "_manuscript" / name).stat().st_size > 0


@pytest.mark.slow
def test_the_html_loads_nothing_from_the_network(reference_build: Build) -> None:
    html = (reference_build.project / "_manuscript" / "index.html").read_text(encoding="utf-8")
    assert fetched_resources(html) == []
    # The check is not vacuous: the page does link out (DOIs), it just loads nothing.
    assert re.search(r'<a [^>]*href="https://doi\.org/', html)


def test_the_resource_check_finds_what_a_browser_would_fetch() -> None:
    svg = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                           b'<image xlink:href="https://x.org/a.png"/></svg>').decode()
    html = ('<html><head><link rel="stylesheet" href="https://cdn.x/a.css">'
            '<style>@font-face { src: url("https://fonts.x/f.woff2") }</style>'
            '<script src="//cdn.x/a.js"></script></head><body>'
            '<a href="https://doi.org/10.1/x">doi</a><img srcset="a.png 1x, https://x.org/b.png 2x">'
            f'<img src="data:image/svg+xml;base64,{svg}"><div style="background: url(http://x.org/c.png)"></div>'
            '</body></html>')
    assert len(fetched_resources(html)) == 6
    assert fetched_resources('<a href="https://doi.org/10.1/x">doi</a><img src="figures/a.svg">') == []


@pytest.mark.slow
def test_every_pdf_font_is_embedded(reference_build: Build) -> None:
    reader = PdfReader(reference_build.project / "_manuscript" / "index.pdf")
    fonts = {}
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            # A composite (Type0) font keeps its glyphs in its descendant font.
            for part in [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]:
                if "/FontDescriptor" in part:
                    descriptor = part["/FontDescriptor"].get_object()
                    fonts[str(part.get("/BaseFont"))] = any(
                        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts, "the PDF declares no fonts"
    assert [name for name, embedded in fonts.items() if not embedded] == []


@pytest.mark.slow
def test_the_sheet_tests_pass_without_network(reference_build: Build) -> None:
    result = run(reference_build.project, environment(LANG="C.UTF-8", TZ="UTC"), offline=True,
                 command=[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/review/test_sheets.py"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^\d+ passed", result.stdout, re.MULTILINE)


def test_unshare_really_cuts_the_network() -> None:
    probe = "import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)"
    result = run(Path.cwd(), environment(), offline=True, command=[sys.executable, "-c", probe])
    assert result.returncode != 0 and "Network is unreachable" in result.stderr
