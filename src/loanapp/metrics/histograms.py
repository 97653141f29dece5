"""Many observations of one histogram at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import Histogram


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """What `histogram.observe` of each value does, one write per bucket instead of two per value.

    In multiprocess mode every observation is two locked writes to a memory-mapped file, about
    3 µs; a batch of 100 rows took 0.3 ms. This counts the values per bucket first (bucket i holds
    the values at most its upper bound and above the one before, as `observe` files them) and uses
    prometheus_client's own per-bucket values, which `observe` itself writes.
    """
    bounds = histogram._upper_bounds
    places = np.searchsorted(bounds, np.asarray(values, dtype=np.float64), side="left")
    counts = np.bincount(places, minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts.tolist(), strict=False):
        if count:
            bucket.inc(count)
    histogram._sum.inc(float(np.sum(values)))
