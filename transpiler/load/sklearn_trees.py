"""scikit-learn decision trees and forests of them -> ir.Model.

scikit-learn casts X to float32 and tests `x <= threshold` against float64 thresholds; NaN
goes where `missing_go_to_left` says. Since 1.4 `tree_.value` holds class fractions; before,
class counts, which pickles of those releases still hold (read here from the values
themselves, since the pickled version is not kept). Counts, and fractions under releases whose
predict_proba still divides each leaf by its sum, are divided here once per leaf with the same
NumPy call; 1.9 returns the fractions as they are, which may sum to 1 - 1 ulp.
"""
from __future__ import annotations

import numpy as np

import functools

from .. import ir
from ..errors import unsupported
from .sklearn_common import feature_names, require_fitted, sklearn_version

LIBRARY = "sklearn"


@functools.lru_cache(maxsize=1)
def proba_normalizes() -> bool:
    """Whether the installed DecisionTreeClassifier.predict_proba divides leaves by their sum:
    probed on a leaf whose fractions 4/7, 1/7, 2/7 sum to 1 - 1 ulp."""
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier().fit(np.zeros((7, 1)), [0, 0, 0, 0, 1, 2, 2])
    value = np.asarray(tree.tree_.value, dtype=np.float64)[0, 0]
    return value.sum() == 1.0 or not np.array_equal(tree.predict_proba(np.zeros((1, 1)))[0], value)


def stores_counts(leaf_values) -> bool:
    """Whether a classifier tree's leaves hold class counts (weighted), as scikit-learn < 1.4
    wrote them, rather than fractions that sum to 1 within rounding. Every release that stored
    counts divided them by their sum in predict_proba. Leaves whose counts sum to exactly 1
    read the same either way."""
    sums = np.asarray(leaf_values, dtype=np.float64).sum(axis=1)
    return bool((np.abs(sums - 1.0) > 1e-9).any())


def convert_tree(tree_, classifier: bool, target: int = 0) -> ir.Tree:
    """One fitted `tree_` (sklearn.tree._tree.Tree) as an ir.Tree."""
    left = np.asarray(tree_.children_left, dtype=np.int64)
    right = np.asarray(tree_.children_right, dtype=np.int64)
    leaf = left < 0
    feature = np.where(leaf, -1, tree_.feature)
    threshold = np.where(leaf, 0.0, tree_.threshold)
    value = np.asarray(tree_.value, dtype=np.float64)
    if classifier:
        proba = value[:, 0, :].copy()
        if stores_counts(proba[leaf]) or proba_normalizes():
            normalizer = proba.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            proba /= normalizer
        leaf_value = proba
    else:
        leaf_value = value[:, :, 0]
    leaf_value = np.where(leaf[:, None], leaf_value, 0.0)
    go_left = getattr(tree_, "missing_go_to_left", None)
    if go_left is None:
        go_left = np.zeros(len(left), dtype=bool)
    default_left = np.where(leaf, False, np.asarray(go_left, dtype=bool))
    return ir.make_tree(feature, threshold, np.where(leaf, -1, left), np.where(leaf, -1, right),
                        default_left, leaf_value, target=target, count=tree_.n_node_samples)


def _model(obj, trees, n_outputs, aggregation, classifier) -> ir.Model:
    ens = ir.Ensemble(trees=tuple(trees), n_outputs=n_outputs, base_score=(0.0,) * n_outputs,
                      feature_type="float32", op="<=", accumulate="float64",
                      aggregation=aggregation)
    return ir.Model(
        n_features=int(obj.n_features_in_), raw=ens, post="identity",
        task="classification" if classifier else "regression",
        classes=tuple(obj.classes_.tolist()) if classifier else (),
        feature_names=feature_names(obj),
        source=f"sklearn.{type(obj).__name__}", source_version=sklearn_version(),
        output_kind="predict_proba" if classifier else "predict",
    )


def _outputs(obj) -> tuple[bool, int]:
    """(is a classifier, number of outputs); multi-output classifiers are not supported."""
    if not hasattr(obj, "classes_"):
        return False, obj.n_outputs_
    if obj.n_outputs_ != 1:
        raise unsupported(obj, "multi-output classification")
    return True, len(obj.classes_)


def load_tree(obj, options) -> ir.Model:
    require_fitted(obj, "tree_")
    classifier, n_out = _outputs(obj)
    return _model(obj, [convert_tree(obj.tree_, classifier)], n_out, "sum", classifier)


def load_forest(obj, options) -> ir.Model:
    require_fitted(obj, "estimators_")
    classifier, n_out = _outputs(obj)
    trees = [convert_tree(est.tree_, classifier) for est in obj.estimators_]
    return _model(obj, trees, n_out, "mean", classifier)


CLASSES = {
    "DecisionTreeClassifier": load_tree,
    "DecisionTreeRegressor": load_tree,
    "ExtraTreeClassifier": load_tree,
    "ExtraTreeRegressor": load_tree,
    "RandomForestClassifier": load_forest,
    "RandomForestRegressor": load_forest,
    "ExtraTreesClassifier": load_forest,
    "ExtraTreesRegressor": load_forest,
}
