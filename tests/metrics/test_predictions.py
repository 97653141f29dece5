"""The prediction metrics: a batch's probabilities observed at once land as one by one would."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram

from loanapp.metrics.histograms import observe_many
from loanapp.metrics.predictions import PROBABILITY_BUCKETS


def samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    (family,) = histogram.collect()
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for sample in family.samples
        if not sample.name.endswith("_created")  # when each histogram was made
    }


def test_a_batch_observed_at_once_equals_each_value_observed() -> None:
    values = [*np.random.default_rng(7).random(500).tolist(), 0.0, 0.01, 0.05, 1.0, 0.1]
    one_by_one = Histogram("one", "", buckets=PROBABILITY_BUCKETS, registry=CollectorRegistry())
    at_once = Histogram("one", "", buckets=PROBABILITY_BUCKETS, registry=CollectorRegistry())
    for value in values:
        one_by_one.observe(value)
    observe_many(at_once, values)
    expected, found = samples(one_by_one), samples(at_once)
    assert found.keys() == expected.keys()
    total = ("one_sum", "")
    assert found.pop(total) == pytest.approx(expected.pop(total), abs=1e-9)
    assert found == expected  # every bucket, its edges (0.01, 0.05, 0.1, 1.0) included
