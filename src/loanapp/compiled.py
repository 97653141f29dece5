"""Compiled predictors: the fitted pipelines re-expressed as a few numpy array operations.

scikit-learn spends milliseconds per call on input checks, pandas and per-tree Python overhead;
the arithmetic itself is microseconds. At training time `compile_pipeline` reads the fitted
parameters of a supported pipeline (a ColumnTransformer of StandardScaler / OneHotEncoder /
passthrough, then LogisticRegression or HistGradientBoostingClassifier) into plain arrays, stored
in the artifact as `compiled.npz` (loaded with `allow_pickle=False`: data only, never code). The
predict API evaluates them with numpy alone, so its workers never import scikit-learn, scipy or
pandas unless they must fall back. Results equal scikit-learn's to floating-point rounding
(~1e-15); a compiled model is only served after it reproduces the reference rows recorded at
training time.

Trees are evaluated with the QuickScorer scheme (Lucchese et al., SIGIR 2015): each tree's leaves
are bits of a mask, every node whose test sends a row right clears the bits of the leaves in its
left subtree, and the exit leaf is the lowest bit left standing. That turns the traversal of every
tree for every row into a handful of vectorised operations.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loanapp.errors import ArtifactFormatError

FloatArray = npt.NDArray[np.float64]
COMPILED_MEMBER = "compiled.npz"
MAX_LEAVES_PER_TREE = 64  # one uint64 mask per tree
_TREE_ARRAYS = ("feature", "threshold", "missing_left", "right_mask", "tree_starts", "leaf_values")


@dataclass(frozen=True)
class Block:
    """A run of design-matrix columns made from some input features."""

    kind: str  # "scaled" | "raw" | "onehot"
    features: tuple[str, ...]
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()

    @property
    def width(self) -> int:
        """Number of design columns the block fills."""
        if self.kind == "onehot":
            return sum(len(c) for c in self.categories)
        return len(self.features)


class Encoder:
    """Builds the pipeline's design matrix from validated columns, as its ColumnTransformer does."""

    def __init__(self, blocks: Sequence[Block]) -> None:
        self.blocks = tuple(blocks)
        self.width = sum(block.width for block in self.blocks)
        self._lookups = [
            [{category: index for index, category in enumerate(c)} for c in block.categories]
            for block in self.blocks
        ]

    def encode(self, columns: Mapping[str, Sequence[Any]], rows: int) -> FloatArray:
        """Design matrix (rows x width) for columns of already validated values."""
        design = np.zeros((rows, self.width), dtype=np.float64)
        offset = 0
        for block, lookups in zip(self.blocks, self._lookups, strict=True):
            if block.kind == "onehot":
                for feature, lookup, categories in zip(
                    block.features, lookups, block.categories, strict=True
                ):
                    for row, value in enumerate(columns[feature]):
                        index = lookup.get(value)
                        if index is not None:  # unknown categories encode as all zeros
                            design[row, offset + index] = 1.0
                    offset += len(categories)
                continue
            values = np.array([columns[f] for f in block.features], dtype=np.float64).T
            if block.kind == "scaled":
                values = (values - np.asarray(block.mean)) / np.asarray(block.scale)
            design[:, offset : offset + block.width] = values
            offset += block.width
        return design


@dataclass(frozen=True)
class LinearScorer:
    """Logistic regression: p(positive) = expit(design @ coef + intercept)."""

    coef: FloatArray
    intercept: float

    def raw(self, design: FloatArray) -> FloatArray:
        """Decision function per row."""
        return np.asarray(design @ self.coef + self.intercept, dtype=np.float64)


@dataclass(frozen=True)
class TreeScorer:
    """Gradient-boosted trees: p(positive) = expit(baseline + sum of each tree's exit leaf)."""

    feature: npt.NDArray[np.int64]  # per internal node, all trees concatenated
    threshold: FloatArray
    missing_left: npt.NDArray[np.bool_]
    right_mask: npt.NDArray[np.uint64]  # leaves still reachable after going right at the node
    tree_starts: npt.NDArray[np.int64]  # first internal node of each tree
    leaf_values: FloatArray  # trees x MAX leaves, left to right
    baseline: float

    def raw(self, design: FloatArray) -> FloatArray:
        """Sum of the trees' exit-leaf values per row, plus the baseline."""
        values = design[:, self.feature]
        goes_left = values <= self.threshold
        missing = np.isnan(values)
        if missing.any():
            goes_left |= missing & self.missing_left
        masks = np.where(goes_left, np.uint64(0xFFFFFFFFFFFFFFFF), self.right_mask)
        reachable = np.bitwise_and.reduceat(masks, self.tree_starts, axis=1)
        lowest = reachable & (~reachable + np.uint64(1))
        leaf = np.log2(lowest.astype(np.float64)).astype(np.int64)
        trees = np.arange(self.leaf_values.shape[0])
        return np.asarray(self.baseline + self.leaf_values[trees, leaf].sum(axis=1))


@dataclass(frozen=True)
class CompiledModel:
    """A supported pipeline as an encoder and a scorer, for two classes."""

    encoder: Encoder
    scorer: LinearScorer | TreeScorer
    kind: str

    def predict_proba(self, columns: Mapping[str, Sequence[Any]], rows: int) -> FloatArray:
        """Probabilities of (negative, positive) class per row, like `predict_proba`."""
        positive = 1.0 / (1.0 + np.exp(-self.scorer.raw(self.encoder.encode(columns, rows))))
        return np.column_stack((1.0 - positive, positive))

    def to_bytes(self) -> bytes:
        """The arrays and layout as an .npz archive (no pickles)."""
        layout = {"kind": self.kind, "blocks": [vars(block) for block in self.encoder.blocks]}
        arrays: dict[str, Any] = {"layout": np.array(json.dumps(layout))}
        if isinstance(self.scorer, LinearScorer):
            arrays |= {"coef": self.scorer.coef, "intercept": np.array(self.scorer.intercept)}
        else:
            arrays |= {name: getattr(self.scorer, name) for name in _TREE_ARRAYS}
            arrays["baseline"] = np.array(self.scorer.baseline)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CompiledModel:
        """Read an archive written by `to_bytes`; ArtifactFormatError if it is malformed."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            layout = json.loads(str(arrays["layout"]))
            blocks = [_block_from_json(block) for block in layout["blocks"]]
            scorer: LinearScorer | TreeScorer
            if layout["kind"] == "linear":
                scorer = LinearScorer(arrays["coef"], float(arrays["intercept"]))
            else:
                scorer = TreeScorer(
                    **{name: arrays[name] for name in _TREE_ARRAYS},
                    baseline=float(arrays["baseline"]),
                )
            return cls(encoder=Encoder(blocks), scorer=scorer, kind=layout["kind"])
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ArtifactFormatError(f"{COMPILED_MEMBER} is malformed ({exc})") from exc


def _block_from_json(block: dict[str, Any]) -> Block:
    return Block(
        kind=block["kind"],
        features=tuple(block["features"]),
        mean=tuple(block["mean"]),
        scale=tuple(block["scale"]),
        categories=tuple(tuple(c) for c in block["categories"]),
    )


def compile_pipeline(pipeline: Any) -> CompiledModel | None:
    """The compiled form of a fitted pipeline, or None if its shape is not one we support."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or not isinstance(steps[0][1], ColumnTransformer):
        return None
    blocks = _compile_blocks(steps[0][1])
    classifier = steps[1][1]
    if blocks is None or len(getattr(classifier, "classes_", ())) != 2:
        return None
    if isinstance(classifier, LogisticRegression):
        scorer: LinearScorer | TreeScorer | None = LinearScorer(
            np.asarray(classifier.coef_[0], dtype=np.float64), float(classifier.intercept_[0])
        )
        kind = "linear"
    elif isinstance(classifier, HistGradientBoostingClassifier):
        scorer, kind = _compile_trees(classifier), "trees"
    else:
        return None
    return None if scorer is None else CompiledModel(Encoder(blocks), scorer, kind)


def _compile_blocks(transformer: Any) -> list[Block] | None:
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    blocks = []
    for _name, step, features in transformer.transformers_:
        names = tuple(str(f) for f in features)
        if (isinstance(step, str) and step == "drop") or not names:
            continue
        # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
        if (isinstance(step, str) and step == "passthrough") or (
            isinstance(step, FunctionTransformer) and step.func is None
        ):
            blocks.append(Block("raw", names))
        elif isinstance(step, StandardScaler) and step.with_mean and step.with_std:
            blocks.append(Block("scaled", names, tuple(step.mean_), tuple(step.scale_)))
        elif isinstance(step, OneHotEncoder) and step.drop is None and not _infrequent(step):
            categories = tuple(tuple(str(c) for c in values) for values in step.categories_)
            blocks.append(Block("onehot", names, categories=categories))
        else:
            return None
    return blocks


def _infrequent(encoder: Any) -> bool:
    return encoder.min_frequency is not None or encoder.max_categories is not None


def _compile_trees(classifier: Any) -> TreeScorer | None:
    if classifier.n_trees_per_iteration_ != 1:
        return None
    features: list[int] = []
    thresholds: list[float] = []
    missing_left: list[bool] = []
    right_masks: list[int] = []
    starts: list[int] = []
    leaves: list[list[float]] = []
    for (predictor,) in classifier._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            return None
        tree_leaves = _leaves_in_order(nodes, 0)
        if len(tree_leaves) > MAX_LEAVES_PER_TREE:
            return None
        position = {node: bit for bit, node in enumerate(tree_leaves)}
        starts.append(len(features))
        internal = [i for i in range(len(nodes)) if not nodes["is_leaf"][i]]
        for node in internal or [0]:  # a one-leaf tree gets a node that always goes left
            if nodes["is_leaf"][node]:
                features.append(0)
                thresholds.append(np.inf)
                missing_left.append(True)
                right_masks.append(0)
                continue
            cleared = sum(
                1 << position[leaf] for leaf in _leaves_in_order(nodes, nodes["left"][node])
            )
            features.append(int(nodes["feature_idx"][node]))
            thresholds.append(float(nodes["num_threshold"][node]))
            missing_left.append(bool(nodes["missing_go_to_left"][node]))
            right_masks.append(~cleared & 0xFFFFFFFFFFFFFFFF)
        leaves.append([float(nodes["value"][leaf]) for leaf in tree_leaves])
    widest = max(len(values) for values in leaves)
    leaf_values = np.zeros((len(leaves), widest), dtype=np.float64)
    for tree, values in enumerate(leaves):
        leaf_values[tree, : len(values)] = values
    return TreeScorer(
        feature=np.asarray(features, dtype=np.int64),
        threshold=np.asarray(thresholds, dtype=np.float64),
        missing_left=np.asarray(missing_left, dtype=np.bool_),
        right_mask=np.asarray(right_masks, dtype=np.uint64),
        tree_starts=np.asarray(starts, dtype=np.int64),
        leaf_values=leaf_values,
        baseline=float(np.asarray(classifier._baseline_prediction).ravel()[0]),
    )


def _leaves_in_order(nodes: Any, node: int) -> list[int]:
    """Leaf node ids under `node`, left to right."""
    if nodes["is_leaf"][node]:
        return [node]
    return _leaves_in_order(nodes, int(nodes["left"][node])) + _leaves_in_order(
        nodes, int(nodes["right"][node])
    )
