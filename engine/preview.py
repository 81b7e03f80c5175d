"""Live preview for authors: the paper's HTML on localhost, rebuilt on every save and reloaded in the browser.

Usage (from the project root, in its virtualenv)::

    python -m engine.preview [--port 8000] [--cores 2] [--open]

It serves ``http://127.0.0.1:PORT/`` (never another interface) and watches the sources: the manuscript,
the sheets, the scripts, the engine, the configuration. On each save it runs Snakemake for the preview
target (``results/preview/index.html``, the rule ``preview_html``: the HTML alone, no PDF), so the DAG
decides what reruns: a text edit only the render, a sheet edit the jobs that read the sheet. Then the
page reloads itself. A build that fails replaces the paper with the build's error text until a save
builds it again: the browser never shows a paper older than its sources as if it were current.

The page the browser gets is the built file with a small script added on the way out (the file itself
is left as built): it listens to ``/events`` (server-sent events) and reloads on a new build. The page is
the HTML alone with its stylesheets and figures linked (engine/render.py --preview), served from the
project: embedding them, as the paper does, would take a third of the render.

Each build runs in a fresh child of a fork server that has imported Snakemake once (a Snakemake start is
most of a second), so a text edit costs about the render itself; the child imports the engine anew, so an
edited engine module is used by the next build. ``benchmarks/preview.py`` measures save-to-browser time.
"""

from __future__ import annotations

import argparse
import html
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import threading
import time
import webbrowser
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import watchfiles
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET = "results/preview/index.html"
HOST = "127.0.0.1"
# What the page links besides itself: its stylesheets and figures, and nothing else of the project.
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
# Watched recursively; the top-level files (_quarto.yml, Snakefile) by a second, flat watch, so that the
# outputs (results/, _manuscript/) and the virtualenv are never watched: a build must not trigger itself.
SOURCE_DIRS = ("manuscript", "data", "scripts", "engine", "config")
TOP_LEVEL_FILES = frozenset({"_quarto.yml", "Snakefile"})
# What the fork server imports once: Snakemake and the libraries a Snakemake run imports as it goes
# (smart_open, with requests, for the Snakefile's path; yte, with numpy, for the config), about a second
# of every build otherwise. Never the engine: a child must import the engine's modules as they are now.
PRELOADED = (
    "snakemake.api",
    "snakemake.workflow",
    "snakemake.dag",
    "smart_open",
    "yte",
    "jsonschema",
    "yaml",
    "pypandoc",
)
# A request for the page during a build waits for it (rather than get the paper the build replaces) this long.
PAGE_WAIT_SECONDS = 120.0
KEEPALIVE_SECONDS = 15.0
FAILED_LOG = re.compile(r"^\s*log: (?P<paths>.+?) \(check log file\(s\) for error details\)$", re.MULTILINE)

RELOAD_SCRIPT = """<script>
(() => {
  const shown = "%(generation)s";
  const banner = document.createElement("div");
  banner.id = "preview-status";
  banner.setAttribute("role", "status");
  banner.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:2147483647;padding:4px 12px;"
    + "font:13px system-ui,sans-serif;background:#fff3c4;color:#3d3000;border-bottom:1px solid #d9c36a;display:none";
  document.body.appendChild(banner);
  const events = new EventSource("/events");
  events.addEventListener("building", (event) => {
    banner.textContent = "Rebuilding after a change to " + event.data + " ...";
    banner.style.display = "block";
  });
  events.addEventListener("ready", (event) => {
    if (event.data !== shown) { location.reload(); } else { banner.style.display = "none"; }
  });
})();
</script>
"""


@dataclass(frozen=True)
class Outcome:
    """One build of the preview target: whether it succeeded, and what Snakemake printed."""

    ok: bool
    output: str
    seconds: float
    cpu_seconds: float = 0.0  # user + system time of the build and every process it ran


def _cpu_seconds() -> float:
    """CPU time of this process and of its children waited for, so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# --------------------------------------------------------------------------
# Building (in a child of the fork server)


def run_snakemake(project: Path, target: str, cores: int) -> bool:
    """Run Snakemake in ``project`` for ``target`` through its API, as ``snakemake --cores N target`` does."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import DAGSettings, OutputSettings, Quietness, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet={Quietness.HOST, Quietness.PROGRESS})) as api:
        try:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=cores),
                snakefile=project / "Snakefile",
                workdir=project,
            )
            # A build stopped by Ctrl-C leaves its outputs marked incomplete: the preview remakes them.
            workflow.dag(DAGSettings(targets={target}, force_incomplete=True)).execute_workflow(
                executor="local"
            )
        except Exception as error:  # noqa: BLE001 (Snakemake's errors and a Snakefile's: all go to the page)
            api.print_exception(error)
            return False
    return True


def build_in_child(project: str, target: str, cores: int) -> Outcome:
    """Build ``target``, with this process's stdout and stderr (Snakemake's and its jobs') captured.

    Runs in a process of its own, discarded afterwards: the captured descriptors stay redirected.
    """
    start, cpu = time.perf_counter(), _cpu_seconds()
    with tempfile.TemporaryFile() as capture:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        ok = run_snakemake(Path(project), target, cores)
        sys.stdout.flush()
        sys.stderr.flush()
        capture.seek(0)
        output = capture.read().decode("utf-8", errors="replace")
    return Outcome(ok, output, time.perf_counter() - start, _cpu_seconds() - cpu)


class Builder:
    """Runs each build in a new process forked from a server that holds Snakemake imported."""

    def __init__(self, project: Path, cores: int) -> None:
        self.project = project
        self.cores = cores
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOADED))
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1)

    def build(self) -> Outcome:
        return self.pool.submit(build_in_child, str(self.project), TARGET, self.cores).result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------
# Pages


def with_reload_script(page: bytes, generation: int) -> bytes:
    """The page with the reload script before ``</body>`` (at the end if there is none)."""
    script = (RELOAD_SCRIPT % {"generation": generation}).encode("utf-8")
    at = page.rfind(b"</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


def failed_logs(output: str, project: Path) -> list[tuple[str, str]]:
    """(path, text) of the log of every job that failed, as Snakemake names them in its output."""
    logs = []
    for match in FAILED_LOG.finditer(output):
        for name in match["paths"].split(", "):
            path = project / name
            if path.is_file():
                logs.append((name, path.read_text(encoding="utf-8", errors="replace")))
    return logs


def error_page(outcome: Outcome, project: Path, changed: str) -> bytes:
    """The page shown instead of the paper while it does not build: the error text of the build."""
    logs = "".join(
        f"<h2>{html.escape(name)}</h2>\n<pre>{html.escape(text)}</pre>\n"
        for name, text in failed_logs(outcome.output, project)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Build failed: preview</title>
<style>body{{font:15px system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em}}
pre{{background:#f6f6f6;border-left:4px solid #b00020;padding:.6em;white-space:pre-wrap}}</style></head>
<body>
<h1 id="build-failed">The build failed</h1>
<p>After the change to {html.escape(changed)}, Snakemake could not build the paper. It is not shown until it
builds again: fix what the error says and save; this page reloads by itself.</p>
{logs}<h2>Snakemake's output</h2>
<pre id="build-output">{html.escape(outcome.output)}</pre>
</body>
</html>
""".encode()


# --------------------------------------------------------------------------
# State shared by the builder, the watchers and the request handlers


class Preview:
    """The page to serve and its generation; requests and event streams wait on it."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.generation = 0
        self.page = b""
        self.building = True
        self.cause = "the start of the preview"
        self.stopped = False

    def start_build(self, cause: str) -> None:
        with self.changed:
            self.building, self.cause = True, cause
            self.changed.notify_all()

    def finish_build(self, page: bytes) -> None:
        """Serve ``page``; a page like the one shown ends the build without making browsers reload."""
        with self.changed:
            if page != self.page:
                self.page = page
                self.generation += 1
            self.building = False
            self.changed.notify_all()

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()

    def current_page(self, timeout: float) -> tuple[int, bytes] | None:
        """The page once no build runs (None if one still runs after ``timeout`` seconds)."""
        with self.changed:
            if not self.changed.wait_for(lambda: not self.building or self.stopped, timeout):
                return None
            return self.generation, self.page

    def events(self) -> Iterator[str]:
        """Server-sent events: ``building`` (data: what changed) and ``ready`` (data: the generation)."""
        seen: tuple[bool, int, str] | None = None
        while True:
            with self.changed:
                now = (self.building, self.generation, self.cause)
                if now == seen and not self.stopped:
                    self.changed.wait(KEEPALIVE_SECONDS)
                    now = (self.building, self.generation, self.cause)
                if self.stopped:
                    return
            if now == seen:
                yield ": keep-alive\n\n"
                continue
            seen = now
            building, generation, cause = now
            yield (
                f"event: building\ndata: {cause}\n\n" if building else f"event: ready\ndata: {generation}\n\n"
            )


# --------------------------------------------------------------------------
# Watching


def describe(changes: Iterable[tuple[watchfiles.Change, str]], project: Path) -> str:
    """The changed files, relative to the project, for the banner and the terminal."""
    # One line: the text goes into a server-sent event, which a line break would end.
    names = sorted({Path(path).relative_to(project).as_posix().replace("\n", " ") for _, path in changes})
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def watch_sources(project: Path, stop: threading.Event) -> Iterator[set[tuple[watchfiles.Change, str]]]:
    """Batches of changed source files, until ``stop`` is set."""
    directories = [project / name for name in SOURCE_DIRS if (project / name).is_dir()]
    batches: list[set[tuple[watchfiles.Change, str]]] = []
    arrived = threading.Condition()

    def watch(paths: Sequence[Path], recursive: bool, keep: watchfiles.BaseFilter) -> None:
        for batch in watchfiles.watch(
            *paths, watch_filter=keep, recursive=recursive, stop_event=stop, step=20
        ):
            with arrived:
                batches.append(batch)
                arrived.notify()

    class TopLevel(watchfiles.DefaultFilter):
        def __call__(self, change: watchfiles.Change, path: str) -> bool:
            return Path(path).name in TOP_LEVEL_FILES and super().__call__(change, path)

    threads = [
        threading.Thread(target=watch, args=(directories, True, watchfiles.DefaultFilter()), daemon=True),
        threading.Thread(target=watch, args=([project], False, TopLevel()), daemon=True),
    ]
    for thread in threads:
        thread.start()
    while not stop.is_set():
        with arrived:
            arrived.wait_for(lambda: batches or stop.is_set(), timeout=0.5)
            merged = set().union(*batches)
            batches.clear()
        if merged:
            yield merged


def rebuild_on_change(preview: Preview, builder: Builder, project: Path, stop: threading.Event) -> None:
    """Build once, then again after every batch of changes (changes made during a build: one more build)."""

    def build(cause: str) -> None:
        preview.start_build(cause)
        try:
            outcome = builder.build()
        except Exception as error:  # noqa: BLE001 (the child died, killed or out of memory: say so in the page)
            outcome = Outcome(False, f"The build's process ended without a result: {error!r}", 0.0)
        if outcome.ok:
            page = (project / TARGET).read_bytes()
            print(
                f"preview: built in {outcome.seconds:.2f} s (CPU {outcome.cpu_seconds:.2f} s) after a change to {cause}",
                flush=True,
            )
        else:
            page = error_page(outcome, project, cause)
            print(f"preview: the build failed after a change to {cause}; the page shows why", flush=True)
        preview.finish_build(page)

    build("the start of the preview")
    for changes in watch_sources(project, stop):
        build(describe(changes, project))


# --------------------------------------------------------------------------
# Serving


def page_path(project: Path) -> str:
    """The URL path of the page: the manuscript's own path (config/config.yaml, ``manuscript``) as .html.

    The preview's page links its stylesheets and images relative to the manuscript's folder
    (engine/render.py --preview), so it is served from where the manuscript lies in the project.
    """
    config = project / "config" / "config.yaml"
    manuscript = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("manuscript")
    if not manuscript:
        raise ValueError(f"{config}: no `manuscript` (the qmd the Snakefile renders)")
    return "/" + Path(manuscript).with_suffix(".html").as_posix()


def project_file(project: Path, url_path: str) -> Path | None:
    """The stylesheet or image a URL path names inside the project, or None (any other file, or outside)."""
    path = (project / unquote(url_path).lstrip("/")).resolve()
    if path.suffix.lower() in STATIC_TYPES and path.is_relative_to(project.resolve()) and path.is_file():
        return path
    return None


def handler_for(preview: Preview, project: Path, page: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # Only pages that name this server may read it: a web page that rebinds its own host name to
            # 127.0.0.1 must not read an unpublished paper.
            port = self.server.server_address[1]
            if self.headers.get("Host") not in (f"{HOST}:{port}", f"localhost:{port}"):
                self.send_error(HTTPStatus.MISDIRECTED_REQUEST, f"Open http://{HOST}:{port}/")
                return
            path = urlsplit(self.path).path
            if path == "/":
                self.send_response(HTTPStatus.FOUND)
                self.send_header("Location", page)
                self.end_headers()
            elif path == page:
                self._page()
            elif path == "/events":
                self._events()
            elif path == "/favicon.ico":
                self.send_response(HTTPStatus.NO_CONTENT)  # the paper has none; a 404 would be logged
                self.end_headers()
            elif (found := project_file(project, path)) is not None:
                self._file(found)
            else:
                self.send_error(
                    HTTPStatus.NOT_FOUND, f"The preview serves the paper at {page} and its resources"
                )

        def _page(self) -> None:
            current = preview.current_page(PAGE_WAIT_SECONDS)
            if current is None:
                self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "Still building: reload in a moment")
                return
            generation, shown = current
            self._send(with_reload_script(shown, generation), "text/html; charset=utf-8")

        def _file(self, path: Path) -> None:
            self._send(path.read_bytes(), STATIC_TYPES[path.suffix.lower()])

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # a figure redrawn must be fetched again
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                for event in preview.events():
                    self.wfile.write(event.encode("utf-8"))
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return  # the page was closed or reloaded

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per request would bury the build messages

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--cores", type=int, default=2, help="cores Snakemake may use (default 2)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    args = parser.parse_args(argv)
    project = REPO_ROOT
    try:
        handler = handler_for(preview := Preview(), project, page_path(project))
    except (OSError, ValueError) as error:
        print(f"preview: {error}", file=sys.stderr)
        return 1
    try:
        server = ThreadingHTTPServer((HOST, args.port), handler)
    except OSError as error:
        print(
            f"preview: cannot listen on {HOST}:{args.port} ({error.strerror}): pass --port N", file=sys.stderr
        )
        return 1
    server.daemon_threads = True
    url = f"http://{HOST}:{server.server_address[1]}/"
    print(f"preview: serving {url} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    builder = Builder(project, args.cores)
    rebuilding = threading.Thread(
        target=rebuild_on_change, args=(preview, builder, project, stop), daemon=True
    )
    rebuilding.start()
    if args.open:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("preview: stopped", flush=True)
    finally:
        stop.set()
        preview.stop()
        server.server_close()
        builder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
