"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, for page tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

DESKTOP = (1280, 1000)
PHONE = (390, 1400)  # a phone's width; tall, so that a screenshot holds the whole page
WAIT_SECONDS = 60.0  # generous: only a broken page makes a wait last this long
# Not LOANAPP_*: the autouse fixture clears those so that no setting leaks into a test.
SCREENSHOTS_VARIABLE = "DASHBOARD_SCREENSHOTS"
# Flags that work in a container as root, with no network beyond loopback.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def start_chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium at desktop size with a fresh profile; the test is skipped without one."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install, as .ci/run)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    width, height = DESKTOP
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # The driver named explicitly: Selenium would otherwise look for one to download.
    return webdriver.Chrome(options=options, service=Service(driver))


def wait_for(browser: webdriver.Chrome, check: Callable[[], Any], what: str) -> Any:
    """The first truthy value of `check()`, asked until WAIT_SECONDS pass (then the test fails)."""
    return WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.1).until(
        lambda _: check(), message=f"waited {WAIT_SECONDS:.0f}s for {what}"
    )


def save_screenshots(browser: webdriver.Chrome, name: str) -> None:
    """When DASHBOARD_SCREENSHOTS names a folder, save the page there at desktop and phone width."""
    folder = os.environ.get(SCREENSHOTS_VARIABLE)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", DESKTOP), ("phone", PHONE)):
        browser.set_window_size(*size)
        browser.save_screenshot(str(Path(folder) / f"dashboard-{name}-{label}.png"))
    browser.set_window_size(*DESKTOP)
