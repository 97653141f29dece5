"""Read a service's /metrics with prometheus_client's own parser, and sum samples by labels."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import urllib3
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass
class Exposition:
    """The samples of one scrape, and its raw text."""

    samples: list[Sample]
    text: str

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels`."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def label_values(self, name: str, label: str) -> set[str]:
        """Every value `label` takes on samples called `name`."""
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}

    def matching(self, name: str, **labels: str) -> list[Sample]:
        """The samples called `name` whose labels include `labels`."""
        return [s for s in self.samples if s.name == name and labels.items() <= s.labels.items()]


def scrape(base_url: str) -> Exposition:
    """GET /metrics on a new connection (so any worker may answer) and parse it."""
    response = urllib3.request(
        "GET", base_url + "/metrics", headers={"Connection": "close"}, timeout=10.0, retries=False
    )
    assert response.status == 200, response.data[:300]
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.data.decode()
    samples = [
        sample for family in text_string_to_metric_families(text) for sample in family.samples
    ]
    return Exposition(samples, text)


def scrape_until(
    base_url: str, settled: Callable[[Exposition], bool], timeout: float = 15.0
) -> Exposition:
    """Scrape until `settled` holds: each worker records its requests' metrics a fraction of a
    second after answering them (off the request's thread), so a scrape right after traffic may
    not count another worker's last requests yet."""
    deadline = time.monotonic() + timeout
    exposition = scrape(base_url)
    while not settled(exposition):
        assert time.monotonic() < deadline, "the metrics did not settle"
        time.sleep(0.05)
        exposition = scrape(base_url)
    return exposition
