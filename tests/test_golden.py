"""Golden files: the generated source (and IR dump) of small models, byte for byte.

Regenerate with `pytest tests/test_golden.py --update-golden` and read the diff before committing.
"""
import os

import numpy as np
import pytest
from sklearn import datasets, ensemble, linear_model, pipeline, preprocessing, tree

import transpiler
import transpiler.emit
from transpiler import ir

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden")


def _logreg():
    # Coefficients set by hand, so the golden file does not depend on a solver's last bits.
    m = linear_model.LogisticRegression()
    m.coef_ = np.array([[0.5, -1.25, 2.0], [-0.75, 0.25, 0.125], [0.25, 1.0, -2.125]])
    m.intercept_ = np.array([0.1, -0.2, 0.1])
    m.classes_ = np.array([0, 1, 2])
    m.n_features_in_ = 3
    return m


def _iris_tree():
    X, y = datasets.load_iris(return_X_y=True)
    return tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)


def _diabetes_forest():
    X, y = datasets.load_diabetes(return_X_y=True)
    return ensemble.RandomForestRegressor(n_estimators=2, max_depth=2, random_state=0).fit(X, y)


def _deep_forest():
    # Depth 10 to 14: deeper than heap layouts go, so the tables are walked node by node
    # (preorder, busier child next); in C and Go, rows without NaN walk four trees side by
    # side and the fifth alone.
    X, y = datasets.load_diabetes(return_X_y=True)
    return ensemble.RandomForestRegressor(n_estimators=5, min_samples_leaf=3, random_state=0).fit(X, y)


def _scaled_boosting():
    X, y = datasets.load_iris(return_X_y=True)
    return pipeline.make_pipeline(
        preprocessing.StandardScaler(),
        ensemble.GradientBoostingRegressor(n_estimators=2, max_depth=2, random_state=0)).fit(X, y)


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _data(name):
    # Native model files, read by our own parsers: stable across library versions.
    return lambda: os.path.join(DATA, name)


GOLDEN = {  # case -> (model factory, emit options)
    "xgboost_softmax": (_data("xgb_iris_small.json"), {}),
    "lightgbm_regressor": (_data("lgbm_diabetes_small.txt"), {}),
    "sklearn_tree": (_iris_tree, {}),
    "sklearn_forest_table": (_diabetes_forest, {"layout": "table"}),
    "sklearn_deep_forest_table": (_deep_forest, {"layout": "table"}),
    "sklearn_logreg": (_logreg, {}),
    "sklearn_pipeline_boosting": (_scaled_boosting, {}),
}


def check(path, content, update):
    """Compare one generated file (text, or bytes for table data) with its golden copy."""
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    if update:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        return
    assert os.path.exists(path), f"{path} is missing: run pytest --update-golden"
    with open(path, "rb") as fh:
        assert fh.read() == data, f"{path} differs from the generator: run pytest --update-golden and read the diff"


@pytest.mark.parametrize("case", GOLDEN)
def test_golden(case, update_golden):
    factory, options = GOLDEN[case]
    model = transpiler.to_ir(factory())
    check(os.path.join(ROOT, case, "ir.json"), ir.dumps(model), update_golden)
    for lang in transpiler.LANGUAGES:
        for rel, text in transpiler.emit.emit(model, lang, **options).items():
            check(os.path.join(ROOT, case, lang, rel), text, update_golden)


def test_every_golden_file_is_asserted():
    expected = {os.path.join(case, "ir.json") for case in GOLDEN}
    for case, (factory, options) in GOLDEN.items():
        model = transpiler.to_ir(factory())
        for lang in transpiler.LANGUAGES:
            expected |= {os.path.join(case, lang, rel)
                         for rel in transpiler.emit.emit(model, lang, **options)}
    found = {os.path.relpath(os.path.join(d, f), ROOT)
             for d, _, files in os.walk(ROOT) for f in files}
    assert found <= expected | {"README.md"}, f"stale golden files: {sorted(found - expected)}"
