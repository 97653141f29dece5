"""The training distribution a model version is watched against, stored in its artifact.

At training time each feature is summarised as bins and the share of training rows in each: a
number by its training deciles (ties merged, so a feature that is mostly 0 has few bins), a
category by its training categories plus one bin for categories training never saw. The score
(p(bad)) is summarised the same way from the out-of-fold predictions, the honest guess at what
live scores look like, with their mean and the share approved at the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandas as pd

QUANTILES = tuple(q / 10 for q in range(1, 10))
"""Inner edges of a number's bins: the training deciles, each a value seen in training."""
UNSEEN = "(unseen)"
"""The bin of a category value training never saw."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BinnedDistribution(_Frozen):
    """Shares of training rows per bin: bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""

    kind: Literal["number"] = "number"
    edges: tuple[float, ...]
    shares: tuple[float, ...]

    def counts(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """How many of `values` fall in each bin."""
        places = np.searchsorted(np.asarray(self.edges), values, side="left")
        return np.bincount(places, minlength=len(self.edges) + 1).astype(np.int64)


class CategoryDistribution(_Frozen):
    """Shares of training rows per category; the last share is the unseen bin's (0 in training)."""

    kind: Literal["category"] = "category"
    categories: tuple[str, ...]
    shares: tuple[float, ...]

    def counts(self, values: Sequence[object]) -> npt.NDArray[np.int64]:
        """How many of `values` are each category, unseen ones counted in the last bin."""
        place = {category: index for index, category in enumerate(self.categories)}
        unseen = len(self.categories)
        places = np.fromiter((place.get(str(v), unseen) for v in values), dtype=np.int64)
        return np.bincount(places, minlength=unseen + 1).astype(np.int64)


class ScoreProfile(_Frozen):
    """The out-of-fold p(bad) of the training rows: its bins, mean and approval rate."""

    distribution: BinnedDistribution
    mean: float
    approval_rate: float


class TrainingProfile(_Frozen):
    """What `loanapp monitor` compares live rows and scores with."""

    rows: int
    features: dict[str, BinnedDistribution | CategoryDistribution]
    score: ScoreProfile


def binned(values: npt.NDArray[np.float64]) -> BinnedDistribution:
    """A number's training bins (deciles, ties merged) and their shares."""
    edges = np.unique(np.quantile(values, QUANTILES, method="inverted_cdf"))
    places = np.searchsorted(edges, values, side="left")
    shares = np.bincount(places, minlength=len(edges) + 1) / len(values)
    return BinnedDistribution(edges=tuple(edges.tolist()), shares=tuple(shares.tolist()))


def build_profile(
    features: pd.DataFrame, scores: npt.NDArray[np.float64], threshold: float
) -> TrainingProfile:
    """The profile of a training frame and its out-of-fold positive-class scores."""
    import pandas as pd

    described: dict[str, BinnedDistribution | CategoryDistribution] = {}
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_numeric_dtype(column):
            described[name] = binned(column.to_numpy(dtype=np.float64))
        else:
            shares = column.astype(str).value_counts(normalize=True).sort_index()
            described[name] = CategoryDistribution(
                categories=tuple(shares.index.tolist()), shares=(*shares.tolist(), 0.0)
            )
    return TrainingProfile(
        rows=len(features),
        features=described,
        score=ScoreProfile(
            distribution=binned(scores),
            mean=float(np.mean(scores)),
            approval_rate=float(np.mean(scores < threshold)),
        ),
    )
