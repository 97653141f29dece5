"""The compiler: a fitted scikit-learn pipeline read into the arrays of loanapp.compiled.

Supported: a ColumnTransformer of StandardScaler / OneHotEncoder / passthrough, then
LogisticRegression or HistGradientBoostingClassifier, for two classes. This reads fitted (and, for
the trees, private) attributes of scikit-learn, which is training-time knowledge: the artifact
records the scikit-learn version, and the runtime refuses a compiled form built under another one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loanapp.compiled import Block, CompiledModel, Encoder, LinearScorer, NodeCovers, TreeScorer

if TYPE_CHECKING:
    import pandas as pd

MAX_LEAVES_PER_TREE = 64  # one uint64 mask per tree


def compile_pipeline(
    pipeline: Any, training_rows: pd.DataFrame | None = None
) -> CompiledModel | None:
    """The compiled form of a fitted pipeline, or None if its shape is not one we support.

    `training_rows` are the rows the pipeline was fitted on: a linear model's explanations are
    measured against their mean, so without them its compiled form explains nothing. Trees carry
    their own training counts.
    """
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
    encoder = Encoder(blocks)
    if isinstance(classifier, LogisticRegression):
        scorer: LinearScorer | TreeScorer | None = LinearScorer(
            np.asarray(classifier.coef_[0], dtype=np.float64),
            float(classifier.intercept_[0]),
            None if training_rows is None else _design_mean(encoder, training_rows),
        )
        kind = "linear"
    elif isinstance(classifier, HistGradientBoostingClassifier):
        scorer, kind = _compile_trees(classifier), "trees"
    else:
        return None
    return None if scorer is None else CompiledModel(encoder, scorer, kind)


def _design_mean(encoder: Encoder, rows: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Mean of each design column over `rows`, encoded as the runtime encodes requests."""
    columns = {name: rows[name].tolist() for name in rows.columns}
    return np.asarray(encoder.encode(columns, len(rows)).mean(axis=0), dtype=np.float64)


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


# The fields of one internal node of a compiled tree: feature, threshold, missing_left and
# right_mask as TreeScorer takes them, then NodeCovers' left, right and subtree_mask.
_NODE_TYPES = (np.int64, np.float64, np.bool_, np.uint64, np.float64, np.float64, np.uint64)
# A one-leaf tree gets a node that always goes left, with no leaf below it to explain.
_ALWAYS_LEFT = (0, np.inf, True, 0, 0.0, 0.0, 0)
_ALL_LEAVES = 0xFFFFFFFFFFFFFFFF


def _compile_trees(classifier: Any) -> TreeScorer | None:
    if classifier.n_trees_per_iteration_ != 1:
        return None
    nodes: list[tuple[Any, ...]] = []
    starts: list[int] = []
    leaves: list[list[float]] = []
    for (predictor,) in classifier._predictors:
        tree = _compile_tree(predictor.nodes)
        if tree is None:
            return None
        starts.append(len(nodes))
        nodes += tree[0]
        leaves.append(tree[1])
    widest = max(len(values) for values in leaves)
    leaf_values = np.zeros((len(leaves), widest), dtype=np.float64)
    for index, values in enumerate(leaves):
        leaf_values[index, : len(values)] = values
    columns: list[npt.NDArray[Any]] = [
        np.asarray(column, dtype=dtype)
        for column, dtype in zip(zip(*nodes, strict=True), _NODE_TYPES, strict=True)
    ]
    feature, threshold, missing_left, right_mask, left, right, subtree = columns
    return TreeScorer(
        feature=feature,
        threshold=threshold,
        missing_left=missing_left,
        right_mask=right_mask,
        tree_starts=np.asarray(starts, dtype=np.int64),
        leaf_values=leaf_values,
        baseline=float(np.asarray(classifier._baseline_prediction).ravel()[0]),
        covers=NodeCovers(left=left, right=right, subtree_mask=subtree),
    )


def _compile_tree(nodes: Any) -> tuple[list[tuple[Any, ...]], list[float]] | None:
    """One tree's internal nodes (fields in `_NODE_TYPES` order) and its leaf values."""
    if nodes["is_categorical"].any():
        return None
    tree_leaves = _leaves_in_order(nodes, 0)
    if len(tree_leaves) > MAX_LEAVES_PER_TREE:
        return None
    position = {node: bit for bit, node in enumerate(tree_leaves)}

    def leaf_bits(node: int) -> int:
        return sum(1 << position[leaf] for leaf in _leaves_in_order(nodes, node))

    compiled = []
    for node in (i for i in range(len(nodes)) if not nodes["is_leaf"][i]):
        left, right = int(nodes["left"][node]), int(nodes["right"][node])
        compiled.append(
            (
                int(nodes["feature_idx"][node]),
                float(nodes["num_threshold"][node]),
                bool(nodes["missing_go_to_left"][node]),
                ~leaf_bits(left) & _ALL_LEAVES,  # going right clears the left subtree's leaves
                float(nodes["count"][left]),
                float(nodes["count"][right]),
                leaf_bits(left) | leaf_bits(right),
            )
        )
    return compiled or [_ALWAYS_LEFT], [float(nodes["value"][leaf]) for leaf in tree_leaves]


def _leaves_in_order(nodes: Any, node: int) -> list[int]:
    """Leaf node ids under `node`, left to right."""
    if nodes["is_leaf"][node]:
        return [node]
    return _leaves_in_order(nodes, int(nodes["left"][node])) + _leaves_in_order(
        nodes, int(nodes["right"][node])
    )
