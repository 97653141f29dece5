"""A real Prometheus server scrapes both services; PromQL sees every prediction sent."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import urllib3

from loanapp.dev.processes import ServiceProcess, free_port, wait_until
from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import sample_rows

pytestmark = pytest.mark.integration

SCRAPE_INTERVAL = "2s"


def find_prometheus() -> str | None:
    """The `prometheus` command; the Debian package is installed when it is missing."""
    found = shutil.which("prometheus")
    if found or shutil.which("apt-get") is None:
        return found
    for command in (
        ["apt-get", "install", "-y", "-qq", "prometheus"],
        ["apt-get", "update", "-qq"],
    ):
        subprocess.run(command, check=False, capture_output=True, timeout=600)
        if found := shutil.which("prometheus"):
            return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "prometheus"], check=False, timeout=600)
    return shutil.which("prometheus")


@pytest.fixture
def prometheus(tmp_path: Path, stack: LocalStack) -> Iterator[str]:
    """A Prometheus server on a free loopback port scraping both services; its base URL."""
    command = find_prometheus()
    if command is None:
        pytest.skip("no prometheus command, and apt-get could not install the Debian package")
    config = tmp_path / "prometheus.yml"
    targets = {
        "predict-api": stack.predict_api_url.removeprefix("http://"),
        "model-server": stack.model_server_url.removeprefix("http://"),
    }
    jobs = [
        {"job_name": job, "static_configs": [{"targets": [target]}]}
        for job, target in targets.items()
    ]
    settings = {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL}
    config.write_bytes(orjson.dumps({"global": settings, "scrape_configs": jobs}))
    url = f"http://127.0.0.1:{free_port()}"
    log = (tmp_path / "prometheus.log").open("ab")
    server = ServiceProcess(
        [
            command,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        url=url,
        log=log,
    ).start()
    try:
        server.wait_ready(path="/-/ready")
        yield url
    finally:
        server.stop()  # by its PID (its own process group)
        log.close()


def query(prometheus: str, promql: str) -> list[dict[str, object]]:
    """The result vector of an instant PromQL query."""
    response = urllib3.request(
        "GET", prometheus + "/api/v1/query", fields={"query": promql}, retries=False, timeout=10.0
    )
    answer = orjson.loads(response.data)
    assert answer["status"] == "success", answer
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


def scalar(prometheus: str, promql: str) -> float | None:
    result = query(prometheus, promql)
    return float(result[0]["value"][1]) if result else None  # type: ignore[index]


def test_promql_counts_every_prediction_sent(stack: LocalStack, prometheus: str) -> None:
    sent = 25
    rows = sample_rows(sent)
    for row in rows:
        response = urllib3.request(
            "POST",
            stack.predict_api_url + "/predict",
            json=row,
            headers={"Connection": "close"},
            retries=False,
        )
        assert response.status == 200

    def scraped_all() -> bool:
        # Each target is scraped on its own schedule: wait for both services' latest scrape.
        counted = scalar(prometheus, "sum(loanapp_predictions_total)") == sent
        return counted and scalar(prometheus, "count(up == 1)") == 2

    wait_until(
        scraped_all,
        url=prometheus,
        timeout=60,
        waiting_for=f"sum(loanapp_predictions_total) == {sent}, both services up",
        interval=0.5,
    )
    workers = scalar(prometheus, 'count(loanapp_model_info{job="predict-api"} == 1)')
    assert workers == 2
    assert scalar(prometheus, 'max(loanapp_alias_info{job="model-server"})') == 1
