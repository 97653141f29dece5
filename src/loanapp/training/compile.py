"""The compiler: a fitted scikit-learn pipeline read into the arrays of loanapp.compiled.

Supported: a ColumnTransformer of StandardScaler / OneHotEncoder / passthrough, then
LogisticRegression or HistGradientBoostingClassifier, for two classes. This reads fitted (and, for
the trees, private) attributes of scikit-learn, which is training-time knowledge: the artifact
records the scikit-learn version, and the runtime refuses a compiled form built under another one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loanapp.compiled import Block, CompiledModel, Encoder, LinearScorer, TreeScorer

MAX_LEAVES_PER_TREE = 64  # one uint64 mask per tree


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
