"""Exact path-dependent TreeSHAP of compiled trees, mostly looked up in tables made at load.

Path-dependent TreeSHAP (Lundberg et al., Nature Machine Intelligence 2020, Algorithm 2) gives
each design column of a row the Shapley value of the game "the tree's output when the columns in S
take the row's values and the others are averaged over the tree's training samples, branch by
branch". A leaf's part of that output is

    value(leaf) * product over the distinct columns j tested on its path of (one_j if j in S
    else zero_j),

where zero_j is the share of training samples that followed the path at the nodes testing j (the
product of their branches' covers over the nodes' covers), and one_j is 1 if the row follows the
path at every node testing j, else 0. The Shapley value of column i in that product game is

    value * (one_i - zero_i) * sum over k of w(k, d) * [t^k] product over j != i of
    (zero_j + one_j * t),   with w(k, d) = k! (d - k - 1)! / d!,

which `leaf_shapley` computes for many leaves at once: the polynomial is built column by column,
then divided by each column's own factor (the paper's EXTEND and UNWIND). Paths are padded to one
length with columns whose one and zero are both 1: they change no product, so they are null players
and leave every other Shapley value as it is.

A row enters only through which way it goes at each node. A tree of n internal nodes has 2^n such
patterns, so when the tables fit in `MAX_TABLE_BYTES`, every pattern's per-feature values are
computed once, at load, and explaining a row costs one lookup per tree. Larger trees are evaluated
per request: exactly the same numbers, more slowly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loanapp.compiled import FloatArray, PatternArray, TreeScorer

IntArray = npt.NDArray[np.int64]
MaskArray = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

MAX_TABLE_BYTES = 16 * 2**20
"""Largest lookup tables kept in memory; past that, rows are explained per request."""
_CHUNK_ELEMENTS = 2**21  # bounds the temporary arrays of one leaf_shapley call (~16 MiB each)


@dataclass(frozen=True)
class LeafPaths:
    """Every leaf's path as distinct design columns ("slots"), padded to one length."""

    tree: IntArray  # leaves: the tree of each leaf
    value: FloatArray  # leaves
    column: IntArray  # leaves x slots: design column of each slot, -1 for padding
    zero: FloatArray  # leaves x slots: share of training samples following the path; 1 padding
    need_left: MaskArray  # leaves x slots: node positions where the row must go left
    need_right: MaskArray  # leaves x slots: node positions where the row must go right


def follows(patterns: MaskArray, need_left: MaskArray, need_right: MaskArray) -> BoolArray:
    """Whether rows follow leaves' paths at each slot's nodes: rows x leaves x slots.

    `patterns` has, per row and leaf, a bit set for each node position of the leaf's tree where
    the row goes left (rows x leaves); the masks are those of the leaves' slots.
    """
    pattern = patterns[..., None]
    follows_left = (pattern & need_left) == need_left
    return np.asarray(follows_left & ((~pattern & need_right) == need_right), dtype=np.bool_)


def leaf_paths(scorer: TreeScorer) -> LeafPaths:
    """The paths of every leaf of every tree; ValueError without positive node covers."""
    covers = scorer.covers
    if covers is None:
        raise ValueError("the compiled trees carry no node covers")
    ends = [*scorer.tree_starts[1:].tolist(), len(scorer.feature)]
    paths: list[tuple[int, float, dict[int, _Slot]]] = []
    for tree, (start, end) in enumerate(zip(scorer.tree_starts.tolist(), ends, strict=True)):
        subtree = covers.subtree_mask[start:end].tolist()
        leaves = int(np.bitwise_or.reduce(covers.subtree_mask[start:end])) or 1  # 1: one leaf
        for bit in range(leaves.bit_length()):
            if leaves >> bit & 1:
                on_path = [k for k, mask in enumerate(subtree) if mask >> bit & 1]
                slots = _slots(scorer, start, on_path, bit)
                paths.append((tree, float(scorer.leaf_values[tree, bit]), slots))
    width = max([len(slots) for _, _, slots in paths] + [1])
    column = np.full((len(paths), width), -1, dtype=np.int64)
    zero = np.ones((len(paths), width))
    need_left = np.zeros((len(paths), width), dtype=np.uint64)
    need_right = np.zeros((len(paths), width), dtype=np.uint64)
    for leaf, (_, _, slots) in enumerate(paths):
        for slot, (feature, found) in enumerate(slots.items()):
            column[leaf, slot] = feature
            zero[leaf, slot] = found.zero
            need_left[leaf, slot] = found.left
            need_right[leaf, slot] = found.right
    return LeafPaths(
        tree=np.array([tree for tree, _, _ in paths], dtype=np.int64),
        value=np.array([value for _, value, _ in paths], dtype=np.float64),
        column=column,
        zero=zero,
        need_left=need_left,
        need_right=need_right,
    )


@dataclass
class _Slot:
    """One design column on a path: its zero fraction, and where the path goes left and right."""

    zero: float = 1.0
    left: int = 0
    right: int = 0


def _slots(scorer: TreeScorer, start: int, positions: list[int], bit: int) -> dict[int, _Slot]:
    """The path to leaf `bit` through node `positions` of the tree starting at node `start`."""
    assert scorer.covers is not None
    slots: dict[int, _Slot] = {}
    for position in positions:
        node = start + position
        left, right = float(scorer.covers.left[node]), float(scorer.covers.right[node])
        if not (left > 0 and right > 0 and math.isfinite(left + right)):
            raise ValueError(f"node {node} has covers {left} and {right}, not both positive")
        goes_left = not int(scorer.right_mask[node]) >> bit & 1
        slot = slots.setdefault(int(scorer.feature[node]), _Slot())
        slot.zero *= (left if goes_left else right) / (left + right)
        if goes_left:
            slot.left |= 1 << position
        else:
            slot.right |= 1 << position
    return slots


def leaf_shapley(one: BoolArray, zero: FloatArray, value: FloatArray) -> FloatArray:
    """Shapley value of each slot of each leaf's product game: rows x leaves x slots."""
    rows, leaves, width = one.shape
    ones = one.astype(np.float64)
    # EXTEND: coefficients, by power of t, of the product over slots of (zero + one * t).
    poly = np.zeros((rows, leaves, width + 1))
    poly[..., 0] = 1.0
    for slot in range(width):
        shifted = poly[..., :-1] * ones[..., slot, None]
        poly *= zero[:, slot, None]
        poly[..., 1:] += shifted
    weights = np.array(
        [math.factorial(k) * math.factorial(width - k - 1) for k in range(width)], dtype=np.float64
    ) / math.factorial(width)
    # UNWIND a slot the row does not follow: its factor is the constant zero.
    shares_off_path = (poly[..., :width] @ weights)[..., None] / zero
    # UNWIND a slot the row follows: divide by (zero + t) from the highest power down, which only
    # ever multiplies rounding errors by zero <= 1.
    quotient = np.repeat(poly[..., width, None], width, axis=-1)
    shares_on_path = quotient * weights[width - 1]
    for power in range(width - 1, 0, -1):
        quotient = poly[..., power, None] - zero * quotient
        shares_on_path += quotient * weights[power - 1]
    shares = np.where(one, shares_on_path, shares_off_path)
    return np.asarray(value[:, None] * (ones - zero) * shares, dtype=np.float64)


@dataclass(frozen=True)
class Tables:
    """SHAP values for every pattern of every (feature, tree) pair that occurs, each summed over
    the tree's design columns made from the feature. Pairs are sorted by feature."""

    values: FloatArray  # pairs * patterns: pair p's value for pattern q at p * patterns + q
    pair_tree: IntArray  # pairs: the tree of each pair
    offsets: IntArray  # pairs: where each pair's values start
    features: IntArray  # the features that occur, in order
    starts: IntArray  # where each of `features` starts among the pairs


def make_tables(paths: LeafPaths, slot_feature: IntArray, features: int, width: int) -> Tables:
    """The tables of trees of `width` node positions; `slot_feature` is the feature of each
    leaf slot (leaves x slots), `features` for padding."""
    patterns, trees = 2**width, int(paths.tree.max()) + 1
    real = slot_feature < features
    keys = (slot_feature * trees + paths.tree[:, None])[real]
    pair_keys, pair_of_real = np.unique(keys, return_inverse=True)  # by feature, then tree
    pair = np.zeros_like(slot_feature)  # padding's exact zeros go to pair 0
    pair[real] = pair_of_real
    combinations, combination_starts = leaf_combinations(paths)
    slot_bits = real * (1 << np.arange(real.shape[1]))  # a leaf's real slots as combination bits
    table = np.zeros(len(pair_keys) * patterns)
    every = np.arange(patterns, dtype=np.uint64)[:, None]  # patterns x 1 leaf, broadcast
    for leaves in _chunks(len(paths.tree), patterns * real.shape[1]):
        one = follows(every, paths.need_left[leaves], paths.need_right[leaves])
        combination = combination_starts[leaves] + (one * slot_bits[leaves]).sum(axis=2)
        index = pair[leaves][None] * patterns + every.astype(np.int64)[..., None]
        table += np.bincount(index.ravel(), combinations[combination].ravel(), len(table))
    features_present, starts = np.unique(pair_keys // trees, return_index=True)
    return Tables(
        values=table,
        pair_tree=pair_keys % trees,
        offsets=np.arange(len(pair_keys)) * patterns,
        features=features_present,
        starts=starts,
    )


def leaf_combinations(paths: LeafPaths) -> tuple[FloatArray, IntArray]:
    """Every leaf's Shapley values for every combination of the slots a row follows.

    A leaf with d real slots has 2^d combinations, bit j set when the row follows slot j; they
    are rows start .. start + 2^d - 1 of the values (combinations x slots), `start` the leaf's
    entry in the starts returned.
    """
    counts = (paths.column >= 0).sum(axis=1)
    sizes = 2**counts
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    values = np.zeros((int(sizes.sum()), paths.column.shape[1]))
    for count in np.unique(counts).tolist():
        leaves = np.flatnonzero(counts == count)
        every = np.arange(2**count)
        bits = (every[:, None] >> np.arange(count) & 1).astype(np.bool_)  # combinations x slots
        one = np.broadcast_to(bits[:, None, :], (len(every), len(leaves), count))
        shapley = leaf_shapley(one, paths.zero[leaves, :count], paths.value[leaves])
        values[starts[leaves][None, :] + every[:, None], :count] = shapley
    return values, starts


def combinations_bytes(paths: LeafPaths) -> int:
    """Memory `leaf_combinations` takes."""
    combinations = int((2 ** (paths.column >= 0).sum(axis=1)).sum())
    return combinations * int(paths.column.shape[1]) * 8


class PathDependentShap:
    """Per-feature path-dependent SHAP values of compiled trees, in log-odds."""

    def __init__(self, scorer: TreeScorer, column_feature: Sequence[int], features: int) -> None:
        """`column_feature[c]` is the output feature (0 .. features-1) of design column c."""
        self.features = features
        self.paths = leaf_paths(scorer)
        self.base_value = float(
            scorer.baseline + np.sum(self.paths.value * self.paths.zero.prod(axis=1))
        )
        # A padding slot's values are exactly 0; they are counted in a spare last feature.
        lookup = np.append(np.asarray(column_feature, dtype=np.int64), features)
        self._slot_feature = lookup[self.paths.column]  # leaves x slots
        pairs = len(scorer.tree_starts) * min(scorer.width, features)  # at most
        fits = max(pairs * 2**scorer.width * 8, combinations_bytes(self.paths)) <= MAX_TABLE_BYTES
        self.tables = (
            make_tables(self.paths, self._slot_feature, features, scorer.width) if fits else None
        )

    def contributions(self, patterns: PatternArray) -> FloatArray:
        """SHAP values per row and feature (rows x features) of rows that went the ways
        `patterns` gives (`TreeScorer.patterns`); they add up to raw - base_value."""
        tables = self.tables
        if tables is None:
            return self._evaluate(patterns)
        result = np.zeros((len(patterns), self.features))
        if len(patterns) == 1:  # one applicant: one-dimensional calls are the cheapest
            values = tables.values.take(tables.offsets + patterns[0].take(tables.pair_tree))
            result[0, tables.features] = np.add.reduceat(values, tables.starts)
            return result
        values = tables.values[tables.offsets + patterns[:, tables.pair_tree]]  # rows x pairs
        result[:, tables.features] = np.add.reduceat(values, tables.starts, axis=1)
        return result

    def _evaluate(self, patterns: npt.NDArray[Any]) -> FloatArray:
        """Values of rows whose trees are too large for tables, a few rows at a time."""
        paths, spare = self.paths, self.features + 1
        result = np.zeros((len(patterns), self.features))
        step = max(1, _CHUNK_ELEMENTS // (len(paths.tree) * (paths.column.shape[1] + 1)))
        for start in range(0, len(patterns), step):
            rows = patterns[start : start + step].astype(np.uint64)[:, paths.tree]
            one = follows(rows, paths.need_left, paths.need_right)
            shapley = leaf_shapley(one, paths.zero, paths.value).reshape(len(rows), -1)
            index = np.arange(len(rows))[:, None] * spare + self._slot_feature.reshape(1, -1)
            sums = np.bincount(index.ravel(), shapley.ravel(), minlength=len(rows) * spare)
            result[start : start + step] = sums.reshape(len(rows), spare)[:, : self.features]
        return result


def _chunks(leaves: int, elements_per_leaf: int) -> list[IntArray]:
    """Leaf indices in runs small enough for one call on `elements_per_leaf` values each."""
    step = max(1, _CHUNK_ELEMENTS // elements_per_leaf)
    return [np.arange(start, min(start + step, leaves)) for start in range(0, leaves, step)]
