"""The live preview (engine/preview.py): its pages and events, then the real thing in headless Chromium.

The browser test starts ``python -m engine.preview`` in a project copy, opens the page in headless Chromium
and edits the copy as an author would: a sentence added to the manuscript must appear, a broken shortcode
must replace the paper by the build's error, the repaired text must bring the paper back, and an edited
sheet cell must reach its table. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from engine import preview
from tests.live_preview import headless_chromium, page_text, running_preview, status_text, wait_for
from tests.project_copy import copy_project

# --- pages and events, without a build ------------------------------------------------------------------


def test_the_reload_script_goes_before_the_end_of_the_body_and_names_the_generation() -> None:
    page = b"<html><body><p>Text</p></body></html>"
    served = preview.with_reload_script(page, 7)
    assert served.startswith(b"<html><body><p>Text</p><script>")
    assert served.endswith(b"</script>\n</body></html>")
    assert b'const shown = "7";' in served
    assert b'new EventSource("/events")' in served


def test_a_page_without_a_body_end_gets_the_script_at_its_end() -> None:
    served = preview.with_reload_script(b"<p>Fragment</p>", 1)
    assert served.startswith(b"<p>Fragment</p><script>")


def test_the_error_page_shows_the_failed_jobs_log_and_the_output_escaped(tmp_path: Path) -> None:
    log = tmp_path / "results" / "logs" / "preview_html.log"
    log.parent.mkdir(parents=True)
    log.write_text("render: 1 Quarto-subset problem(s):\n  index.qmd:3: unknown value key 'v.x' <b>\n")
    output = (
        "Error in rule preview_html:\n"
        "    log: results/logs/preview_html.log (check log file(s) for error details)\n"
        "WorkflowError: At least one job did not complete successfully.\n"
    )
    page = preview.error_page(preview.Outcome(False, output, 0.5), tmp_path, "manuscript/index.qmd")
    soup = BeautifulSoup(page, "lxml")
    assert soup.find(id="build-failed").get_text() == "The build failed"
    assert soup.find("h2").get_text() == "results/logs/preview_html.log"
    assert soup.find("pre").get_text() == log.read_text()  # the <b> is text, not markup
    assert soup.find("b") is None
    assert "At least one job did not complete successfully." in soup.find(id="build-output").get_text()


def test_a_log_that_does_not_exist_is_left_out(tmp_path: Path) -> None:
    output = "    log: results/logs/gone.log (check log file(s) for error details)\n"
    assert preview.failed_logs(output, tmp_path) == []


def test_events_say_building_then_ready_with_the_new_generation() -> None:
    state = preview.Preview()
    events = state.events()
    assert next(events) == "event: building\ndata: the start of the preview\n\n"
    state.finish_build(b"<p>one</p>")
    assert next(events) == "event: ready\ndata: 1\n\n"
    state.start_build("manuscript/index.qmd")
    assert next(events) == "event: building\ndata: manuscript/index.qmd\n\n"
    state.finish_build(b"<p>one</p>")  # the same page: no new generation, browsers need not reload
    assert next(events) == "event: ready\ndata: 1\n\n"
    state.start_build("data/raw/studies.csv")
    state.finish_build(b"<p>two</p>")
    assert next(events) == "event: ready\ndata: 2\n\n"
    state.stop()
    assert list(events) == []


def test_a_page_request_during_a_build_waits_for_its_result() -> None:
    state = preview.Preview()
    state.finish_build(b"<p>old</p>")
    state.start_build("manuscript/index.qmd")
    threading.Timer(0.2, state.finish_build, args=(b"<p>new</p>",)).start()
    started = time.monotonic()
    assert state.current_page(timeout=10) == (2, b"<p>new</p>")
    assert time.monotonic() - started >= 0.15


def test_only_stylesheets_and_images_inside_the_project_are_served(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name in (
        "results/figures/forest.svg",
        "engine/templates/article.css",
        "data/raw/studies.csv",
        "engine/preview.py",
    ):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("x")
    (tmp_path / "outside.svg").write_text("x")
    assert (
        preview.project_file(project, "/results/figures/forest.svg") == project / "results/figures/forest.svg"
    )
    assert (
        preview.project_file(project, "/engine/templates/article.css")
        == project / "engine/templates/article.css"
    )
    assert preview.project_file(project, "/data/raw/studies.csv") is None  # the unpublished data: never
    assert preview.project_file(project, "/engine/preview.py") is None
    assert preview.project_file(project, "/../outside.svg") is None
    assert preview.project_file(project, "/%2e%2e/outside.svg") is None
    assert preview.project_file(project, "/results/figures/missing.svg") is None


def test_the_page_is_served_where_the_manuscript_lies(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("manuscript: manuscript/index.qmd\n")
    assert preview.page_path(tmp_path) == "/manuscript/index.html"


def test_a_page_request_gives_up_when_the_build_outlasts_its_wait() -> None:
    state = preview.Preview()
    assert state.current_page(timeout=0.05) is None


# --- the preview in a real browser --------------------------------------------------------------------------


FIRST_BUILD_SECONDS = 240  # a copy starts with no results: every job up to the HTML runs once
EDIT_SECONDS = 120


@pytest.mark.slow
def test_the_browser_follows_edits_errors_and_repairs(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    qmd = project / "manuscript" / "index.qmd"
    original = qmd.read_text(encoding="utf-8")
    with running_preview(project) as server, headless_chromium() as browser:
        url = server.url(timeout=60)
        assert url.startswith("http://127.0.0.1:")
        browser.set_page_load_timeout(FIRST_BUILD_SECONDS)
        browser.get(url)  # the server holds the request until the first build is done
        title = "Intravenous immunoglobulin for refractory livedoid vasculopathy"
        wait_for(lambda: title in page_text(browser), FIRST_BUILD_SECONDS, f"the paper\n{server.output()}")
        assert "Table 1" in page_text(browser)
        assert browser.current_url == url + "manuscript/index.html"
        # The linked figures and stylesheets load from the preview server (the figures and the template's
        # two stylesheets, beside the tables' own <style> elements).
        figures = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth > 0)")
        assert figures and all(figures)
        sheets = browser.execute_script(
            "return Array.from(document.styleSheets).filter(s => s.href).map(s => s.cssRules.length > 0)"
        )
        assert sheets == [True, True]

        sentence = "An author added this sentence while the preview was open."
        qmd.write_text(original + f"\n{sentence}\n", encoding="utf-8")
        wait_for(lambda: sentence in page_text(browser), EDIT_SECONDS, f"the new sentence\n{server.output()}")

        qmd.write_text(original + "\nA broken value {{< meta v.no_such_value >}} here.\n", encoding="utf-8")
        shown = wait_for(
            lambda: "The build failed" in (text := page_text(browser)) and text,
            EDIT_SECONDS,
            f"the error page\n{server.output()}",
        )
        assert "unknown value key 'v.no_such_value'" in shown
        assert title not in shown and sentence not in shown  # no stale paper beside the error
        assert browser.find_elements("css selector", "article.manuscript") == []

        qmd.write_text(original, encoding="utf-8")
        wait_for(lambda: title in page_text(browser), EDIT_SECONDS, f"the repaired paper\n{server.output()}")
        assert "The build failed" not in page_text(browser)
        assert sentence not in page_text(browser)

        sheet = project / "data" / "raw" / "studies.csv"
        treatments = "ASP, NSAID, CTX, AZA, GC, warfarin, heparin, local plastic surgery"
        edited = "ASP, NSAID, CTX, AZA, GC, warfarin, heparin, skin graft"
        text = sheet.read_text(encoding="utf-8")
        assert text.count(treatments) == 1
        sheet.write_text(text.replace(treatments, edited), encoding="utf-8")
        # A data edit reruns several jobs: meanwhile the page says so, over the paper it still shows.
        status = wait_for(
            lambda: status_text(browser), EDIT_SECONDS, f"the rebuilding banner\n{server.output()}"
        )
        assert status == "Rebuilding after a change to data/raw/studies.csv ..."
        wait_for(lambda: edited in page_text(browser), EDIT_SECONDS, f"the edited cell\n{server.output()}")
        assert status_text(browser) == ""
        assert treatments not in page_text(browser)
    # The built file itself has no reload script: only the served page does.
    assert b"EventSource" not in (project / preview.TARGET).read_bytes()
