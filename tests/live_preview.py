"""The live preview (engine/preview.py) run in a project copy and watched through headless Chromium.

Shared by tests/engine/test_preview.py and benchmarks/preview.py. The browser is the system's Chromium
(Debian: ``apt-get install chromium chromium-driver``; GitHub's Ubuntu runners ship Google Chrome and its
chromedriver), driven by Selenium through that chromedriver, so nothing is downloaded at test time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SERVING = re.compile(r"^preview: serving (?P<url>http://127\.0\.0\.1:\d+/)")
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.01) -> T:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class PreviewProcess:
    """``python -m engine.preview`` running in a project, with what it printed so far."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def url(self, timeout: float) -> str:
        def announced() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"the preview exited ({self.process.returncode}):\n{self.output()}")
            return next((m["url"] for line in self.lines if (m := SERVING.match(line))), None)

        return wait_for(announced, timeout, "the preview's address", interval=0.05)

    def builds(self) -> int:
        """How many builds the preview has reported (succeeded or failed)."""
        return sum(line.startswith(("preview: built", "preview: the build failed")) for line in self.lines)


@contextmanager
def running_preview(project: Path) -> Iterator[PreviewProcess]:
    """Start the preview of ``project`` on a free port; stop it (and everything it started) afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.preview", "--port", "0", "--cores", "2"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped as a whole, by its id
    )
    preview = PreviewProcess(process)

    def read() -> None:
        for line in process.stdout:
            preview.lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield preview
    finally:
        group = os.getpgid(process.pid)
        os.killpg(group, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            process.wait(timeout=20)


def chromium_paths() -> tuple[str, str]:
    """The Chromium (or Chrome) binary and its chromedriver; fails with what to install."""
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    # GitHub's Ubuntu images name the driver's folder in CHROMEWEBDRIVER.
    driver = shutil.which("chromedriver") or shutil.which(
        "chromedriver", path=os.environ.get("CHROMEWEBDRIVER", "")
    )
    assert browser and driver, (
        "the preview's browser test needs Chromium and its driver on PATH: "
        "apt-get install chromium chromium-driver (found browser "
        f"{browser}, chromedriver {driver})"
    )
    return browser, driver


@contextmanager
def headless_chromium() -> Iterator[object]:
    """A Selenium WebDriver for headless Chromium, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def shown(driver, script: str) -> str:
    """What ``script`` returns about the page now shown (empty while a reload replaces the page)."""
    from selenium.common.exceptions import WebDriverException

    try:
        return driver.execute_script(script)
    except WebDriverException:
        return ""


def page_text(driver) -> str:
    """The visible text of the page now shown."""
    return shown(driver, "return document.body ? document.body.innerText : ''")


def status_text(driver) -> str:
    """The preview's status line ("Rebuilding after a change to ...") as shown; empty while hidden."""
    return shown(
        driver,
        "const s = document.getElementById('preview-status'); return s && s.checkVisibility() ? s.innerText : ''",
    )
