"""scikit-learn boosting and bagging ensembles of trees -> ir.Model.

How each predicts (scikit-learn 1.9), and how that maps onto the IR:
- GradientBoosting*: raw = init + sum over stages of learning_rate * leaf, in float64, stage by
  stage, with X cast to float32 and `x <= threshold` (NaN is rejected before, and the fast path
  ignores missing_go_to_left). `learning_rate * leaf` is rounded before it is added, so it is
  folded into the leaf values bit for bit. The init is 0 ('zero'), a constant (the default
  Dummy* prior, linked with the loss's link), or a single fitted tree, whose linked leaf
  values become the first tree(s).
- HistGradientBoosting*: raw = baseline + sum of leaf values (already shrunk), X in float64,
  `x <= num_threshold`, NaN by missing_go_to_left. Categorical features pass through the
  model's own OrdinalEncoder (raw category -> code, unknown -> NaN) and are moved first; a
  categorical split sends a code left when it is in the node's bitset, right when it is a
  known category, and unknown codes the missing way.
- AdaBoostClassifier (SAMME): each tree votes w for its predicted class and -w / (k - 1) for
  the others; the sum / sum(weights) goes through a softmax ("samme" post-processor). SAMME.R
  (before 1.6) adds per-leaf functions of each tree's log-probabilities instead.
- AdaBoostRegressor: the weighted median of the trees' predictions ("weighted_median").
- Bagging*: the mean of the trees' predict / predict_proba on their feature subsets.
- IsolationForest: per leaf, path length + c(n_leaf) - 1; score = 2 ** -(sum / (n_trees *
  c(max_samples))) ("isolation"), decision_function = -score - offset_.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..errors import unsupported
from .sklearn_common import feature_names, require_fitted, sklearn_release, sklearn_version
from .sklearn_trees import convert_tree

LIBRARY = "sklearn"
TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
         "ExtraTreeRegressor")


def _model(obj, ens, *, post="identity", post_scale=1.0, post_params=(), output_kind="predict",
           pre=(), n_features=None, classes=None) -> ir.Model:
    classifier = output_kind == "predict_proba"
    return ir.Model(
        n_features=int(obj.n_features_in_ if n_features is None else n_features), raw=ens,
        post=post, post_scale=post_scale, post_params=tuple(float(v) for v in post_params),
        task="classification" if classifier else "regression",
        classes=tuple(obj.classes_.tolist()) if classes is None and classifier else (classes or ()),
        feature_names=feature_names(obj), source=f"sklearn.{type(obj).__name__}",
        source_version=sklearn_version(), output_kind=output_kind, pre=tuple(pre))


def _ensemble(trees, n_outputs, base=None, **kw) -> ir.Ensemble:
    base = (0.0,) * n_outputs if base is None else tuple(float(b) for b in base)
    kw.setdefault("feature_type", "float32")
    return ir.Ensemble(trees=tuple(trees), n_outputs=n_outputs, base_score=base, op="<=",
                       accumulate="float64", **kw)


def _check_tree(owner, est):
    if type(est).__name__ not in TREES or not hasattr(est, "tree_"):
        raise unsupported(owner, f"over {type(est).__name__}; only decision trees are supported "
                                 "as its estimator")
    if getattr(est, "n_outputs_", 1) != 1 and hasattr(est, "classes_"):
        raise unsupported(owner, "multi-output classification trees")


def _with_leaves(tree: ir.Tree, leaf_value, *, target=None, features=None,
                 nan_right=False) -> ir.Tree:
    """The same splits with new leaf values (and optionally another target, feature map)."""
    leaf = tree.left < 0
    values = np.asarray(leaf_value, dtype=np.float64).reshape(len(leaf), -1)
    values = np.where(leaf[:, None], values, 0.0)
    changes = dict(leaf_value=ir.frozen_array(values, np.float64))
    if target is not None:
        changes["target"] = int(target)
    if features is not None:
        features = np.asarray(features, dtype=np.int64)
        mapped = np.where(leaf, -1, features[np.maximum(tree.feature, 0)])
        changes["feature"] = ir.frozen_array(mapped, np.int32)
    if nan_right:
        changes["default_left"] = ir.frozen_array(np.zeros(len(leaf), dtype=bool), np.bool_)
    return replace(tree, **changes)


# --- GradientBoosting ---------------------------------------------------------------------

# Pickles of scikit-learn < 1.4 hold a loss of the removed sklearn.ensemble._gb_losses (an inert
# record named like it): name -> (its init link, post-processor, scale), as those releases
# computed them in get_init_raw_predictions and _raw_prediction_to_proba.
_OLD_LOSSES = {
    "LeastSquaresError": ("identity", "identity", 1.0),
    "LeastAbsoluteError": ("identity", "identity", 1.0),
    "HuberLossFunction": ("identity", "identity", 1.0),
    "QuantileLossFunction": ("identity", "identity", 1.0),
    "BinomialDeviance": ("log_odds", "binary_sigmoid", 1.0),
    "ExponentialLoss": ("half_log_odds", "binary_sigmoid", 2.0),   # expit(2 * raw)
    "MultinomialDeviance": ("log", "softmax", 1.0),
}


def _old_loss(obj):
    loss = obj._loss
    if type(loss).__module__ == "sklearn.ensemble._gb_losses":
        if type(loss).__name__ not in _OLD_LOSSES:
            raise unsupported(obj, f"loss {type(loss).__name__}")
        return _OLD_LOSSES[type(loss).__name__]
    return None


def _old_link(probas, link):
    """The removed losses' get_init_raw_predictions on predict_proba's rows (n, classes):
    clipped to float32's eps, then log (multinomial) or (half) the log-odds of class 1."""
    eps = np.finfo(np.float32).eps
    if link == "log":
        return np.log(np.clip(probas, eps, 1 - eps)).astype(np.float64)
    pos = np.clip(probas[:, 1], eps, 1 - eps)
    raw = np.log(pos / (1 - pos))
    return (0.5 * raw if link == "half_log_odds" else raw).astype(np.float64).reshape(-1, 1)


def _old_init(obj, classifier, K, link):
    """GradientBoosting's init as scikit-learn < 1.4 computed it: a Dummy's constant (class
    priors) or a tree's leaves, linked with the removed loss's own formula."""
    init = obj.init_
    name = type(init).__name__
    if name == "DummyRegressor" and not classifier:
        return tuple(np.asarray(init.constant_, dtype=np.float64).reshape(-1)[:1]), []
    if name in TREES and hasattr(init, "tree_"):
        return (0.0,) * K, _init_trees(obj, init, classifier,
                                       lambda preds: _old_link(preds, link) if classifier
                                       else preds)
    if name != "DummyClassifier" or getattr(init, "strategy", "prior") != "prior":
        raise unsupported(obj, f"init={name} in a model pickled by scikit-learn before 1.4; "
                               "load it with that release and save it with 1.4 or later")
    probas = np.asarray(init.class_prior_, dtype=np.float64).reshape(1, -1)
    return tuple(_old_link(probas, link)[0]), []


def _init_trees(obj, init, classifier, link):
    """An init tree's leaves through `link` ((leaves, classes) predictions -> (leaves, width)
    raw values), as one tree per output so every tree of the ensemble has width 1."""
    tree = convert_tree(init.tree_, classifier)
    leaf = tree.left < 0
    preds = tree.leaf_value[leaf]
    if classifier:
        if len(init.classes_) != len(obj.classes_):
            raise unsupported(obj, "an init tree that saw other classes than the ensemble")
    elif init.n_outputs_ != 1:
        raise unsupported(obj, "a multi-output init tree")
    linked = np.asarray(link(preds), dtype=np.float64).reshape(int(leaf.sum()), -1)
    values = np.zeros((tree.n_nodes, linked.shape[1]))
    values[leaf] = linked
    return [_with_leaves(tree, values[:, k], target=k) for k in range(linked.shape[1])]


def _gb_post(obj, classifier):
    old = _old_loss(obj)
    if old is not None:
        return old[1], old[2]
    if not classifier:
        return "identity", 1.0
    loss = type(obj._loss).__name__
    if loss == "HalfBinomialLoss":
        return "binary_sigmoid", 1.0
    if loss == "ExponentialLoss":
        return "binary_sigmoid", 2.0          # expit(2 * raw)
    if loss == "HalfMultinomialLoss":
        return "softmax", 1.0
    raise unsupported(obj, f"loss {loss}")


def _gb_init(obj, classifier, K):
    """(base scores, init trees) that reproduce GradientBoosting's _raw_predict_init."""
    init = obj.init_
    if isinstance(init, str) and init == "zero":
        return (0.0,) * K, []
    old = _old_loss(obj)
    if old is not None:
        return _old_init(obj, classifier, K, old[0])
    name = type(init).__name__
    if name in ("DummyClassifier", "DummyRegressor"):
        # A constant: run scikit-learn's own init code on one row, so the link is the same.
        from sklearn.ensemble._gb import _init_raw_predictions

        row = np.zeros((1, obj.n_features_in_))
        return tuple(_init_raw_predictions(row, init, obj._loss, classifier)[0]), []
    if name in TREES and hasattr(init, "tree_"):
        def link(preds):
            if classifier:
                if not obj._loss.is_multiclass:
                    preds = preds[:, 1]
                # the installed release's clip: float32's eps before 1.8, float64's since
                eps = np.finfo(np.float32 if sklearn_release() < (1, 8) else np.float64).eps
                preds = np.clip(preds, eps, 1 - eps, dtype=np.float64)
            return obj._loss.link.link(preds)

        return (0.0,) * K, _init_trees(obj, init, classifier, link)
    raise unsupported(obj, f"init={name}; use 'zero', the default, or a decision tree")


def load_gradient_boosting(obj, options) -> ir.Model:
    require_fitted(obj, "estimators_")
    classifier = hasattr(obj, "classes_")
    stages = obj.estimators_
    K = stages.shape[1]
    post, scale = _gb_post(obj, classifier)
    base, trees = _gb_init(obj, classifier, K)
    lr = float(obj.learning_rate)
    for stage in stages:
        for k, est in enumerate(stage):
            tree = convert_tree(est.tree_, False)
            # predict_stages adds scale * value[leaf]: the product is rounded first.
            trees.append(_with_leaves(tree, lr * tree.leaf_value, target=k, nan_right=True))
    ens = _ensemble(trees, K, base)
    return _model(obj, ens, post=post, post_scale=scale,
                  output_kind="predict_proba" if classifier else "predict")


# --- HistGradientBoosting -----------------------------------------------------------------

def _hgb_tree(predictor, k, known, f_idx_map) -> ir.Tree:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    categorical = nodes["is_categorical"].astype(bool) & ~leaf
    go_left = nodes["missing_go_to_left"].astype(bool) & ~leaf
    categories = [None] * len(nodes)
    for n in np.flatnonzero(categorical):
        words = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][n]].astype(np.uint32)
        if go_left[n]:  # codes the model never saw go where missing values go
            words = words | ~known[f_idx_map[nodes["feature_idx"][n]]].astype(np.uint32)
        categories[n] = tuple(int(w) for w in words)
    return ir.make_tree(
        feature=np.where(leaf, -1, nodes["feature_idx"]),
        threshold=np.where(leaf | categorical, 0.0, nodes["num_threshold"]),
        left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
        right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
        default_left=go_left, leaf_value=np.where(leaf, nodes["value"], 0.0), target=k,
        categories=categories, count=nodes["count"])


def _hgb_post(obj, classifier):
    loss = type(obj._loss).__name__
    if classifier:
        if loss == "HalfBinomialLoss":
            return "binary_sigmoid"
        if loss == "HalfMultinomialLoss":
            return "softmax"
        raise unsupported(obj, f"loss {loss}")
    link = type(obj._loss.link).__name__
    if link == "IdentityLink":
        return "identity"
    if link == "LogLink":
        return "exp"
    raise unsupported(obj, f"link {link}")


def load_hist_gradient_boosting(obj, options) -> ir.Model:
    require_fitted(obj, "_predictors")
    classifier = hasattr(obj, "classes_")
    pre = ()
    if getattr(obj, "_preprocessor", None) is not None:  # since 1.4
        from .sklearn_pipeline import transformer_steps

        pre = transformer_steps(obj._preprocessor, obj.n_features_in_, owner=obj)
    known, f_idx_map = obj._bin_mapper.make_known_categories_bitsets()
    trees = [_hgb_tree(p, k, known, f_idx_map)
             for iteration in obj._predictors for k, p in enumerate(iteration)]
    K = int(obj.n_trees_per_iteration_)
    ens = _ensemble(trees, K, np.asarray(obj._baseline_prediction, dtype=np.float64).ravel(),
                    feature_type="float64")
    return _model(obj, ens, post=_hgb_post(obj, classifier), pre=pre,
                  output_kind="predict_proba" if classifier else "predict")


# --- AdaBoost -----------------------------------------------------------------------------

def _samme_r_leaves(obj, est, tree, k):
    """SAMME.R (scikit-learn < 1.6) adds, per tree, (k - 1) * (log p - mean(log p)) of the
    tree's predict_proba clipped to eps: the same operations on each leaf's probabilities."""
    if est.classes_.tolist() != obj.classes_.tolist():
        raise unsupported(obj, "SAMME.R over a tree that saw other classes than the ensemble")
    proba = np.array(tree.leaf_value, dtype=np.float64)
    np.clip(proba, np.finfo(proba.dtype).eps, None, out=proba)
    log_proba = np.log(proba)
    return (k - 1) * (log_proba - (1.0 / k) * log_proba.sum(axis=1)[:, np.newaxis])


def load_adaboost_classifier(obj, options) -> ir.Model:
    require_fitted(obj, "estimators_", "classes_")
    k = len(obj.classes_)
    if k < 2:
        raise unsupported(obj, "a single class")
    position = {c: i for i, c in enumerate(obj.classes_.tolist())}
    trees = []
    real = getattr(obj, "algorithm", "SAMME") == "SAMME.R"
    for est, w in zip(obj.estimators_, obj.estimator_weights_):
        _check_tree(obj, est)
        tree = convert_tree(est.tree_, True)
        if real:
            trees.append(_with_leaves(tree, _samme_r_leaves(obj, est, tree, k)))
            continue
        # DecisionTreeClassifier.predict: argmax of the raw leaf values, first on ties.
        picked = np.argmax(np.asarray(est.tree_.value)[:, 0, :], axis=1)
        cls = np.array([position[c] for c in est.classes_[picked].tolist()])
        other = -1 / (k - 1) * w
        votes = np.where(np.arange(k)[None, :] == cls[:, None], w, other)
        trees.append(_with_leaves(tree, votes))
    ens = _ensemble(trees, k)
    return _model(obj, ens, post="samme", post_params=(obj.estimator_weights_.sum(),),
                  output_kind="predict_proba")


def load_adaboost_regressor(obj, options) -> ir.Model:
    require_fitted(obj, "estimators_")
    trees = []
    for i, est in enumerate(obj.estimators_):
        _check_tree(obj, est)
        if est.n_outputs_ != 1:
            raise unsupported(obj, "multi-output trees")
        tree = convert_tree(est.tree_, False)
        trees.append(_with_leaves(tree, tree.leaf_value, target=i))
    weights = obj.estimator_weights_[:len(obj.estimators_)]
    return _model(obj, _ensemble(trees, len(trees)), post="weighted_median", post_params=weights)


# --- Bagging and IsolationForest ----------------------------------------------------------

def load_bagging(obj, options) -> ir.Model:
    require_fitted(obj, "estimators_")
    classifier = hasattr(obj, "classes_")
    trees = []
    width = len(obj.classes_) if classifier else None
    for est, features in zip(obj.estimators_, obj.estimators_features_):
        _check_tree(obj, est)
        tree = convert_tree(est.tree_, classifier)
        values = tree.leaf_value
        if classifier:
            full = np.zeros((tree.n_nodes, width))   # classes this tree never saw add 0
            full[:, np.asarray(est.classes_, dtype=np.int64)] = values
            values = full
        elif width is None:
            width = values.shape[1]
        trees.append(_with_leaves(tree, values, features=features))
    return _model(obj, _ensemble(trees, width, aggregation="mean"),
                  output_kind="predict_proba" if classifier else "predict")


OUTLIER_METHODS = ("decision_function", "score_samples")


def outlier_method(obj, options) -> str:
    method = options.get("method") or "decision_function"
    if method not in OUTLIER_METHODS:
        from ..errors import OptionError

        raise OptionError(f"method {method!r} is not one {type(obj).__name__} scores with; "
                          f"choose one of {', '.join(OUTLIER_METHODS)}")
    return method


def load_isolation_forest(obj, options) -> ir.Model:
    from sklearn.ensemble._iforest import _average_path_length

    require_fitted(obj, "estimators_")
    method = outlier_method(obj, options)
    subsample = obj._max_features != obj.n_features_in_    # as _compute_chunked_score_samples
    trees = []
    for i, (est, features) in enumerate(zip(obj.estimators_, obj.estimators_features_)):
        tree = convert_tree(est.tree_, False)
        depth = (obj._decision_path_lengths[i] + obj._average_path_length_per_tree[i] - 1.0)
        trees.append(_with_leaves(tree, depth, features=features if subsample else None))
    denominator = len(obj.estimators_) * _average_path_length([obj._max_samples])
    offset = float(obj.offset_) if method == "decision_function" else 0.0
    return _model(obj, _ensemble(trees, 1), post="isolation",
                  post_params=(float(np.ravel(denominator)[0]), offset), output_kind=method)


CLASSES = {
    "GradientBoostingClassifier": load_gradient_boosting,
    "GradientBoostingRegressor": load_gradient_boosting,
    "HistGradientBoostingClassifier": load_hist_gradient_boosting,
    "HistGradientBoostingRegressor": load_hist_gradient_boosting,
    "AdaBoostClassifier": load_adaboost_classifier,
    "AdaBoostRegressor": load_adaboost_regressor,
    "BaggingClassifier": load_bagging,
    "BaggingRegressor": load_bagging,
    "IsolationForest": load_isolation_forest,
}
