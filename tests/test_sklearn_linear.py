"""scikit-learn linear models: the loader's IR, run by the reference evaluator, against the library.

The library computes X @ coef_.T with BLAS, whose summation order differs from the sequential
order the IR fixes, so agreement is to rounding: relative 1e-12 plus a few ulps of the sum of
|coef * x| terms (scaled by the output for exp, whose relative error is the raw absolute error).
"""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn import linear_model as lm
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC, LinearSVR
from sklearn.tree import DecisionTreeClassifier

from transpiler import ir
from transpiler.errors import InputError, UnsupportedModelError
from transpiler.load import load, sklearn_linear

from support import release

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning",
                                        "ignore::sklearn.exceptions.ConvergenceWarning",
                                        # the evaluator's sigmoid: exp overflows, 1/inf = 0
                                        "ignore:overflow encountered in exp:RuntimeWarning")

N_FEATURES = 5
RNG = np.random.default_rng(20240601)
X_TRAIN = RNG.normal(size=(80, N_FEATURES))
_W = RNG.normal(size=N_FEATURES)
Y_REG = X_TRAIN @ _W + 0.3 * RNG.normal(size=80) + 1.5
Y_REG2 = np.c_[Y_REG, -2.0 * Y_REG + X_TRAIN[:, 1]]
Y_POS = np.exp(0.3 * (X_TRAIN @ _W) / np.abs(_W).sum() + 0.1 * RNG.normal(size=80))
Y_BIN = (Y_REG > np.median(Y_REG)).astype(int)
Y_MULTI = np.digitize(Y_REG, np.quantile(Y_REG, [0.33, 0.66]))
Y_STR = np.array(["low", "mid", "high"])[Y_MULTI]
Y_LABELS = np.c_[Y_BIN, (X_TRAIN[:, 0] > 0).astype(int), (X_TRAIN[:, 2] > 0.5).astype(int)]
# Training rows, random rows on a wider scale, saturating rows, and the origin.
X_EVAL = np.vstack([X_TRAIN, 3.0 * RNG.normal(size=(60, N_FEATURES)),
                    40.0 * RNG.normal(size=(8, N_FEATURES)), np.zeros((1, N_FEATURES))])


with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)   # deprecated in 1.8, still supported
    PA_REGRESSOR = lm.PassiveAggressiveRegressor(random_state=0)
    PA_CLASSIFIER = lm.PassiveAggressiveClassifier(random_state=0)


def est_id(param) -> str:
    """Test ids like LogisticRegression(solver='newton-cholesky'); other parameters get none."""
    return repr(param).replace(" ", "").replace("\n", "") if hasattr(param, "fit") else ""


def library_scores(obj, X) -> tuple[str, np.ndarray]:
    """What Score must return: predict_proba, else decision_function, else predict."""
    if hasattr(obj, "predict_proba"):
        kind, out = "predict_proba", obj.predict_proba(X)
    elif hasattr(obj, "decision_function"):
        kind, out = "decision_function", obj.decision_function(X)
    else:
        kind, out = "predict", obj.predict(X)
    return kind, np.asarray(out, dtype=np.float64).reshape(len(X), -1)


def assert_close(model, X, got, expected, what=""):
    """Equal up to the rounding of a reordered dot product (and of 1 - p and exp)."""
    lin = model.raw
    scale = (np.abs(X) @ np.abs(lin.coef).T + np.abs(lin.intercept)).max(axis=1, keepdims=True)
    atol = 8 * N_FEATURES * np.finfo(np.float64).eps * scale
    if model.post == "exp":
        atol = atol * np.abs(expected)
    elif model.output_kind == "predict_proba":
        atol = atol + 4 * np.finfo(np.float64).eps   # 1 - p, expit vs 1 / (1 + exp(-x))
    np.testing.assert_array_less(np.abs(got - expected), 1e-12 * np.abs(expected) + atol + 1e-300,
                                 err_msg=what)


def assert_matches(obj, X=X_EVAL) -> ir.Model:
    model = load(obj)
    kind, expected = library_scores(obj, X)
    got = ir.evaluate(model, X)
    assert model.output_kind == kind
    assert got.shape == expected.shape == (len(X), model.n_outputs)
    assert_close(model, X, got, expected)
    assert model.source == f"sklearn.{type(obj).__name__}"
    assert model.source_version == sklearn.__version__
    assert model.n_features == N_FEATURES
    return model


def fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


# ---------------------------------------------------------------- regressors

def n_alphas(n: int) -> dict:
    """The *CV models' grid of n alphas: `alphas=n` since scikit-learn 1.7, `n_alphas` before."""
    allowed = lm.LassoCV._parameter_constraints["alphas"]
    ints = any(c != "array-like" and c is not None for c in allowed)
    return {"alphas": n} if ints else {"n_alphas": n}


REGRESSORS = [
    lm.LinearRegression(), lm.LinearRegression(fit_intercept=False), lm.Ridge(alpha=0.5),
    lm.RidgeCV(alphas=(0.1, 1.0, 10.0)), lm.Lasso(alpha=0.05), lm.LassoCV(cv=3, **n_alphas(5)),
    lm.ElasticNet(alpha=0.05, l1_ratio=0.3), lm.ElasticNetCV(cv=3, **n_alphas(5)),
    lm.Lars(), lm.LarsCV(cv=3), lm.LassoLars(alpha=0.01), lm.LassoLarsCV(cv=3),
    lm.LassoLarsIC(), lm.OrthogonalMatchingPursuit(n_nonzero_coefs=3),
    lm.OrthogonalMatchingPursuitCV(cv=3), lm.BayesianRidge(), lm.ARDRegression(),
    lm.HuberRegressor(), lm.TheilSenRegressor(max_subpopulation=200, random_state=0),
    lm.QuantileRegressor(quantile=0.7, alpha=0.01), lm.SGDRegressor(random_state=0),
    PA_REGRESSOR, LinearSVR(random_state=0),
]
MULTI_TARGET = [
    lm.LinearRegression(), lm.Ridge(alpha=0.5), lm.RidgeCV(), lm.Lasso(alpha=0.05),
    lm.ElasticNet(alpha=0.05), lm.Lars(), lm.LassoLars(alpha=0.01),
    lm.OrthogonalMatchingPursuit(n_nonzero_coefs=2), lm.MultiTaskLasso(alpha=0.05),
    lm.MultiTaskElasticNet(alpha=0.05), lm.MultiTaskLassoCV(cv=3, **n_alphas(4)),
    lm.MultiTaskElasticNetCV(cv=3, **n_alphas(4)), lm.LinearRegression(fit_intercept=False),
]


@pytest.mark.parametrize("est", REGRESSORS, ids=est_id)
def test_regressor(est):
    model = assert_matches(fit(est, X_TRAIN, Y_REG))
    assert (model.task, model.post, model.n_outputs) == ("regression", "identity", 1)
    assert model.classes == ()


@pytest.mark.parametrize("est", MULTI_TARGET, ids=est_id)
def test_multi_target_regressor(est):
    model = assert_matches(fit(est, X_TRAIN, Y_REG2))
    assert model.n_outputs == 2 and model.raw.coef.shape == (2, N_FEATURES)


def test_single_column_target_and_float32_fit():
    assert assert_matches(fit(lm.Ridge(), X_TRAIN, Y_REG[:, None])).n_outputs == 1
    # Fitted in float32: coef_ is float32, predict widens it exactly, and so do we.
    est = fit(lm.Ridge(), X_TRAIN.astype(np.float32), Y_REG.astype(np.float32))
    assert est.coef_.dtype == np.float32
    assert_matches(est)


@pytest.mark.parametrize("est, post", [
    (lm.PoissonRegressor(alpha=0.01), "exp"),
    (lm.GammaRegressor(alpha=0.01), "exp"),
    (lm.TweedieRegressor(power=0.0), "identity"),           # link='auto', power 0 -> identity
    (lm.TweedieRegressor(power=0.0, link="identity"), "identity"),
    (lm.TweedieRegressor(power=0.0, link="log"), "exp"),
    (lm.TweedieRegressor(power=1.5, alpha=0.01), "exp"),    # link='auto', power > 0 -> log
    (lm.TweedieRegressor(power=1.5, link="log", alpha=0.01), "exp"),
], ids=est_id)
def test_glm(est, post):
    model = assert_matches(fit(est, X_TRAIN, Y_POS))
    assert model.post == post and model.n_outputs == 1


# ---------------------------------------------------------------- classifiers

CLASSIFIERS = [
    (lm.LogisticRegression(), ("binary_sigmoid", "softmax")),
    # one-vs-rest before scikit-learn 1.6 (multi_class='auto' meant "ovr" for this solver)
    (lm.LogisticRegression(solver="newton-cholesky"),
     ("binary_sigmoid", "ovr_normalize" if release(sklearn) < (1, 6) else "softmax")),
    (lm.LogisticRegressionCV(Cs=3, cv=3), ("binary_sigmoid", "softmax")),
    (lm.SGDClassifier(loss="log_loss", random_state=0), ("binary_sigmoid", "ovr_normalize")),
    (lm.SGDClassifier(loss="modified_huber", random_state=0),
     ("binary_modified_huber", "modified_huber")),
    (lm.SGDClassifier(loss="hinge", random_state=0), ("identity", "identity")),
    (lm.SGDClassifier(loss="squared_hinge", random_state=0), ("identity", "identity")),
    (lm.SGDClassifier(loss="perceptron", random_state=0), ("identity", "identity")),
    (lm.RidgeClassifier(), ("identity", "identity")),
    (lm.RidgeClassifierCV(), ("identity", "identity")),
    (lm.Perceptron(random_state=0), ("identity", "identity")),
    (PA_CLASSIFIER, ("identity", "identity")),
    (LinearSVC(random_state=0), ("identity", "identity")),
    (LinearSVC(multi_class="crammer_singer", random_state=0), ("identity", "identity")),
]


@pytest.mark.parametrize("est, posts", CLASSIFIERS,
                         ids=est_id)
@pytest.mark.parametrize("y", ["binary", "multiclass", "strings"])
def test_classifier(est, posts, y):
    target = {"binary": Y_BIN, "multiclass": Y_MULTI, "strings": Y_STR}[y]
    obj = fit(sklearn.base.clone(est), X_TRAIN, target)
    model = assert_matches(obj)
    n_classes = len(np.unique(target))
    assert model.task == "classification"
    assert model.classes == tuple(obj.classes_.tolist())
    assert model.post == posts[n_classes > 2]
    if model.output_kind == "decision_function":
        assert model.n_outputs == (1 if n_classes == 2 else n_classes)
    else:
        assert model.n_outputs == n_classes


def test_liblinear_logistic_regression_binary():
    # liblinear fits binary problems only (multi-class needs OneVsRestClassifier, tested below).
    obj = fit(lm.LogisticRegression(C=0.3, solver="liblinear"), X_TRAIN, Y_BIN)
    assert assert_matches(obj).post == "binary_sigmoid"


def test_modified_huber_rows_with_all_zero_probabilities():
    # Rows whose every clipped score is -1 get 1/k in sklearn; shift the intercepts to get many.
    obj = fit(lm.SGDClassifier(loss="modified_huber", random_state=0), X_TRAIN, Y_MULTI)
    obj.intercept_ = obj.intercept_ - 3.0
    assert (obj.predict_proba(X_EVAL) == 1 / 3).all(axis=1).sum() > 10
    assert_matches(obj)


def test_sparsified_coefficients_are_densified():
    obj = fit(lm.SGDClassifier(loss="log_loss", penalty="l1", random_state=0), X_TRAIN, Y_MULTI)
    obj.sparsify()
    assert hasattr(obj.coef_, "toarray")
    assert_matches(obj)


def test_ridge_classifier_multilabel():
    obj = fit(lm.RidgeClassifier(), X_TRAIN, Y_LABELS)
    model = assert_matches(obj)
    assert model.n_outputs == 3 and model.meta["multilabel"] is True


def test_pickled_multi_class_attribute_follows_the_installed_predict_proba():
    # An old pickle keeps multi_class='ovr'; scikit-learn >= 1.8 ignores it (softmax), as we do.
    obj = fit(lm.LogisticRegression(), X_TRAIN, Y_MULTI)
    obj.multi_class = "ovr"
    if sklearn_linear._honors_multi_class(obj):
        pytest.skip("this scikit-learn still reads multi_class")
    assert assert_matches(obj).post == "softmax"


@pytest.mark.parametrize("multi_class, solver, n_classes, release, expected", [
    ("ovr", "lbfgs", 3, (1, 7), ("ovr_normalize", 1.0)),
    ("auto", "liblinear", 3, (1, 7), ("ovr_normalize", 1.0)),
    ("auto", "lbfgs", 3, (1, 7), ("softmax", 1.0)),
    ("multinomial", "lbfgs", 3, (1, 7), ("softmax", 1.0)),
    ("deprecated", "lbfgs", 2, (1, 7), ("binary_sigmoid", 1.0)),
    ("multinomial", "lbfgs", 2, (1, 7), ("binary_sigmoid", 2.0)),   # softmax([-d, d])
    ("auto", "newton-cholesky", 3, (1, 5), ("ovr_normalize", 1.0)),
    ("deprecated", "newton-cholesky", 3, (1, 5), ("ovr_normalize", 1.0)),
    ("auto", "newton-cholesky", 3, (1, 6), ("softmax", 1.0)),
    ("auto", "newton-cholesky", 2, (1, 4), ("binary_sigmoid", 1.0)),
])
def test_legacy_multi_class_rule(monkeypatch, multi_class, solver, n_classes, release, expected):
    # Under scikit-learn < 1.8 predict_proba still read multi_class; the rule of each release
    # is checked here without that version installed.
    monkeypatch.setattr(sklearn_linear, "_honors_multi_class", lambda obj: True)
    monkeypatch.setattr(sklearn_linear, "sklearn_release", lambda: release)
    obj = lm.LogisticRegression(solver=solver)
    obj.multi_class = multi_class
    assert sklearn_linear.probability_post(obj, n_classes) == expected


def test_legacy_binary_multinomial_formula():
    # The post_scale=2 reading of softmax([-d, d]) agrees with it numerically.
    d = np.linspace(-30, 30, 601)[:, None]
    lin = ir.Linear(coef=ir.frozen_array([[1.0]], np.float64),
                    intercept=ir.frozen_array([0.0], np.float64))
    got = ir.evaluate(ir.Model(n_features=1, raw=lin, post="binary_sigmoid", post_scale=2.0), d)
    e = np.exp(np.c_[-d, d] - np.abs(d))
    # 1 - p rounds to the ulp of 1, as sklearn's own binary path does.
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-14, atol=2.3e-16)


# ---------------------------------------------------------------- one-vs-rest

@pytest.mark.parametrize("inner, posts", [
    (lm.LogisticRegression(), ("binary_sigmoid", "ovr_normalize")),
    (lm.LogisticRegression(solver="liblinear"), ("binary_sigmoid", "ovr_normalize")),
    (lm.SGDClassifier(loss="log_loss", random_state=0), ("binary_sigmoid", "ovr_normalize")),
    (LinearSVC(random_state=0), ("identity", "identity")),
    (lm.RidgeClassifier(), ("identity", "identity")),
    (lm.Perceptron(random_state=0), ("identity", "identity")),
], ids=est_id)
@pytest.mark.parametrize("y", ["binary", "strings"])
def test_one_vs_rest(inner, posts, y):
    target = Y_BIN if y == "binary" else Y_STR
    obj = fit(OneVsRestClassifier(inner), X_TRAIN, target)
    model = assert_matches(obj)
    assert model.post == posts[y != "binary"]
    assert model.classes == tuple(obj.classes_.tolist())
    assert model.source == "sklearn.OneVsRestClassifier"


def test_one_vs_rest_multilabel():
    obj = fit(OneVsRestClassifier(lm.LogisticRegression()), X_TRAIN, Y_LABELS)
    model = assert_matches(obj)
    assert model.post == "sigmoid" and model.meta["multilabel"] is True
    assert_matches(fit(OneVsRestClassifier(LinearSVC()), X_TRAIN, Y_LABELS))


def test_one_vs_rest_modified_huber():
    huber = lm.SGDClassifier(loss="modified_huber", random_state=0)
    assert_matches(fit(OneVsRestClassifier(huber), X_TRAIN, Y_BIN))
    obj = fit(OneVsRestClassifier(lm.SGDClassifier(loss="modified_huber")), X_TRAIN, Y_MULTI)
    with pytest.raises(UnsupportedModelError, match="modified_huber"):
        load(obj)


def test_one_vs_rest_refuses_non_linear_and_constant_estimators():
    with pytest.raises(UnsupportedModelError, match="DecisionTreeClassifier"):
        load(fit(OneVsRestClassifier(DecisionTreeClassifier(max_depth=2)), X_TRAIN, Y_MULTI))
    labels = Y_LABELS.copy()
    labels[:, 1] = 1
    with pytest.raises(UnsupportedModelError, match="every or in no training row"):
        load(fit(OneVsRestClassifier(lm.LogisticRegression()), X_TRAIN, labels))


# ---------------------------------------------------------------- metadata and errors

def test_feature_names_from_a_data_frame():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_TRAIN, columns=[f"f{i}" for i in range(N_FEATURES)])
    model = load(fit(lm.LogisticRegression(), frame, Y_MULTI))
    assert model.feature_names == tuple(frame.columns)
    ovr = load(fit(OneVsRestClassifier(lm.LogisticRegression()), frame, Y_MULTI))
    assert ovr.feature_names == tuple(frame.columns)
    assert load(fit(lm.LinearRegression(), X_TRAIN, Y_REG)).feature_names == ()


@pytest.mark.parametrize("est", [lm.LinearRegression(), lm.LogisticRegression(),
                                 lm.PoissonRegressor(), OneVsRestClassifier(LinearSVC())],
                         ids=est_id)
def test_unfitted_model_is_an_input_error(est):
    with pytest.raises(InputError, match="call fit"):
        load(est)


def test_non_finite_coefficients_are_refused():
    obj = fit(lm.SGDRegressor(random_state=0), X_TRAIN, Y_REG)
    obj.coef_ = obj.coef_.copy()
    obj.coef_[0] = np.nan
    with pytest.raises(UnsupportedModelError, match="not finite"):
        load(obj)


def test_pickled_file_round_trip(tmp_path):
    obj = fit(lm.LogisticRegression(), X_TRAIN, Y_MULTI)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(obj))
    np.testing.assert_array_equal(ir.evaluate(load(path), X_EVAL), ir.evaluate(load(obj), X_EVAL))


def test_every_supported_class_is_registered():
    names = {name for lib, name in __import__("transpiler.load", fromlist=["x"]).supported_models()
             if lib == "sklearn"}
    assert set(sklearn_linear.CLASSES) <= names
    tested = ({type(e).__name__ for e in REGRESSORS + MULTI_TARGET}
              | {type(e).__name__ for e, _ in CLASSIFIERS}
              | {"PoissonRegressor", "GammaRegressor", "TweedieRegressor", "OneVsRestClassifier"})
    assert set(sklearn_linear.CLASSES) == tested


# ---------------------------------------------------------------- generated code, end to end

def _e2e_models() -> dict:
    """One model per post-processor this loader produces, plus multi-output shapes."""
    shifted = fit(lm.SGDClassifier(loss="modified_huber", random_state=0), X_TRAIN, Y_MULTI)
    shifted.intercept_ = shifted.intercept_ - 3.0      # rows whose probabilities are all zero
    return {
        "linreg2": fit(lm.LinearRegression(), X_TRAIN, Y_REG2),
        "poisson": fit(lm.PoissonRegressor(alpha=0.01), X_TRAIN, Y_POS),
        "logit_bin": fit(lm.LogisticRegression(), X_TRAIN, Y_BIN),
        "logit_multi": fit(lm.LogisticRegression(), X_TRAIN, Y_STR),
        "sgd_log": fit(lm.SGDClassifier(loss="log_loss", random_state=0), X_TRAIN, Y_MULTI),
        "huber_bin": fit(lm.SGDClassifier(loss="modified_huber", random_state=0), X_TRAIN, Y_BIN),
        "huber_multi": shifted,
        "svc_multi": fit(LinearSVC(random_state=0), X_TRAIN, Y_MULTI),
        "ridge_bin": fit(lm.RidgeClassifier(), X_TRAIN, Y_BIN),
        "ovr_labels": fit(OneVsRestClassifier(lm.LogisticRegression()), X_TRAIN, Y_LABELS),
    }


@pytest.fixture(scope="module")
def e2e_models():
    return _e2e_models()


@pytest.mark.parametrize("lang", ["go", "c", "java"])
def test_generated_code_matches(lang, e2e_models, tmp_path):
    import transpiler
    from transpiler.verify import harness

    problem = harness.missing_toolchain(lang)
    if problem:
        pytest.skip(problem)
    cases = [harness.Case(name, transpiler.transpile(obj, lang, **harness.names_for(lang, name)),
                          N_FEATURES, load(obj).n_outputs, X_EVAL)
             for name, obj in e2e_models.items()]
    outputs = harness.run_cases(lang, cases, workdir=str(tmp_path))
    for name, obj in e2e_models.items():
        model = load(obj)
        got, reference = outputs[name], ir.evaluate(model, X_EVAL)
        if model.post == "identity":
            # Only sums and products in a fixed order: the same bits as the evaluator.
            np.testing.assert_array_equal(got, reference, err_msg=name)
        assert_close(model, X_EVAL, got, library_scores(obj, X_EVAL)[1], what=f"{lang} {name}")
