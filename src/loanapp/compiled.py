"""Compiled predictors: the fitted pipelines re-expressed as a few numpy array operations.

scikit-learn spends milliseconds per call on input checks, pandas and per-tree Python overhead;
the arithmetic itself is microseconds. At training time, loanapp.training.compile reads the fitted
parameters of a supported pipeline into plain arrays, stored in the artifact as `compiled.npz`
(loaded with `allow_pickle=False`: data only, never code). This module is the runtime: the
predict API evaluates the arrays with numpy alone, so its workers never import scikit-learn,
scipy or pandas unless they must fall back. Results equal scikit-learn's to floating-point rounding
(~1e-15); a compiled model is only served after it reproduces the reference rows recorded at
training time.

Trees are evaluated for all rows at once: every node's test on every row is one array comparison,
and a row's tests at one tree, read as the bits of one number (its pattern), decide its exit leaf.
Small trees (up to 8 internal nodes, as training makes them) look the leaf up in a table of every
pattern made at load; larger ones use the QuickScorer scheme (Lucchese et al., SIGIR 2015): each
tree's leaves are bits of a mask, every node whose test sends a row right clears the bits of the
leaves in its left subtree, and the exit leaf is the lowest bit left standing.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from loanapp.errors import ArtifactFormatError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
PatternArray = npt.NDArray[np.unsignedinteger[Any]]
COMPILED_MEMBER = "compiled.npz"
_TREE_ARRAYS = ("feature", "threshold", "missing_left", "right_mask", "tree_starts", "leaf_values")
_NODE_ARRAYS = _TREE_ARRAYS[:4]
# What explanations need beyond the prediction (loanapp.explain). Compiled forms written before
# explanations lack them: those still load and serve, without explanations.
_COVER_ARRAYS = ("left_cover", "right_cover", "subtree_mask")
_DESIGN_MEAN = "design_mean"
_MAX_LEAVES = 64  # one uint64 mask per tree
PATTERN_TABLE_WIDTH = 8
_WORD_POSITIONS = 8  # node positions of a small tree in the layout: one 64-bit word of tests
_GATHER_BYTE_BITS = np.uint64(0x0102040810204080)
"""Trees of at most this many internal nodes find their exit leaf in a table of every way through
them (2**8 values per tree) instead of combining their nodes' masks."""
# What reading malformed bytes raises: numpy, zipfile and json errors (an unknown compression,
# an encrypted member and deep nesting are RuntimeErrors), and building from arrays that do not fit.
_MALFORMED_ERRORS = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    OSError,
    EOFError,
    RuntimeError,
    MemoryError,
    zipfile.BadZipFile,
    zlib.error,
)


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
        # The design as one term per feature, for one row in plain Python: (column, feature, mean,
        # scale) of each number, (first column, feature, column by category) of each category.
        self.number_columns: list[tuple[int, str, float, float]] = []
        self.category_columns: list[tuple[int, str, dict[str, int]]] = []
        offset = 0
        for block, lookups in zip(self.blocks, self._lookups, strict=True):
            if block.kind == "onehot":
                for feature, lookup in zip(block.features, lookups, strict=True):
                    self.category_columns.append((offset, feature, lookup))
                    offset += len(lookup)
                continue
            means = block.mean if block.kind == "scaled" else (0.0,) * block.width
            scales = block.scale if block.kind == "scaled" else (1.0,) * block.width
            for feature, mean, scale in zip(block.features, means, scales, strict=True):
                self.number_columns.append((offset, feature, mean, scale))
                offset += 1

    def encode(self, columns: Mapping[str, Sequence[Any]], rows: int) -> FloatArray:
        """Design matrix (rows x width) for columns of already validated values."""
        if rows == 1:
            return self._encode_one(columns)
        design = np.zeros((rows, self.width), dtype=np.float64)
        flat = design.ravel()
        row_starts = np.arange(rows) * self.width
        offset = 0
        for block, lookups in zip(self.blocks, self._lookups, strict=True):
            if block.kind == "onehot":
                for feature, lookup, categories in zip(
                    block.features, lookups, block.categories, strict=True
                ):
                    # Unknown categories encode as all zeros, as handle_unknown="ignore" does.
                    column = columns[feature]
                    index = np.fromiter((lookup.get(v, -1) for v in column), np.int64, rows)
                    known = index >= 0
                    flat[row_starts[known] + offset + index[known]] = 1.0
                    offset += len(categories)
                continue
            values = np.array([columns[f] for f in block.features], dtype=np.float64).T
            if block.kind == "scaled":
                values = (values - np.asarray(block.mean)) / np.asarray(block.scale)
            design[:, offset : offset + block.width] = values
            offset += block.width
        return design

    def _encode_one(self, columns: Mapping[str, Sequence[Any]]) -> FloatArray:
        """One row's design matrix, built in plain Python: numpy's per-call cost is larger than
        the work. The same arithmetic in the same float64 as `encode` of many rows."""
        values = [0.0] * self.width
        for column, feature, mean, scale in self.number_columns:
            values[column] = (columns[feature][0] - mean) / scale
        for first, feature, lookup in self.category_columns:
            position = lookup.get(columns[feature][0])
            if position is not None:  # unknown categories encode as all zeros
                values[first + position] = 1.0
        return np.array([values])

    @cached_property
    def column_features(self) -> tuple[str, ...]:
        """The input feature each design column is made from, in column order."""
        names: list[str] = []
        for block in self.blocks:
            if block.kind == "onehot":
                for feature, categories in zip(block.features, block.categories, strict=True):
                    names += [feature] * len(categories)
            else:
                names += block.features
        return tuple(names)


@dataclass(frozen=True)
class LinearScorer:
    """Logistic regression: p(positive) = expit(design @ coef + intercept)."""

    coef: FloatArray
    intercept: float
    design_mean: FloatArray | None = None
    """Mean of each design column over the training rows (a one-hot column's mean is its
    category's frequency): what explanations measure an applicant against. None in compiled forms
    written before explanations."""

    def raw(self, design: FloatArray) -> FloatArray:
        """Decision function per row."""
        return np.asarray(design @ self.coef + self.intercept, dtype=np.float64)


@dataclass(frozen=True)
class NodeCovers:
    """Per internal node: training samples sent left and right, and the leaves below it.

    What path-dependent TreeSHAP weighs a node's branches by (loanapp.treeshap). The subtree mask
    has the bit of every leaf under the node, numbered as in `TreeScorer.leaf_values`.
    """

    left: FloatArray
    right: FloatArray
    subtree_mask: npt.NDArray[np.uint64]


class TreeScorer:
    """Gradient-boosted trees: p(positive) = expit(baseline + sum of each tree's exit leaf)."""

    def __init__(
        self,
        *,
        feature: npt.NDArray[np.int64],
        threshold: FloatArray,
        missing_left: npt.NDArray[np.bool_],
        right_mask: npt.NDArray[np.uint64],
        tree_starts: npt.NDArray[np.int64],
        leaf_values: FloatArray,
        baseline: float,
        covers: NodeCovers | None = None,
    ) -> None:
        self.feature = feature  # per internal node, all trees concatenated
        self.threshold = threshold
        self.missing_left = missing_left
        self.right_mask = right_mask  # leaves still reachable after going right at the node
        self.tree_starts = tree_starts  # first internal node of each tree
        self.leaf_values = leaf_values  # trees x widest tree's leaves, left to right
        self.baseline = baseline
        self.covers = covers  # None in compiled forms written before explanations
        # Evaluation layout: every tree padded to the same number of node positions (padding never
        # goes left and clears nothing), so all trees for all rows are a few whole-array
        # operations. Small trees get 8 positions: a row's tests at one tree fill one 64-bit word.
        mask_type = _narrowest_unsigned(leaf_values.shape[1])
        ends = [*tree_starts[1:].tolist(), len(feature)]
        width = max(
            1, *(end - start for start, end in zip(tree_starts.tolist(), ends, strict=True))
        )
        self.width = width  # most internal nodes of a tree
        positions = _WORD_POSITIONS if width <= _WORD_POSITIONS else width
        shape = (len(tree_starts), positions)  # tree x node position: a tree's nodes side by side
        self._feature = np.zeros(shape, dtype=np.int64)
        self._threshold = np.full(shape, np.nan)  # nothing is <= NaN: padding never goes left
        self._missing_left = np.zeros(shape, dtype=np.bool_)
        self._masks = np.full(shape, np.iinfo(mask_type).max, dtype=mask_type)
        for tree, (start, end) in enumerate(zip(tree_starts.tolist(), ends, strict=True)):
            count = end - start
            self._feature[tree, :count] = feature[start:end]
            self._threshold[tree, :count] = threshold[start:end]
            self._missing_left[tree, :count] = missing_left[start:end]
            self._masks[tree, :count] = right_mask[start:end].astype(mask_type)
        self._leaf_offsets = np.arange(len(tree_starts)) * leaf_values.shape[1]
        self._flat_leaf_values = leaf_values.ravel()
        # Index of the lowest set bit of every possible mask, for masks of up to 16 leaves.
        self._lowest_bit: npt.NDArray[np.int64] | None = None
        if mask_type in (np.uint8, np.uint16):
            values = np.arange(1, int(np.iinfo(mask_type).max) + 1)
            self._lowest_bit = np.zeros(len(values) + 1, dtype=np.int64)
            self._lowest_bit[1:] = np.log2(values & -values).astype(np.int64)
        # A row's way through a tree as one number (`patterns`), in the narrowest type that holds
        # a bit per node position; small trees then find their exit leaf in a table of patterns.
        pattern_type = _narrowest_unsigned(width)
        self._positions = np.arange(positions, dtype=pattern_type)
        self._bits: npt.NDArray[Any] = (1 << self._positions).astype(pattern_type)
        self._pattern_leaves: FloatArray | None = None
        if width <= PATTERN_TABLE_WIDTH:
            self._pattern_leaves = self._leaves_of_every_pattern()
            self._pattern_offsets = np.arange(len(tree_starts)) * 2**width

    def goes_left(self, design: FloatArray) -> BoolArray:
        """Whether each row goes left at each node: rows x trees x node positions.

        Position k of tree t is internal node `tree_starts[t] + k`; positions past a tree's last
        node are padding, and never go left.
        """
        # A row's tests at one tree side by side (`patterns` reads them as one word); for one row a
        # flat take is the cheapest gather.
        if len(design) == 1:
            values = design[0].take(self._feature)[None]
        else:
            values = design.take(self._feature, axis=1)
        goes_left: BoolArray = values <= self._threshold
        # Never after validation; kept for scikit-learn's semantics. One sum is the cheapest test
        # (it is also NaN for inf - inf, where the extra step changes nothing).
        if math.isnan(design.sum()):
            goes_left |= np.isnan(values) & self._missing_left
        return goes_left

    def patterns(self, design: FloatArray) -> PatternArray:
        """Each row's way through each tree (rows x trees): bit k set where it goes left at
        node position k. What the exit leaf, and a row's explanation, depend on."""
        goes_left = self.goes_left(design)
        if goes_left.shape[2] != _WORD_POSITIONS:
            return np.asarray(goes_left.view(np.uint8) @ self._bits)
        # A tree's 8 tests (bytes of 0 or 1) read as one little-endian word; the multiplication
        # moves byte k's bit to bit 56 + k, with no carries into those 8 bits.
        words = goes_left.view("<u8")[..., 0]
        return ((words * _GATHER_BYTE_BITS) >> np.uint64(56)).astype(np.uint8)

    def raw(self, design: FloatArray) -> FloatArray:
        """Sum of the trees' exit-leaf values per row, plus the baseline."""
        return self.raw_from(self.patterns(design))

    def raw_from(self, patterns: PatternArray) -> FloatArray:
        """`raw` from the rows' ways through the trees (as `patterns` gives them)."""
        if self._pattern_leaves is not None:
            leaves = self._pattern_leaves[self._pattern_offsets + patterns]
        else:
            goes_left = (patterns[..., None] >> self._positions) & 1
            leaves = self._exit_leaf_values(goes_left.astype(np.bool_))
        return np.asarray(self.baseline + leaves.sum(axis=1))

    def _exit_leaf_values(self, goes_left: BoolArray) -> FloatArray:
        """The value of each row's exit leaf of each tree (rows x trees)."""
        # Going left keeps every leaf (all bits set: 0 - 1 wraps round), going right the mask.
        keep_all = np.negative(goes_left.view(np.uint8).astype(self._masks.dtype, copy=False))
        reachable = np.bitwise_and.reduce(self._masks | keep_all, axis=2)
        if self._lowest_bit is not None:
            leaf = self._lowest_bit[reachable]
        else:
            wide = reachable.astype(np.uint64)
            leaf = np.log2((wide & (~wide + np.uint64(1))).astype(np.float64)).astype(np.int64)
        return np.asarray(self._flat_leaf_values[self._leaf_offsets + leaf])

    def _leaves_of_every_pattern(self) -> FloatArray:
        """Exit-leaf values of every pattern of every tree, tree by tree (trees x patterns)."""
        every = np.arange(2**self.width, dtype=self._bits.dtype)
        goes_left = (every[:, None] >> self._positions & 1).astype(np.bool_)  # patterns x nodes
        shape = (len(every), len(self.tree_starts), len(self._positions))
        values = self._exit_leaf_values(np.broadcast_to(goes_left[:, None, :], shape))
        return np.ascontiguousarray(values.T).ravel()


def _narrowest_unsigned(bits: int) -> type[np.unsignedinteger[Any]]:
    """The narrowest unsigned integer type of at least `bits` bits (at most 64)."""
    return next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if bits <= 8 * t().itemsize)


class Scored(NamedTuple):
    """Rows scored by a compiled model: their class probabilities, and the intermediate arrays
    that explaining the same rows reuses instead of computing them again."""

    probabilities: FloatArray  # rows x (negative, positive), like `predict_proba`
    design: FloatArray | None = None  # None when one row was scored in plain Python
    patterns: PatternArray | None = None  # trees: `TreeScorer.patterns`

    def take(self, rows: Sequence[int]) -> Scored:
        """The same for some of the rows, in the order given."""
        return Scored(
            self.probabilities[rows],
            None if self.design is None else self.design[rows],
            None if self.patterns is None else self.patterns[rows],
        )


def _probabilities(raw: FloatArray) -> FloatArray:
    """(negative, positive) probabilities from the positive class's log-odds."""
    probabilities = np.empty((len(raw), 2), dtype=np.float64)
    probabilities[:, 1] = 1.0 / (1.0 + np.exp(-raw))
    probabilities[:, 0] = 1.0 - probabilities[:, 1]
    return probabilities


def _one_row_probabilities(raw: float) -> FloatArray:
    """`_probabilities` of one row's log-odds in plain Python: numpy's per-call cost is larger."""
    try:
        positive = 1.0 / (1.0 + math.exp(-raw))
    except OverflowError:  # log-odds below about -709: numpy's 1 / (1 + inf)
        positive = 0.0
    return np.array([[1.0 - positive, positive]])


@dataclass(frozen=True)
class LinearTerms:
    """A linear model per feature: the score is intercept + (value - mean) / scale * coef for
    each numeric feature + the weight of its category for each categorical one (0 if unseen)."""

    intercept: float
    numeric: tuple[tuple[str, float, float, float], ...]  # name, mean, scale, coef
    categorical: tuple[tuple[str, dict[str, float]], ...]  # name, weight by category


@dataclass(frozen=True)
class CompiledModel:
    """A supported pipeline as an encoder and a scorer, for two classes."""

    encoder: Encoder
    scorer: LinearScorer | TreeScorer
    kind: str

    def predict_proba(self, columns: Mapping[str, Sequence[Any]], rows: int) -> FloatArray:
        """Probabilities of (negative, positive) class per row, like `predict_proba`."""
        return self.score(columns, rows).probabilities

    def score(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Scored:
        """`predict_proba`, with the arrays an explanation of the same rows can reuse."""
        if rows == 1 and isinstance(self.scorer, LinearScorer):  # plain Python: nothing to reuse
            return Scored(_one_row_probabilities(self._linear_one(columns)))
        design = self.encoder.encode(columns, rows)
        patterns = None
        if isinstance(self.scorer, LinearScorer):
            raw = self.scorer.raw(design)
        else:
            patterns = self.scorer.patterns(design)
            raw = self.scorer.raw_from(patterns)
        probabilities = _one_row_probabilities(float(raw[0])) if rows == 1 else _probabilities(raw)
        return Scored(probabilities, design, patterns)

    def _linear_one(self, columns: Mapping[str, Sequence[Any]]) -> float:
        """Decision function of one row in plain Python: cheaper than numpy calls for one row."""
        terms = self.linear_terms
        total = terms.intercept
        for name, mean, scale, coef in terms.numeric:
            total += (columns[name][0] - mean) / scale * coef
        for name, weights in terms.categorical:
            total += weights.get(columns[name][0], 0.0)
        return total

    @cached_property
    def linear_terms(self) -> LinearTerms:
        """The linear model as one term per feature, for one row in plain Python."""
        assert isinstance(self.scorer, LinearScorer)
        coef = self.scorer.coef.tolist()
        encoder = self.encoder
        numeric = tuple(
            (name, mean, scale, coef[column])
            for column, name, mean, scale in encoder.number_columns
        )
        categorical = tuple(
            (name, {category: coef[first + at] for category, at in lookup.items()})
            for first, name, lookup in encoder.category_columns
        )
        return LinearTerms(self.scorer.intercept, numeric, categorical)

    def to_bytes(self) -> bytes:
        """The arrays and layout as an .npz archive (no pickles)."""
        layout = {"kind": self.kind, "blocks": [vars(block) for block in self.encoder.blocks]}
        arrays: dict[str, Any] = {"layout": np.array(json.dumps(layout))}
        scorer = self.scorer
        if isinstance(scorer, LinearScorer):
            arrays |= {"coef": scorer.coef, "intercept": np.array(scorer.intercept)}
            if scorer.design_mean is not None:
                arrays[_DESIGN_MEAN] = scorer.design_mean
        else:
            arrays |= {name: getattr(scorer, name) for name in _TREE_ARRAYS}
            arrays["baseline"] = np.array(scorer.baseline)
            if scorer.covers is not None:
                covers = scorer.covers
                arrays |= dict(
                    zip(
                        _COVER_ARRAYS, (covers.left, covers.right, covers.subtree_mask), strict=True
                    )
                )
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
                scorer = LinearScorer(
                    arrays["coef"], float(arrays["intercept"]), _design_mean(arrays)
                )
            else:
                _check_tree_arrays(arrays)
                scorer = TreeScorer(
                    **{name: arrays[name] for name in _TREE_ARRAYS},
                    baseline=float(arrays["baseline"]),
                    covers=_covers(arrays),
                )
            return cls(encoder=Encoder(blocks), scorer=scorer, kind=layout["kind"])
        except _MALFORMED_ERRORS as exc:
            raise ArtifactFormatError(f"{COMPILED_MEMBER} is malformed ({exc})") from exc


def _check_tree_arrays(arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Raise ValueError unless the tree arrays fit together (TreeScorer sizes buffers by them)."""
    nodes = len(arrays["feature"])
    if any(arrays[name].shape != (nodes,) for name in _NODE_ARRAYS):
        raise ValueError(f"the node arrays {', '.join(_NODE_ARRAYS)} differ in shape")
    starts, leaves = arrays["tree_starts"], arrays["leaf_values"]
    if starts.ndim != 1 or len(starts) == 0 or starts[0] != 0 or starts[-1] > nodes:
        raise ValueError("tree_starts does not index the node arrays")
    if np.any(np.diff(starts) < 0):
        raise ValueError("tree_starts is not sorted")
    if leaves.ndim != 2 or len(leaves) != len(starts) or not 0 < leaves.shape[1] <= _MAX_LEAVES:
        raise ValueError(f"leaf_values is not one row of 1 to {_MAX_LEAVES} leaves per tree")


def _design_mean(arrays: Mapping[str, npt.NDArray[Any]]) -> FloatArray | None:
    """The linear model's design means if stored; ValueError if they do not fit the coefficients."""
    if _DESIGN_MEAN not in arrays:
        return None
    mean = np.asarray(arrays[_DESIGN_MEAN], dtype=np.float64)
    if mean.shape != arrays["coef"].shape:
        raise ValueError(f"{_DESIGN_MEAN} is not one value per coefficient")
    return mean


def _covers(arrays: Mapping[str, npt.NDArray[Any]]) -> NodeCovers | None:
    """The trees' node covers if stored; ValueError unless all are, one value per node."""
    present = [name for name in _COVER_ARRAYS if name in arrays]
    if not present:
        return None
    nodes = len(arrays["feature"])
    if present != list(_COVER_ARRAYS) or any(arrays[n].shape != (nodes,) for n in present):
        raise ValueError(f"the node arrays {', '.join(_COVER_ARRAYS)} are not one value per node")
    return NodeCovers(
        left=np.asarray(arrays["left_cover"], dtype=np.float64),
        right=np.asarray(arrays["right_cover"], dtype=np.float64),
        subtree_mask=np.asarray(arrays["subtree_mask"], dtype=np.uint64),
    )


def _block_from_json(block: dict[str, Any]) -> Block:
    return Block(
        kind=block["kind"],
        features=tuple(block["features"]),
        mean=tuple(block["mean"]),
        scale=tuple(block["scale"]),
        categories=tuple(tuple(c) for c in block["categories"]),
    )
