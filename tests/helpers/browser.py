"""Headless Chromium for the report tests, the screenshot script and the report benchmark.

The system's browser (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium: no
browser download, ever. ``missing()`` says in one line why a browser cannot run here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

# Where Debian puts them; MMFUSE_CHROMIUM / MMFUSE_CHROMEDRIVER override.
CHROMIUM = os.environ.get("MMFUSE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MMFUSE_CHROMEDRIVER", "/usr/bin/chromedriver")
# Counts window.alert/confirm/prompt calls; installed before any page script runs (CDP).
DIALOG_SPY = """
window.__dialogs = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (message) => { window.__dialogs.push(name + ": " + message); };
}
"""


def missing() -> str:
    """Why headless Chromium cannot run here ("" when it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"{path} not found (apt-get install {package})"
    return ""


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium WebDriver that logs the console and records dialogs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--no-first-run",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DIALOG_SPY})
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """The browser console's SEVERE messages since the last call (CSP violations among them)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def full_page_png(driver) -> bytes:
    """A PNG of the whole page, beyond the window's height (Chromium's DevTools protocol)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])
