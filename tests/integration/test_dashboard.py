"""The dashboard in a real browser, against real services: look, promote, watch, roll back.

The model server runs one worker here, so that its fleet view is the whole fleet; with several,
each worker's view is partial and the page says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from loanapp.dev.processes import child_pids
from loanapp.dev.stack import LocalStack
from loanapp.training.train import TrainingResult
from tests.integration.browser import save_screenshots, start_chromium, wait_for
from tests.integration.conftest import ADMIN_TOKEN, Versions, wait_until_every_worker_serves

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Read in one call, as the script replaces the rows every second.
FLEET_ROWS = """return Array.from(document.querySelectorAll('#fleet-rows tr[data-worker]')).map(
    row => [row.dataset.worker, row.dataset.version, row.cells[1].textContent.trim(),
            row.cells[5].textContent.trim()]);"""
ALIAS_NOW = "return document.querySelector('#alias-current code')?.textContent ?? null;"


@pytest.fixture
def stack_options() -> dict[str, Any]:
    """One model-server worker: its fleet view holds every predict-API worker."""
    return {"serve_options": {"model-server": ["--workers", "1"]}}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, closed after the test."""
    driver = start_chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def fleet_serves(browser: webdriver.Chrome, workers: list[int], version: str) -> bool:
    """True once the page's fleet table shows every worker serving `version`, in words."""
    rows = browser.execute_script(FLEET_ROWS)
    pids = sorted(int(worker.rsplit("/", 1)[1]) for worker, *_ in rows)
    return pids == workers and all(
        row_version == version and status == "current" for _, row_version, status, _ in rows
    )


def use_token(browser: webdriver.Chrome, token: str) -> None:
    """Type the admin token into the page's token box, as an operator does once per tab."""
    browser.find_element(By.ID, "admin-token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    state = browser.find_element(By.ID, "token-state")
    wait_for(browser, lambda: state.text == "token set for this tab", "the token to be kept")


def promote_from_the_page(browser: webdriver.Chrome, stack: LocalStack, version: str) -> None:
    browser.get(f"{stack.model_server_url}/ui/models/loan/aliases/production")
    Select(browser.find_element(By.ID, "promote-version")).select_by_value(version)
    browser.find_element(By.ID, "promote-button").click()


def test_promote_watch_the_fleet_and_roll_back(
    stack: LocalStack, versions: Versions, browser: webdriver.Chrome
) -> None:
    ui = f"{stack.model_server_url}/ui"
    workers = child_pids(stack.predict_api.pid or 0) if stack.predict_api else []
    assert len(workers) == 2
    browser.get(ui)
    wait_for(browser, lambda: fleet_serves(browser, workers, versions.first), "the fleet")
    assert "production" in browser.find_element(By.TAG_NAME, "main").text
    save_screenshots(browser, "home")

    browser.get(f"{ui}/models/loan")
    listed = browser.find_element(By.CSS_SELECTOR, "table.versions").text
    assert all(version[:12] in listed for version in versions.files)
    save_screenshots(browser, "versions")
    browser.get(f"{ui}/models/loan/versions/{versions.first}")
    assert "true positives" in browser.find_element(By.TAG_NAME, "main").text
    save_screenshots(browser, "version")

    browser.get(f"{ui}/models/loan/aliases/production")
    use_token(browser, ADMIN_TOKEN)
    promote_from_the_page(browser, stack, versions.second)
    wait_for(browser, lambda: browser.execute_script(ALIAS_NOW) == versions.second[:12], "promote")
    assert stack.registry().get_alias("loan").version == versions.second

    browser.get(ui)
    wait_for(browser, lambda: fleet_serves(browser, workers, versions.second), "every worker")
    wait_until_every_worker_serves(stack, versions.second)  # the workers agree with the page
    took = [row[3] for row in browser.execute_script(FLEET_ROWS)]
    assert all(text.endswith("s after the alias moved") for text in took), took
    save_screenshots(browser, "fleet-after-promote")

    browser.get(f"{ui}/models/loan/aliases/production")
    browser.find_element(By.ID, "rollback-button").click()
    wait_for(browser, lambda: browser.execute_script(ALIAS_NOW) == versions.first[:12], "rollback")
    history = browser.find_element(By.ID, "timeline").text
    assert history.index("rollback") < history.index("promote")  # newest first
    save_screenshots(browser, "alias")
    browser.get(ui)
    wait_for(browser, lambda: fleet_serves(browser, workers, versions.first), "the rollback")


def test_a_wrong_token_shows_the_refusal_and_changes_nothing(
    stack: LocalStack, versions: Versions, browser: webdriver.Chrome
) -> None:
    browser.get(f"{stack.model_server_url}/ui/models/loan/aliases/production")
    use_token(browser, "not-the-admin-token")
    promote_from_the_page(browser, stack, versions.second)
    message = browser.find_element(By.ID, "message")
    wait_for(browser, lambda: "Refused (HTTP 401)" in message.text, "the refusal")
    assert "LOANAPP_ADMIN_TOKEN" in message.text
    assert browser.execute_script(ALIAS_NOW) == versions.first[:12]
    assert stack.registry().get_alias("loan").version == versions.first


def test_the_gates_refusal_then_a_forced_promotion_with_a_reason(
    stack: LocalStack, versions: Versions, baseline: TrainingResult, browser: webdriver.Chrome
) -> None:
    worse = stack.registry().publish(baseline.artifact, actor="test").version
    alias_url = f"{stack.model_server_url}/v1/models/loan/aliases/production"
    browser.get(f"{stack.model_server_url}/ui/models/loan/aliases/production")
    use_token(browser, ADMIN_TOKEN)
    promote_from_the_page(browser, stack, worse)
    message = browser.find_element(By.ID, "message")
    wait_for(browser, lambda: "Refused (HTTP 409)" in message.text, "the gate's refusal")
    assert f"promotion refused: candidate {worse[:12]} has CV ROC-AUC 0.5000" in message.text
    assert "ΔAUC" in message.text
    force_box = browser.find_element(By.ID, "force-box")
    assert force_box.is_displayed()
    save_screenshots(browser, "gate-refusal")
    assert browser.execute_script(ALIAS_NOW) == versions.first[:12]
    assert current_version(alias_url) == versions.first

    # Forcing answers the refusal of the version chosen then: choosing another hides it.
    choice = Select(browser.find_element(By.ID, "promote-version"))
    choice.select_by_value(versions.second)
    assert not force_box.is_displayed()
    choice.select_by_value(worse)
    browser.find_element(By.ID, "promote-button").click()
    wait_for(browser, force_box.is_displayed, "the gate's refusal, again")
    assert current_version(alias_url) == versions.first

    # Enter in the reason box forces, as the button does (not the form's plain promote).
    reason = browser.find_element(By.ID, "force-reason")
    reason.send_keys("compare the prior live for an hour", Keys.ENTER)
    wait_for(browser, lambda: browser.execute_script(ALIAS_NOW) == worse[:12], "the forced move")
    assert current_version(alias_url) == worse
    newest = browser.find_element(By.CSS_SELECTOR, "#timeline li").text
    assert newest.startswith("forced promote (revision 2)"), newest
    assert "Reason: compare the prior live for an hour" in newest


def current_version(alias_url: str) -> str:
    """Where the alias points, as GET /v1/models/<name>/aliases/<alias> answers."""
    response = urllib3.request("GET", alias_url, retries=False, timeout=30.0)
    assert response.status == 200, response.data
    version: str = orjson.loads(response.data)["version"]
    return version
