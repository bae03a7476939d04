"""Pipelines (scalers, Normalizer, Binarizer, SimpleImputer, PolynomialFeatures, OrdinalEncoder,
ColumnTransformer) and CalibratedClassifierCV: the generated code takes the raw row, and
predict / predict_proba == IR evaluator == compiled Go, C, Java.

Elementwise steps round exactly as NumPy does, so pipelines ending in trees are bit for bit.
Dot products (linear models, kernels, the l2 norm) are summed in another order by BLAS and
einsum: 1e-12 relative to the size of the summed terms.
"""
import warnings

import numpy as np
import pytest
import sklearn
from sklearn import calibration, compose, ensemble, impute, linear_model, pipeline, svm, tree
from sklearn import preprocessing as pre
try:
    from sklearn.frozen import FrozenEstimator      # scikit-learn >= 1.6
except ImportError:
    FrozenEstimator = None

import transpiler
from transpiler import ir
from transpiler.errors import UnsupportedModelError

from fidelity import Fidelity, Spec, agreement, kernel_scale, linear_scale
from support import LANGS, Lazy, leaf_coverage, release

warnings.filterwarnings("ignore", category=UserWarning)

rng = np.random.default_rng(3)
X = np.round(rng.normal(loc=2.0, scale=3.0, size=(200, 5)), 1)
X[:, 4] = rng.choice([1.0, 4.0, 9.0], size=200)         # a categorical column
y = X[:, 0] - 0.3 * X[:, 1] ** 2 / 3 + (X[:, 4] == 4.0) + 0.2 * rng.normal(size=200)
yb = (y > np.median(y)).astype(int)
y3 = np.digitize(y, np.quantile(y, [0.33, 0.66]))
Xnan = X.copy()
Xnan[rng.random(X.shape) < 0.15] = np.nan
Xct = X.copy()                                           # NaN only where CT imputes
Xct[:, :2] = Xnan[:, :2]
Xneg = X.copy()
Xneg[rng.random(X.shape) < 0.1] = -1.0                   # -1 marks a missing value
P = 1e-12


def holes(Xf):
    """Rows of Xf with each column NaN in turn, and with half the cells NaN: rows behind the
    missing-value paths that rows derived through clips and indicators cannot target (the
    trees of scikit-learn 1.4 grow leaves there)."""
    r = np.random.default_rng(5)
    parts = []
    for j in range(Xf.shape[1]):
        part = Xf.copy()
        part[:, j] = np.nan
        parts.append(part)
    half = Xf.copy()
    half[r.random(Xf.shape) < 0.5] = np.nan
    return np.vstack(parts + [half])


def ones(irm, rows, ref):
    return np.ones(len(rows))


def fit(steps, Xf, yf):
    return pipeline.make_pipeline(*steps).fit(Xf, yf)


def ridge_scale(irm, rows, ref):
    return linear_scale(irm, rows, ref)


CT = compose.ColumnTransformer([
    ("num", pipeline.make_pipeline(impute.SimpleImputer(), pre.StandardScaler()), [0, 1]),
    ("cat", pre.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), [4]),
    ("poly", pre.PolynomialFeatures(2, include_bias=False), [2, 3]),
    ("gone", "drop", [1]),
], remainder="passthrough")
CT_TREE = compose.ColumnTransformer([
    ("scaled", pre.RobustScaler(), [3, 0]),
    ("cat", pre.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), [4]),
], remainder="passthrough")

CASES = Lazy({
    "standard_gb": lambda: Spec(fit([pre.StandardScaler(), ensemble.GradientBoostingRegressor(
        n_estimators=8, max_depth=3, random_state=0)], X, y), X, "predict", nan=False),
    "minmax_clip_forest": lambda: Spec(fit([pre.MinMaxScaler(feature_range=(-1, 2), clip=True),
                                    ensemble.RandomForestClassifier(n_estimators=4, max_depth=4,
                                                                    random_state=0)],
                                   Xnan, y3), Xnan, "predict_proba", extra=holes(Xnan)),
    "maxabs_robust_ridge": lambda: Spec(fit([pre.MaxAbsScaler(), pre.RobustScaler(quantile_range=(10, 90)),
                                     linear_model.Ridge()], X, y), X, "predict", rtol=P,
                                scale=ridge_scale, nan=False),
    "normalizer_svr": lambda: Spec(fit([pre.Normalizer(), svm.SVR(gamma=2.0)], X, y), X, "predict",
                           rtol=P, scale=kernel_scale, nan=False),
    "normalizer_l1_max_tree": lambda: Spec(fit([pre.Normalizer("l1"), pre.Normalizer("max"),
                                        tree.DecisionTreeRegressor(max_depth=5, random_state=0)],
                                       X, y), X, "predict", rtol=P, scale=ones, nan=False),
    "binarizer_tree": lambda: Spec(fit([pre.Binarizer(threshold=2.0), tree.DecisionTreeClassifier(
        random_state=0)], X, y3), X, "predict_proba", nan=False),
    "imputer_mean_hgb": lambda: Spec(fit([impute.SimpleImputer(), ensemble.HistGradientBoostingRegressor(
        max_iter=6, random_state=0)], Xnan, y), Xnan, "predict"),
    "imputer_median_indicator_forest": lambda: Spec(fit([impute.SimpleImputer(strategy="median",
                                                                      add_indicator=True),
                                                 ensemble.RandomForestRegressor(
                                                     n_estimators=3, max_depth=5, random_state=0)],
                                                Xnan, y), Xnan, "predict", extra=holes(Xnan)),
    "imputer_frequent_linear": lambda: Spec(fit([impute.SimpleImputer(strategy="most_frequent"),
                                         linear_model.LinearRegression()], Xnan, y), Xnan,
                                    "predict", rtol=P, scale=ridge_scale),
    "imputer_constant_marker_gb": lambda: Spec(fit([impute.SimpleImputer(missing_values=-1.0,
                                                                 strategy="constant",
                                                                 fill_value=0.5),
                                            ensemble.GradientBoostingClassifier(
                                                n_estimators=5, random_state=0)], Xneg, yb),
                                       Xneg, "predict_proba", rtol=P, scale=ones, nan=False),
    "poly_ridge": lambda: Spec(fit([pre.StandardScaler(), pre.PolynomialFeatures(3),
                            linear_model.Ridge(alpha=10.0)], X, y), X, "predict", rtol=P,
                       scale=ridge_scale, nan=False),
    "poly_interaction_tree": lambda: Spec(fit([pre.PolynomialFeatures((2, 3), interaction_only=True,
                                                              include_bias=False),
                                       tree.DecisionTreeRegressor(max_depth=6, random_state=0)],
                                      X, y), X, "predict", nan=False),
    "column_transformer_svc": lambda: Spec(fit([CT, pre.StandardScaler(), svm.SVC(gamma=0.1)], Xct, y3),
                                   Xct, "decision_function", rtol=P, scale=kernel_scale,
                                   nan=[0, 1]),
    "column_transformer_hgb": lambda: Spec(fit([CT_TREE, ensemble.HistGradientBoostingClassifier(
        max_iter=5, categorical_features=[2], random_state=0)], Xnan, y3), Xnan, "predict_proba",
        rtol=P, scale=ones, extra=holes(Xnan)),
    "nested_pipeline_adaboost": lambda: Spec(fit([pipeline.make_pipeline(impute.SimpleImputer(),
                                                                 pre.MinMaxScaler()),
                                          ensemble.AdaBoostClassifier(n_estimators=5,
                                                                      random_state=0)], Xnan, yb),
                                     Xnan, "predict_proba", rtol=P, scale=ones),
    # CalibratedClassifierCV: sigmoid and isotonic over supported models
    "calibrated_sigmoid_gb": lambda: Spec(calibration.CalibratedClassifierCV(
        ensemble.GradientBoostingClassifier(n_estimators=5, random_state=0), cv=3).fit(X, yb),
        X, "predict_proba", rtol=P, scale=ones, nan=False),
    "calibrated_isotonic_forest": lambda: Spec(calibration.CalibratedClassifierCV(
        ensemble.RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0),
        method="isotonic", cv=3).fit(Xnan, y3), Xnan, "predict_proba", extra=holes(Xnan)),
    "calibrated_sigmoid_logistic": lambda: Spec(calibration.CalibratedClassifierCV(
        linear_model.LogisticRegression(), cv=2).fit(X, y3), X, "predict_proba", rtol=P,
        scale=ones, nan=False),
    "calibrated_isotonic_hgb": lambda: Spec(calibration.CalibratedClassifierCV(
        ensemble.HistGradientBoostingClassifier(max_iter=5, random_state=0), method="isotonic",
        cv=2).fit(Xnan, yb), Xnan, "predict_proba", rtol=P, scale=ones),
    "calibrated_svc_single": lambda: Spec(calibration.CalibratedClassifierCV(
        svm.SVC(gamma=0.05), ensemble=False).fit(X, yb), X, "predict_proba", rtol=P, scale=ones,
        nan=False),
    # multiclass SVC: per fold, one-vs-one votes, then the calibrators (SVC(probability=True)'s
    # replacement in scikit-learn 1.9)
    "calibrated_svc_multi": lambda: Spec(calibration.CalibratedClassifierCV(
        svm.SVC(kernel="poly", degree=2, gamma=0.02), cv=2).fit(X, y3), X, "predict_proba",
        rtol=P, scale=ones, nan=False),
})
if FrozenEstimator is not None:
    CASES = Lazy({**CASES._builders, "pipeline_calibrated_frozen": lambda: Spec(fit(
        [pre.StandardScaler(), calibration.CalibratedClassifierCV(FrozenEstimator(
            ensemble.ExtraTreesClassifier(n_estimators=3, max_depth=4, random_state=0)
            .fit(X, y3)), method="isotonic")], X, y3), X, "predict_proba", nan=False)})
CAT = Fidelity(CASES)


@pytest.mark.parametrize("name", CASES)
def test_ir_matches_sklearn(name):
    irm, rows = CAT.check_ir(name)
    if isinstance(irm.raw, ir.Ensemble):
        reached, total = leaf_coverage(irm, rows)
        assert reached == total, f"fixture rows reach {reached} of {total} leaves"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", CASES)
def test_compiled_matches_sklearn(name, lang):
    CAT.check_compiled(name, lang)


@pytest.mark.parametrize("name", ["standard_gb", "minmax_clip_forest", "binarizer_tree",
                                  "imputer_mean_hgb", "imputer_median_indicator_forest",
                                  "poly_interaction_tree", "calibrated_isotonic_forest"])
def test_elementwise_steps_keep_trees_bit_for_bit(name):
    same, total = agreement(CAT, name)
    assert same == total


def test_generated_code_takes_the_raw_row():
    model = CASES["poly_ridge"].model
    irm = transpiler.to_ir(model)
    assert (irm.n_features, irm.n_x) == (5, 56)
    src = transpiler.transpile(model, "c")
    assert "#define SCORE_N_FEATURES 5" in src["model.h"]


def test_threshold_rows_survive_the_scaler():
    # Rows derived on the trees' thresholds are mapped back through the scaler exactly.
    irm, rows = CAT.check_ir("standard_gb")
    scaled = ir.evaluate.__globals__["preprocess"](irm.pre, rows)
    t = irm.raw.trees[0]
    f, thr = int(t.feature[0]), float(t.threshold[0])
    assert (scaled[:, f].astype(np.float32) == np.float32(thr)).any()


@pytest.mark.parametrize("make, match", [
    (lambda: fit([pre.OneHotEncoder(), linear_model.Ridge()], X, y), "OneHotEncoder"),
    (lambda: pipeline.make_pipeline(pre.StandardScaler()).fit(X), "not a model"),
    (lambda: calibration.CalibratedClassifierCV(pipeline.make_pipeline(
        pre.StandardScaler(), linear_model.LogisticRegression()), cv=2).fit(X, yb),
     "different preprocessing"),
    (lambda: calibration.CalibratedClassifierCV(linear_model.LogisticRegression(),
                                                method="temperature", cv=2).fit(X, y3),
     "temperature"),
    (lambda: fit([pre.OrdinalEncoder(), tree.DecisionTreeRegressor()],
                 np.array([["a"], ["b"]] * 5), np.arange(10.0)), "string categories"),
])
def test_unsupported_steps_are_named(make, match):
    if match == "temperature" and release(sklearn) < (1, 8):
        pytest.skip("scikit-learn < 1.8 has no temperature scaling")
    with pytest.raises(UnsupportedModelError, match=match):
        transpiler.to_ir(make())


def test_tables_read_the_pipelines_width():
    # A width-changing pipeline: the table code walks rows of the width the trees read.
    model = CASES["poly_interaction_tree"].model
    go = transpiler.transpile(model, "go", layout="table")["model.go"]
    assert "//go:embed" in go and "x *[nX]float64" in go
    assert "nodes" in transpiler.transpile(model, "c", layout="table")["model.c"]
