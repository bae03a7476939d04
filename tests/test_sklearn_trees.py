"""scikit-learn trees and forests: predict == IR evaluator == compiled Go, C, Java, bit for bit."""
import numpy as np
import pytest
from sklearn import datasets, ensemble, tree

from support import LANGS, Catalogue, Lazy, accepts_nan, leaf_coverage

rng = np.random.default_rng(0)
Xd, yd = datasets.load_diabetes(return_X_y=True)
Xi, yi = datasets.load_iris(return_X_y=True)
Xc, yc = datasets.load_breast_cancer(return_X_y=True)
Xc, yc = Xc[:200], yc[:200]
# Rounded inputs put many rows exactly on thresholds; NaN cells exercise missing_go_to_left.
Xr = np.round(rng.normal(size=(300, 5)), 1)
yr = Xr[:, 0] * 2 + np.sin(Xr[:, 1]) + rng.normal(scale=0.1, size=300)
Xnan = Xr.copy()
Xnan[rng.random(Xnan.shape) < 0.15] = np.nan
ynan_cls = (np.nan_to_num(Xnan[:, 0]) + np.nan_to_num(Xnan[:, 2]) > 0).astype(int)
Y2 = np.c_[yr, Xr[:, 2] - Xr[:, 3]]
# Alternating labels on a line make the best split peel one point at a time: a 2000-deep chain.
Xdeep = np.arange(2100, dtype=float)[:, None]
ydeep = (np.arange(2100) % 2).astype(float)


def fit(model, X, y):
    return model.fit(X, y)


CASES = Lazy({
    "dtr": lambda: (fit(tree.DecisionTreeRegressor(max_depth=6, random_state=0), Xd, yd), Xd, "predict"),
    "dtr_multi": lambda: (fit(tree.DecisionTreeRegressor(max_depth=5, random_state=0), Xr, Y2), Xr, "predict"),
    "dtr_nan": lambda: (fit(tree.DecisionTreeRegressor(max_depth=6, random_state=0), Xnan, yr), Xnan, "predict"),
    "dtc_binary": lambda: (fit(tree.DecisionTreeClassifier(max_depth=5, random_state=0), Xc, yc), Xc, "predict_proba"),
    "dtc_multi": lambda: (fit(tree.DecisionTreeClassifier(random_state=0), Xi, yi), Xi, "predict_proba"),
    "dtc_nan": lambda: (fit(tree.DecisionTreeClassifier(max_depth=6, random_state=0), Xnan, ynan_cls), Xnan, "predict_proba"),
    "etr": lambda: (fit(tree.ExtraTreeRegressor(max_depth=8, random_state=0), Xr, yr), Xr, "predict"),
    "etc": lambda: (fit(tree.ExtraTreeClassifier(random_state=0), Xi, yi), Xi, "predict_proba"),
    "rfr": lambda: (fit(ensemble.RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0), Xr, yr), Xr, "predict"),
    "rfr_multi": lambda: (fit(ensemble.RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0), Xr, Y2), Xr, "predict"),
    "rfc": lambda: (fit(ensemble.RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0), Xi, yi), Xi, "predict_proba"),
    "rfc_nan": lambda: (fit(ensemble.RandomForestClassifier(n_estimators=6, max_depth=6, random_state=0), Xnan, ynan_cls), Xnan, "predict_proba"),
    "etsr": lambda: (fit(ensemble.ExtraTreesRegressor(n_estimators=6, max_depth=6, random_state=0), Xd, yd), Xd, "predict"),
    "etsc": lambda: (fit(ensemble.ExtraTreesClassifier(n_estimators=6, max_depth=6, random_state=0), Xc, yc), Xc, "predict_proba"),
})
CAT = Catalogue(CASES)


@pytest.mark.parametrize("name", CASES)
def test_ir_matches_sklearn(name):
    irm, rows = CAT.check_ir(name)
    reached, total = leaf_coverage(irm, rows)
    assert reached == total, f"fixture rows reach {reached} of {total} leaves"
    assert np.isnan(rows).any() or not accepts_nan(CASES[name][0])


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", CASES)
def test_compiled_matches_sklearn(name, lang):
    CAT.check_compiled(name, lang)


def test_thresholds_compare_float32_input():
    # A float64 input just above a float32-rounded threshold must still go left as in sklearn.
    model = CASES["dtr"][0]
    irm, rows = CAT.check_ir("dtr")
    t = float(model.tree_.threshold[0])
    f = int(model.tree_.feature[0])
    row = np.median(Xd, axis=0)
    row[f] = np.nextafter(t, np.inf)
    from transpiler import ir
    assert ir.evaluate(irm, row[None])[0, 0] == model.predict(row[None])[0]


DEEP = Lazy({"deep": lambda: (fit(tree.DecisionTreeRegressor(random_state=0), Xdeep, ydeep), Xdeep, "predict")})
DEEP_CAT = Catalogue(DEEP, layouts=("table",))


def test_deep_tree_has_depth_2000():
    assert DEEP["deep"][0].get_depth() >= 2000


@pytest.mark.parametrize("lang", LANGS)
def test_deep_tree_compiles_and_matches(lang):
    DEEP_CAT.check_ir("deep")
    DEEP_CAT.check_compiled("deep", lang)


def test_deep_tree_auto_layout_is_table():
    import transpiler

    files = transpiler.transpile(DEEP["deep"][0], "c")
    assert "struct tp_node" in files["model.c"]
