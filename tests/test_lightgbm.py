"""LightGBM loader: IR evaluator vs lightgbm's own predict, routing vs pred_leaf, native files.

Every model is checked on its training rows plus probe rows: each split threshold (exact and
one ulp either side), NaN, +-0, values inside LightGBM's zero band (|x| <= 1e-35f), huge values,
and for categorical columns unseen, negative, fractional and out-of-range codes. Every leaf of
every tree must be reached by some row, and every row must reach the leaf LightGBM reports.
"""
from __future__ import annotations

import inspect
import re
import sys
import time
import warnings

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from transpiler import ir  # noqa: E402
from transpiler.errors import InputError, UnsupportedModelError  # noqa: E402
from transpiler.ir.evaluate import ensemble_raw, tree_leaves  # noqa: E402
from transpiler.load import lgbm_text, load  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)

K_ZERO = float(np.float32(1e-35))
STATS = {}  # test id -> (bit-exact values, values); printed with `pytest -s`


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    exact = sum(e for e, _ in STATS.values())
    total = sum(t for _, t in STATS.values())
    if total:
        print(f"\nlightgbm: {exact} of {total} output values bit-exact "
              f"({100.0 * exact / total:.2f}%) over {len(STATS)} models")


# ---------------------------------------------------------------- data

def make_X(n=400, n_features=5, seed=0, nan_frac=0.08, zero_frac=0.08):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, n_features)), 2)   # repeated values: thresholds between them
    X[rng.random(X.shape) < zero_frac] = 0.0
    X[rng.random(X.shape) < nan_frac] = np.nan
    return X


def targets(X, seed=0):
    rng = np.random.default_rng(seed)
    Z = np.nan_to_num(X)
    reg = Z[:, 0] * 2.0 - Z[:, 1] + 0.5 * Z[:, 2] * Z[:, 3] + rng.normal(scale=0.3, size=len(X))
    return {
        "reg": reg,
        "pos": np.exp(reg / 4.0) + 0.05,
        "bin": (reg > 0).astype(int),
        "prob": 1.0 / (1.0 + np.exp(-reg)),
        "multi": np.digitize(reg, [-1.0, 0.5, 2.0]),
    }


def probe_rows(X, booster, cat_cols=()):
    """X plus rows on every threshold and every special value, built from a few base rows."""
    parsed = lgbm_text.parse(booster.model_to_string())
    base = X[np.linspace(0, len(X) - 1, 3).astype(int)]
    rows = [X]
    pairs = set()
    for tree in parsed.trees:
        num = (tree.decision_type & 1) == 0
        pairs.update(zip(tree.split_feature[num].tolist(), tree.threshold[num].tolist()))
    for f, t in sorted(pairs):
        for v in (t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)):
            r = base.copy()
            r[:, f] = v
            rows.append(r)
    specials = [np.nan, 0.0, -0.0, K_ZERO, -K_ZERO, 1e-36, -1e-36, 1e-35, -1e-35,
                np.nextafter(K_ZERO, 1), np.nextafter(-K_ZERO, -1), 1e300, -1e300]
    cat_specials = [-1.0, -3.0, -0.5, -0.99, 0.5, 31.0, 31.5, 32.0, 33.0, 64.0, 200.0, 1e10,
                    2.0 ** 31]
    for f in range(X.shape[1]):
        for v in specials + (cat_specials if f in cat_cols else []):
            r = base.copy()
            r[:, f] = v
            rows.append(r)
    rows.append(np.full((1, X.shape[1]), np.nan))
    rows.append(np.zeros((1, X.shape[1])))
    return np.vstack(rows)


# ---------------------------------------------------------------- the check

def booster_of(obj):
    return obj if isinstance(obj, lgb.Booster) else obj.booster_


def library_predict(obj, X):
    if isinstance(obj, lgb.LGBMClassifier):
        return obj.predict_proba(X)
    return obj.predict(X)


def check(obj, X, key, expected=None, rows=None, cat_cols=()):
    """load(obj) evaluates like lightgbm on X and probe rows; returns the IR model."""
    booster = booster_of(obj)
    rows = probe_rows(X, booster, cat_cols) if rows is None else rows
    model = load(obj)
    got = ir.evaluate(model, rows)
    want = library_predict(obj, rows) if expected is None else expected(rows)
    want = np.asarray(want, dtype=float)
    want = want.reshape(got.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    STATS[key] = (int(np.sum((got == want) | (np.isnan(got) & np.isnan(want)))), got.size)

    ens = model.raw
    if ens.aggregation == "sum":  # lightgbm's raw_score skips the rf average; the sum is exact
        raw = booster.predict(rows, raw_score=True).reshape(len(rows), -1)
        assert np.array_equal(ensemble_raw(ens, rows), raw)
    leaves = booster.predict(rows, pred_leaf=True).reshape(len(rows), -1)
    assert leaves.shape[1] == len(ens.trees)
    for i, tree in enumerate(ens.trees):
        internal = (tree.n_nodes - 1) // 2
        reached = tree_leaves(tree, rows, ens)
        assert np.array_equal(reached - internal, leaves[:, i]), f"tree {i} routes differently"
        assert set(reached.tolist()) == set(np.flatnonzero(tree.is_leaf()).tolist()), \
            f"tree {i}: the fixture misses a leaf"
    return model


def decision_types(obj):
    parsed = lgbm_text.parse(booster_of(obj).model_to_string())
    return np.concatenate([t.decision_type for t in parsed.trees if t.num_leaves > 1])


# one thread: OpenMP spinning makes tiny fits slow on a busy machine
SMALL = dict(n_estimators=12, num_leaves=7, min_child_samples=5, verbose=-1, n_jobs=1)

# ---------------------------------------------------------------- objectives

REGRESSION_OBJECTIVES = [
    ("regression", "reg", "identity"), ("regression_l1", "reg", "identity"),
    ("huber", "reg", "identity"), ("fair", "reg", "identity"),
    ("quantile", "reg", "identity"), ("mape", "reg", "identity"),
    ("poisson", "pos", "exp"), ("gamma", "pos", "exp"), ("tweedie", "pos", "exp"),
    ("cross_entropy", "prob", "sigmoid"), ("cross_entropy_lambda", "prob", "softplus"),
]


@pytest.mark.parametrize("objective,target,post", REGRESSION_OBJECTIVES)
def test_regressor_objectives(objective, target, post):
    X = make_X()
    m = lgb.LGBMRegressor(objective=objective, **SMALL).fit(X, targets(X)[target])
    model = check(m, X, f"LGBMRegressor-{objective}")
    assert model.post == post and model.output_kind == "predict" and model.n_outputs == 1


def test_cross_entropy_lambda_is_log1p_of_exp():
    """lightgbm 4.x converts with log1p(exp(x)); log(1 + exp(x)) is 1e-8 off at x = -20."""
    X = make_X(seed=32)
    m = lgb.LGBMRegressor(objective="cross_entropy_lambda", **SMALL)
    m.fit(X, targets(X)["prob"] * 1e-9)
    assert m.predict(X, raw_score=True).max() < -15
    assert check(m, X, "xentlambda-tail").post == "softplus"


@pytest.mark.parametrize("objective", ["regression", "regression_l1", "fair", "quantile", "mape"])
def test_reg_sqrt_squares_predictions_back(objective):
    X = make_X(seed=1)
    m = lgb.LGBMRegressor(objective=objective, reg_sqrt=True, **SMALL).fit(X, targets(X)["reg"] * 3)
    model = check(m, X, f"reg_sqrt-{objective}")
    assert model.post == "signed_square"


def test_reg_sqrt_is_ignored_where_lightgbm_ignores_it():
    X = make_X(seed=2)
    for objective, target, post in [("huber", "reg", "identity"), ("poisson", "pos", "exp")]:
        m = lgb.LGBMRegressor(objective=objective, reg_sqrt=True, **SMALL)
        m.fit(X, targets(X)[target])
        assert check(m, X, f"reg_sqrt-{objective}").post == post


def test_booster_objectives_and_sigmoid_slope():
    X = make_X(seed=3)
    y = targets(X)
    cases = [
        ({"objective": "binary", "sigmoid": 0.7}, y["bin"], "sigmoid", 0.7),
        ({"objective": "multiclass", "num_class": 4}, y["multi"], "softmax", 1.0),
        ({"objective": "multiclassova", "num_class": 4, "sigmoid": 1.3}, y["multi"], "sigmoid",
         1.3),
        ({"objective": "xentropy"}, y["prob"], "sigmoid", 1.0),
        ({"objective": "xentlambda"}, y["prob"], "softplus", 1.0),
        ({"objective": "tweedie", "tweedie_variance_power": 1.2}, y["pos"], "exp", 1.0),
    ]
    for params, label, post, scale in cases:
        params = dict(params, num_leaves=7, min_data_in_leaf=5, verbose=-1, num_threads=1)
        b = lgb.train(params, lgb.Dataset(X, label), num_boost_round=10)
        model = check(b, X, f"Booster-{params['objective']}")
        assert (model.post, model.post_scale) == (post, scale)
        assert model.n_outputs == params.get("num_class", 1)


def test_classifier_binary_predict_proba():
    X = make_X(seed=4)
    m = lgb.LGBMClassifier(**SMALL).fit(X, np.where(targets(X)["bin"] == 1, "yes", "no"))
    model = check(m, X, "LGBMClassifier-binary")
    assert model.post == "binary_sigmoid" and model.n_outputs == 2
    assert model.classes == ("no", "yes") and model.output_kind == "predict_proba"


@pytest.mark.parametrize("objective,post",
                         [("multiclass", "softmax"), ("multiclassova", "sigmoid")])
def test_classifier_multiclass(objective, post):
    X = make_X(seed=5)
    m = lgb.LGBMClassifier(objective=objective, **SMALL).fit(X, targets(X)["multi"])
    model = check(m, X, f"LGBMClassifier-{objective}")
    assert model.post == post and model.raw.n_outputs == 4
    assert [t.target for t in model.raw.trees[:8]] == [0, 1, 2, 3] * 2
    if objective == "multiclassova":  # predict_proba does not normalize one-vs-rest outputs
        assert not np.allclose(ir.evaluate(model, X).sum(axis=1), 1.0)


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_ranker(objective):
    X = make_X(n=300, seed=6)
    rel = np.clip(np.round(targets(X)["reg"] / 2 + 1.5), 0, 3).astype(int)
    m = lgb.LGBMRanker(objective=objective, **SMALL).fit(X, rel, group=[30] * 10)
    model = check(m, X, f"LGBMRanker-{objective}")
    assert model.task == "ranking" and model.post == "identity"


def test_custom_objective_gives_raw_scores():
    X = make_X(seed=7)
    y = targets(X)["reg"]

    def l2(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    m = lgb.LGBMRegressor(objective=l2, **SMALL).fit(X, y)
    assert check(m, X, "custom-objective").post == "identity"


def test_classifier_custom_objective_gives_raw_scores():
    X = make_X(seed=7)

    def logloss(y_true, y_pred):
        p = 1.0 / (1.0 + np.exp(-y_pred))
        return p - y_true, p * (1.0 - p)

    m = lgb.LGBMClassifier(objective=logloss, **SMALL).fit(X, targets(X)["bin"])
    with warnings.catch_warnings():  # lightgbm warns that it returns raw scores
        warnings.simplefilter("ignore", UserWarning)
        model = check(m, X, "custom-objective-classifier")
    assert (model.post, model.output_kind, model.n_outputs) == ("identity", "decision_function", 1)


@pytest.mark.parametrize("sigmoid", ["6.81", "15.9501", "1.644", "0.7"])
def test_sigmoid_slope_is_read_as_lightgbm_reads_it(sigmoid):
    """LightGBM parses "sigmoid:6.81" with its own Atof, one ulp from float("6.81")."""
    import math

    X = make_X(seed=31)
    text = lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1},
                     lgb.Dataset(X, targets(X)["bin"]), num_boost_round=5).model_to_string()
    b = lgb.Booster(model_str=text.replace("sigmoid:1", f"sigmoid:{sigmoid}", 1))
    model = load(b)
    assert model.post_scale == lgbm_text.lightgbm_atof(sigmoid)
    assert (model.post_scale == float(sigmoid)) == (sigmoid == "0.7")
    raw = b.predict(X, raw_score=True)
    libm = np.array([1.0 / (1.0 + math.exp(-(model.post_scale * r))) for r in raw])
    assert np.array_equal(libm, b.predict(X))
    check(b, X, f"sigmoid-{sigmoid}")


@pytest.mark.parametrize("keep", [True, False])
def test_training_booster_keeps_its_full_sigmoid(keep):
    """keep_training_booster=True predicts with sigmoid 0.123456789; its string says 0.123457."""
    import math

    X = make_X(seed=33)
    b = lgb.train({"objective": "binary", "sigmoid": 0.123456789, "num_leaves": 7, "verbose": -1,
                   "num_threads": 1}, lgb.Dataset(X, targets(X)["bin"]), num_boost_round=5,
                  keep_training_booster=keep)
    model = load(b)
    assert model.post_scale == (0.123456789 if keep else lgbm_text.lightgbm_atof("0.123457"))
    raw = b.predict(X, raw_score=True)
    libm = [1.0 / (1.0 + math.exp(-(model.post_scale * r))) for r in raw]
    assert np.array_equal(libm, b.predict(X))


# ---------------------------------------------------------------- boosting types

@pytest.mark.parametrize("boosting", ["gbdt", "rf", "dart", "goss"])
def test_boosting_types(boosting):
    X = make_X(seed=8)
    y = targets(X)
    extra = {"bagging_freq": 1, "bagging_fraction": 0.7} if boosting == "rf" else {}
    if boosting == "goss":
        boosting, extra = "gbdt", {"data_sample_strategy": "goss"}
    for cls, label in [(lgb.LGBMRegressor, y["reg"]), (lgb.LGBMClassifier, y["bin"])]:
        m = cls(boosting_type=boosting, **SMALL, **extra).fit(X, label)
        model = check(m, X, f"{boosting}-{cls.__name__}-{extra}")
        assert model.raw.aggregation == ("mean" if boosting == "rf" else "sum")


def test_rf_multiclass_averages_per_class():
    X = make_X(seed=9)
    m = lgb.LGBMClassifier(boosting_type="rf", bagging_freq=1, bagging_fraction=0.6,
                           **SMALL).fit(X, targets(X)["multi"])
    model = check(m, X, "rf-multiclass")
    assert list(model.raw.trees_per_output()) == [12] * 4


# ---------------------------------------------------------------- missing values

def test_missing_type_nan_default():
    X = make_X(seed=10, nan_frac=0.2)
    m = lgb.LGBMRegressor(**SMALL).fit(X, targets(X)["reg"])
    check(m, X, "missing-nan")
    missing = (decision_types(m) >> 2) & 3
    assert (missing == 2).any()


def test_missing_type_zero():
    X = make_X(seed=11, nan_frac=0.15, zero_frac=0.25)
    m = lgb.LGBMRegressor(zero_as_missing=True, **SMALL).fit(X, targets(X)["reg"])
    model = check(m, X, "missing-zero")
    assert ((decision_types(m) >> 2) & 3 == 1).any()
    assert any(t.zero_missing is not None for t in model.raw.trees)


def test_missing_type_none():
    X = make_X(seed=12, nan_frac=0.15, zero_frac=0.2)
    m = lgb.LGBMClassifier(use_missing=False, **SMALL).fit(X, targets(X)["bin"])
    check(m, X, "missing-none")
    assert ((decision_types(m) >> 2) & 3 == 0).all()


def test_zero_band_thresholds_on_handcrafted_trees():
    """Thresholds at +-kZeroThreshold and inside the band, for each missing type and side."""
    X = make_X(n=50, n_features=1, seed=13)
    text = lgb.LGBMRegressor(n_estimators=1, num_leaves=2, min_child_samples=5,
                             verbose=-1, n_jobs=1).fit(X, X[:, 0] > 0).booster_.model_to_string()
    tree = text[text.index("Tree=0"):text.index("end of trees")]
    blocks = []
    for thr in (-K_ZERO, K_ZERO, 0.0, -1e-36, 5e-36, -2.0):
        for dt in (0, 2, 4, 6, 8, 10):
            lines = [f"threshold={thr!r}" if ln.startswith("threshold=") else
                     f"decision_type={dt}" if ln.startswith("decision_type=") else ln
                     for ln in tree.splitlines()]
            blocks.append("\n".join(lines).replace("Tree=0", f"Tree={len(blocks)}", 1))
    head = text[:text.index("tree_sizes=")]
    crafted = head + "\n" + "\n\n".join(blocks) + "\n\nend of trees\n"
    b = lgb.Booster(model_str=crafted)
    v = [np.nan, 0.0, -0.0, K_ZERO, -K_ZERO, 1e-36, -1e-36, np.nextafter(-K_ZERO, -1),
         np.nextafter(K_ZERO, 1), -2.0, np.nextafter(-2.0, 0), 1.0, -1.0]
    rows = np.array(v)[:, None]
    model = ir.evaluate(load(b), rows)
    np.testing.assert_array_equal(model[:, 0], b.predict(rows))
    leaves = b.predict(rows, pred_leaf=True)
    loaded = load(b)
    for i, t in enumerate(loaded.raw.trees):
        assert np.array_equal(tree_leaves(t, rows, loaded.raw) - 1, leaves[:, i])


# ---------------------------------------------------------------- categorical

def cat_data(n=600, n_cats=90, seed=14):
    rng = np.random.default_rng(seed)
    X = make_X(n=n, n_features=4, seed=seed)
    X[:, 2] = rng.integers(0, n_cats, n)
    X[rng.random(n) < 0.05, 2] = np.nan
    effect = rng.normal(size=n_cats)
    y = np.nan_to_num(X[:, 0]) + 2 * effect[np.nan_to_num(X[:, 2], nan=0).astype(int)]
    return X, y


CAT = dict(max_cat_to_onehot=2, min_data_per_group=3, cat_smooth=1.0, cat_l2=1.0,
           max_cat_threshold=64)


def test_categorical_many_categories_unseen_negative_nan():
    X, y = cat_data()
    m = lgb.LGBMRegressor(**SMALL, **CAT).fit(X, y, categorical_feature=[2])
    model = check(m, X, "categorical-90", cat_cols=(2,))
    words = [len(c) for t in model.raw.trees if t.categories for c in t.categories if c]
    assert max(words) > 1, "expected a bitset over more than 32 categories"
    assert model.meta["categorical_features"] == [2]
    assert all(not t.default_left[i] for t in model.raw.trees if t.categories
               for i, c in enumerate(t.categories) if c is not None)


def test_categorical_one_hot_and_multiclass():
    X, y = cat_data(n_cats=4, seed=15)
    label = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    m = lgb.LGBMClassifier(**SMALL, min_data_per_group=3).fit(X, label, categorical_feature=[2])
    check(m, X, "categorical-onehot-multiclass", cat_cols=(2,))


def test_pandas_categorical_columns():
    pd = pytest.importorskip("pandas")
    X, y = cat_data(n_cats=40, seed=16)
    names = [f"c{int(v)}" if v == v else None for v in X[:, 2]]
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "city": pd.Categorical(names), "d": X[:, 3]})
    m = lgb.LGBMRegressor(**SMALL, **CAT).fit(df, y)
    cats = m.booster_.pandas_categorical[0]
    test = df.copy()
    test["city"] = pd.Categorical(list(test["city"].astype(object)[:-3]) + ["unseen", None, "c1"])
    code = {c: float(i) for i, c in enumerate(cats)}  # what lightgbm feeds: train codes, else NaN
    rows = test.to_numpy(dtype=object)
    rows[:, 2] = [code.get(c, np.nan) for c in test["city"].astype(object)]
    rows = rows.astype(float)
    model = check(m, X, "pandas-categorical", rows=rows, expected=lambda _: m.predict(test))
    assert model.meta["pandas_categorical"] == [cats]
    assert model.feature_names == ("a", "b", "city", "d")


# ---------------------------------------------------------------- linear trees

def test_linear_tree_regression_with_nan_fallback():
    X = make_X(n=500, seed=17, nan_frac=0.1)
    m = lgb.LGBMRegressor(linear_tree=True, **SMALL).fit(X, targets(X)["reg"])
    model = check(m, X, "linear-tree-regression")
    linear = [t for t in model.raw.trees if t.linear is not None]
    assert linear and max(int(np.diff(t.linear.start).max()) for t in linear) >= 2
    fallbacks = 0  # rows whose leaf reads a NaN feature, so the plain leaf value is used
    for t in linear:
        leaves = tree_leaves(t, X, model.raw)
        for row, leaf in enumerate(leaves):
            feats = t.linear.feature[t.linear.start[leaf]:t.linear.start[leaf + 1]]
            fallbacks += bool(np.isnan(X[row, feats]).any())
    assert fallbacks > 20


def test_linear_tree_binary_and_multiclass():
    X = make_X(n=500, seed=18)
    y = targets(X)
    m = lgb.LGBMClassifier(linear_tree=True, **SMALL).fit(X, y["bin"])
    check(m, X, "linear-tree-binary")
    m = lgb.LGBMClassifier(linear_tree=True, **SMALL).fit(X, y["multi"])
    check(m, X, "linear-tree-multiclass")


# ---------------------------------------------------------------- iterations

def test_early_stopping_uses_best_iteration():
    X = make_X(n=600, seed=19)
    y = targets(X)["reg"] + np.random.default_rng(0).normal(scale=2.0, size=600)
    m = lgb.LGBMRegressor(n_estimators=30, num_leaves=15, learning_rate=0.3, min_child_samples=5,
                          verbose=-1, n_jobs=1)
    # LightGBM 4.7 takes eval_X/eval_y and deprecates eval_set, which older releases need
    held_out = ({"eval_X": X[400:], "eval_y": y[400:]}
                if "eval_X" in inspect.signature(m.fit).parameters
                else {"eval_set": [(X[400:], y[400:])]})
    m.fit(X[:400], y[:400], callbacks=[lgb.early_stopping(3, verbose=False)], **held_out)
    assert 0 < m.best_iteration_ < 30
    model = check(m, X, "early-stopping")
    assert len(model.raw.trees) == m.best_iteration_ == model.meta["num_iteration"]


def test_num_iteration_option():
    X = make_X(seed=20)
    m = lgb.LGBMClassifier(**SMALL).fit(X, targets(X)["multi"])
    model = load(m, num_iteration=5)
    assert len(model.raw.trees) == 5 * 4
    np.testing.assert_allclose(ir.evaluate(model, X), m.predict_proba(X, num_iteration=5),
                               rtol=1e-12)


# ---------------------------------------------------------------- native files

def dumps_equal(a, b):
    da, db = ir.dump(a), ir.dump(b)
    assert da == db


@pytest.mark.parametrize("kind", ["binary", "multiclass", "categorical", "linear", "rf"])
def test_model_file_loads_without_lightgbm(kind, tmp_path, monkeypatch):
    X, y = cat_data(n_cats=50, seed=21)
    label = {"binary": (y > 0).astype(int), "multiclass": np.digitize(y, [-1, 0, 1])}.get(kind, y)
    params = dict(SMALL, **CAT)
    if kind == "linear":
        params["linear_tree"] = True
    if kind == "rf":
        params.update(boosting_type="rf", bagging_freq=1, bagging_fraction=0.7)
    cls = lgb.LGBMClassifier if kind in ("binary", "multiclass") else lgb.LGBMRegressor
    m = cls(**params).fit(X, label, categorical_feature=[2])
    path = tmp_path / "model.txt"
    m.booster_.save_model(str(path))
    from_object = load(m.booster_)
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    from_file = load(str(path))
    monkeypatch.undo()
    dumps_equal(from_file, from_object)
    assert from_file.source == "lightgbm.Booster"
    booster = lgb.Booster(model_file=str(path))
    check(booster, X, f"file-{kind}", cat_cols=(2,))


def test_pickled_and_joblib_models(tmp_path):
    import pickle

    import joblib

    X = make_X(seed=22)
    m = lgb.LGBMClassifier(**SMALL).fit(X, targets(X)["bin"])
    pickle.dump(m, open(tmp_path / "m.pkl", "wb"))
    joblib.dump(m.booster_, tmp_path / "b.joblib")
    dumps_equal(load(str(tmp_path / "m.pkl")), load(m))
    dumps_equal(load(str(tmp_path / "b.joblib")), load(m.booster_))


def with_tree_sizes(text: str) -> str:
    """Recompute the tree_sizes header (byte length of each "Tree=" block) after an edit."""
    start, end = text.index("Tree=0"), text.index("end of trees")
    blocks = ["Tree=" + b for b in text[start:end].split("Tree=")[1:]]
    sizes = " ".join(str(len(b.encode())) for b in blocks)
    head = text[:start]
    line = head[head.index("tree_sizes="):].split("\n", 1)[0]
    return head.replace(line, f"tree_sizes={sizes}") + text[start:]


def older_format(text: str, version: str) -> str:
    """The same model as an older LightGBM would have written it."""
    drop = ("is_linear=",)
    if version == "v2":
        drop += ("tree_sizes=", "num_tree_per_iteration=")
    lines = [ln for ln in text.splitlines() if not ln.startswith(drop)]
    text = re.sub(r"^version=v\d+$", f"version={version}", "\n".join(lines), count=1,
                  flags=re.M) + "\n"
    if version == "v3":
        return with_tree_sizes(text)
    return text.replace("end of trees", "")  # no tree_sizes: trees end at the next non-tree line


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_older_format_versions(version, tmp_path):
    X, y = cat_data(n_cats=40, seed=23)
    m = lgb.LGBMClassifier(**SMALL, **CAT).fit(X, np.digitize(y, [-1, 1]), categorical_feature=[2])
    text = older_format(m.booster_.model_to_string(), version)
    path = tmp_path / "old.txt"
    path.write_text(text)
    old = load(str(path))
    assert old.meta["format_version"] == version
    dumps_equal(old, load(m.booster_))
    check(lgb.Booster(model_str=text), X, f"format-{version}", cat_cols=(2,))


def test_windows_line_endings(tmp_path):
    X = make_X(seed=24)
    m = lgb.LGBMRegressor(**SMALL).fit(X, targets(X)["reg"])
    path = tmp_path / "crlf.txt"
    path.write_bytes(m.booster_.model_to_string().replace("\n", "\r\n").encode())
    dumps_equal(load(str(path)), load(m.booster_))


def test_large_model_file_loads_in_seconds(tmp_path):
    """1,000 trees of 31 leaves: built by repeating a trained model's trees."""
    X = make_X(n=2000, seed=25)
    b = lgb.train({"num_leaves": 31, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1},
                  lgb.Dataset(X, targets(X)["reg"]), num_boost_round=10)
    text = b.model_to_string()
    start, end = text.index("Tree=0"), text.index("end of trees")
    blocks = text[start:end].split("\n\n\n")
    blocks = [blk for blk in blocks if blk.strip()]
    trees = []
    for i in range(1000):
        blk = blocks[i % len(blocks)]
        trees.append(f"Tree={i}" + blk[blk.index("\n"):] + "\n\n\n")
    sizes = " ".join(str(len(t)) for t in trees)
    head = text[:text.index("tree_sizes=")] + f"tree_sizes={sizes}\n\n"
    big = head + "".join(trees) + text[end:]
    path = tmp_path / "big.txt"
    path.write_text(big)
    t0 = time.perf_counter()
    model = load(str(path))
    elapsed = time.perf_counter() - t0
    assert len(model.raw.trees) == 1000
    assert elapsed < 5.0, f"loading 1,000 trees took {elapsed:.2f} s"
    STATS["large-load-seconds"] = (0, 0)
    print(f"\nloaded 1,000 trees of 31 leaves in {elapsed:.3f} s")
    rows = X[:200]
    np.testing.assert_allclose(ir.evaluate(model, rows)[:, 0],
                               lgb.Booster(model_str=big).predict(rows), rtol=1e-12)


# ---------------------------------------------------------------- errors

def trained_text(**params):
    X = make_X(n=200, seed=26)
    return lgb.LGBMRegressor(**SMALL, **params).fit(X, targets(X)["reg"]).booster_.model_to_string()


def one_line(exc_info):
    msg = str(exc_info.value)
    assert "\n" not in msg and msg
    return msg


@pytest.mark.parametrize("objective", ["cox", "survival_cox", "my_loss"])
def test_unsupported_objective_is_named(objective, tmp_path):
    path = tmp_path / "m.txt"
    path.write_text(trained_text().replace("objective=regression", f"objective={objective}", 1))
    with pytest.raises(UnsupportedModelError) as exc:
        load(str(path))
    assert repr(objective) in one_line(exc)


def test_truncated_files_are_input_errors(tmp_path):
    text = trained_text()
    end = text.index("end of trees")
    path = tmp_path / "cut.txt"
    for frac in np.linspace(0.02, 0.99, 40):
        cut = int(frac * end)
        path.write_text(text[:cut])
        if not text[:cut].startswith("tree\n") or "version=" not in text[:cut]:
            continue  # too short to be recognised as a LightGBM file
        with pytest.raises(InputError) as exc:
            load(str(path))
        assert str(path) in one_line(exc)
    path.write_text(text[:end + len("end of trees\n") + 40])  # cut in the trailer: trees complete
    assert len(load(str(path)).raw.trees) == SMALL["n_estimators"]


@pytest.mark.parametrize("pattern,repl,needle", [
    (r"left_child=\S+", "left_child=99", "child index"),
    (r"left_child=\S+", "left_child=0", "child index"),
    (r"right_child=\S+", "right_child=1", "not a tree"),
    (r"split_feature=\S+", "split_feature=77", "feature index"),
    (r"leaf_value=\S+", "leaf_value=abc", "not a number"),
    (r"leaf_value=\S+ ", "leaf_value=", "expected"),
    (r"num_leaves=\S+", "num_leaves=x", "not an integer"),
    (r"num_tree_per_iteration=1", "num_tree_per_iteration=5", "iterations"),
    (r"objective=regression", "objective=binary", "sigmoid"),
    (r"objective=regression", "objective=multiclassova num_class:1 sigmoid:-2",
     "greater than zero"),
    (r"decision_type=\S+", "decision_type=1", "bitset"),
    (r"Tree=3\n", "Tree=3\nnot a key value line\n", "has no '='"),
])
def test_corrupt_fields_are_input_errors(pattern, repl, needle, tmp_path):
    import re

    text = trained_text()
    edited = re.sub(pattern, repl, text, count=1)
    assert edited != text
    path = tmp_path / "bad.txt"
    path.write_text(edited)
    with pytest.raises(InputError) as exc:
        load(str(path))
    assert needle in one_line(exc)


def test_not_utf8_and_unfitted(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"tree\nversion=v4\n\xff\xfe\n")
    with pytest.raises(InputError):
        load(str(path))
    with pytest.raises(InputError) as exc:
        load(lgb.LGBMRegressor())
    assert "fit" in one_line(exc)


def test_sniff():
    from transpiler.load import lgbm

    assert lgbm.sniff("m.txt", b"tree\nversion=v4\nnum_class=1\n")
    assert lgbm.sniff("m.txt", b"tree\r\nversion=v3\r\n")
    assert not lgbm.sniff("m.txt", b"tree\nnum_class=1\n")
    assert not lgbm.sniff("m.pkl", b"\x80\x04\x95")


# ---------------------------------------------------------------- compiled Go, C, Java

def _e2e_cases():
    X = make_X(n=300, seed=40)
    y = targets(X)
    Xc, yc = cat_data(n=400, n_cats=70, seed=41)
    rel = np.clip(np.round(y["reg"] / 2 + 1.5), 0, 3).astype(int)

    def fit(model, X_, y_, **kw):
        return model.fit(X_, y_, **kw)

    specs = {
        "reg": (fit(lgb.LGBMRegressor(**SMALL), X, y["reg"]), X, ()),
        "binary": (fit(lgb.LGBMClassifier(sigmoid=0.7, **SMALL), X, y["bin"]), X, ()),
        "softmax": (fit(lgb.LGBMClassifier(**SMALL), X, y["multi"]), X, ()),
        "ova": (fit(lgb.LGBMClassifier(objective="multiclassova", **SMALL), X, y["multi"]), X, ()),
        "cat": (fit(lgb.LGBMRegressor(**SMALL, **CAT), Xc, yc, categorical_feature=[2]), Xc, (2,)),
        "linear": (fit(lgb.LGBMRegressor(linear_tree=True, **SMALL), X, y["reg"]), X, ()),
        "zero": (fit(lgb.LGBMRegressor(zero_as_missing=True, **SMALL), X, y["reg"]), X, ()),
        "nomissing": (fit(lgb.LGBMClassifier(use_missing=False, **SMALL), X, y["bin"]), X, ()),
        "rf": (fit(lgb.LGBMRegressor(boosting_type="rf", bagging_freq=1, bagging_fraction=0.7,
                                     **SMALL), X, y["reg"]), X, ()),
        "poisson": (fit(lgb.LGBMRegressor(objective="poisson", **SMALL), X, y["pos"]), X, ()),
        "xentlambda": (fit(lgb.LGBMRegressor(objective="cross_entropy_lambda", **SMALL),
                           X, y["prob"]), X, ()),
        "sqrt": (fit(lgb.LGBMRegressor(reg_sqrt=True, **SMALL), X, y["reg"] * 3), X, ()),
        "rank": (fit(lgb.LGBMRanker(**SMALL), X, rel, group=[30] * 10), X, ()),
    }
    return _with_rows(specs)


def _with_rows(specs):
    """Probe rows plus 10,000 random rows spread like the training rows (categories too)."""
    cases = {}
    for i, (name, (m, X_, cats)) in enumerate(specs.items()):
        method = "predict_proba" if isinstance(m, lgb.LGBMClassifier) else "predict"
        more = make_X(n=10_000, n_features=X_.shape[1], seed=100 + i)
        for c in cats:
            more[:, c] = np.random.default_rng(i).integers(-2, int(np.nanmax(X_[:, c])) + 3, len(more))
        cases[f"lgbm_{name}"] = (m, np.vstack([probe_rows(X_, m.booster_, cats), more]), method)
    return cases


_CATALOGUE = []


def catalogue():
    from support import Catalogue

    if not _CATALOGUE:  # fitted on first use, so the IR-only tests above stay fast
        # bit for bit, outputs through exp included: the code computes glibc's exp, as LightGBM does
        _CATALOGUE.append(Catalogue(_e2e_cases(), rtol=0.0))
    return _CATALOGUE[0]


E2E = ["lgbm_reg", "lgbm_binary", "lgbm_softmax", "lgbm_ova", "lgbm_cat", "lgbm_linear",
       "lgbm_zero", "lgbm_nomissing", "lgbm_rf", "lgbm_poisson", "lgbm_xentlambda", "lgbm_sqrt",
       "lgbm_rank"]


@pytest.mark.parametrize("name", E2E)
def test_e2e_ir_matches_lightgbm(name):
    from support import leaf_coverage

    irm, rows = catalogue().check_ir(name)
    reached, total = leaf_coverage(irm, rows)
    assert reached == total, f"fixture rows reach {reached} of {total} leaves"


@pytest.mark.parametrize("lang", ["go", "c", "java"])
@pytest.mark.parametrize("name", E2E)
def test_compiled_matches_lightgbm(name, lang):
    catalogue().check_compiled(name, lang)


def _pending_cases():
    """Cases the emitters do not get right yet (kept apart: one failing case breaks a build)."""
    X = make_X(n=300, seed=42)
    tail = lgb.LGBMRegressor(objective="cross_entropy_lambda", **SMALL)
    tail.fit(X, targets(X)["prob"] * 1e-9)
    return _with_rows({"xentlambda_tail": (tail, X, ())})


_PENDING = []


@pytest.mark.parametrize("lang", ["go", "c", "java"])
def test_compiled_single_leaf_trees_and_softplus_tail(lang):
    from support import Catalogue

    if not _PENDING:
        _PENDING.append(Catalogue(_pending_cases(), rtol=0.0))
    cat = _PENDING[0]
    cat.check_ir("lgbm_xentlambda_tail")
    assert cat.ir("lgbm_xentlambda_tail")[0].raw.trees[-1].n_nodes == 1
    cat.check_compiled("lgbm_xentlambda_tail", lang)
