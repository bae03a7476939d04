"""One small fitted model of every class in transpiler.load.supported_models(), plus variants
whose pickles reference more globals (string labels, pandas input, RandomState objects,
sparse coefficients, categorical features, early stopping).

A class added to a loader is picked up here by name; `build(library, name)` raises with the
class name when it needs a recipe in RECIPES.
"""
from __future__ import annotations

import warnings

import numpy as np

RNG = np.random.RandomState(0)
X = RNG.rand(60, 4)
Y_BIN = (X[:, 0] > 0.5).astype(int)
Y3 = np.minimum((X[:, 0] * 3).astype(int), 2)
Y_STR = np.array(["ant", "bee", "cat"])[Y3]
Y_REG = X @ np.array([1.0, 2.0, 3.0, 4.0])
QID = np.repeat(np.arange(6), 10)


def _sk(name):
    return _sklearn_classes()[name]


def _sklearn_classes():
    """The installed scikit-learn's estimators (FrozenEstimator only since 1.6)."""
    from sklearn.utils import all_estimators

    return dict(all_estimators())


def _lr():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


RECIPES = {
    ("sklearn", "OneVsRestClassifier"): lambda: _sk("OneVsRestClassifier")(_lr()).fit(X, Y_STR),
    ("sklearn", "Pipeline"): lambda: __import__("sklearn.pipeline").pipeline.make_pipeline(
        __import__("sklearn.preprocessing").preprocessing.StandardScaler(), _lr()).fit(X, Y_STR),
    ("sklearn", "CalibratedClassifierCV"): lambda: _sk("CalibratedClassifierCV")(
        _lr(), method="isotonic", cv=3).fit(X, Y3),
    ("sklearn", "FrozenEstimator"): lambda: __import__("sklearn.frozen").frozen.FrozenEstimator(
        _lr().fit(X, Y3)),
    ("sklearn", "IsolationForest"): lambda: _sk("IsolationForest")(n_estimators=3,
                                                                   random_state=0).fit(X),
    ("sklearn", "OneClassSVM"): lambda: _sk("OneClassSVM")().fit(X),
    ("xgboost", "Booster"): lambda: __import__("xgboost").train(
        {"nthread": 1, "max_depth": 2}, __import__("xgboost").DMatrix(X, Y_REG), 3),
    ("xgboost", "XGBRanker"): lambda: __import__("xgboost").XGBRanker(
        n_estimators=3, max_depth=2, n_jobs=1).fit(X, Y3, qid=QID),
    ("lightgbm", "Booster"): lambda: __import__("lightgbm").train(
        {"verbose": -1, "num_threads": 1}, __import__("lightgbm").Dataset(X, Y_REG), 3),
    ("lightgbm", "LGBMModel"): lambda: __import__("lightgbm").LGBMModel(
        objective="regression", n_estimators=3, verbose=-1, n_jobs=1).fit(X, Y_REG),
    ("lightgbm", "LGBMRanker"): lambda: __import__("lightgbm").LGBMRanker(
        n_estimators=3, verbose=-1, n_jobs=1).fit(X, Y3, group=[10] * 6),
}
SMALL = {"n_estimators": 3, "max_iter": 3, "max_depth": 2, "n_jobs": 1, "verbose": -1, "cv": 2}


def build(library: str, name: str):
    """A small fitted instance of a supported class."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if (library, name) in RECIPES:
            return RECIPES[library, name]()
        if library == "sklearn":
            from sklearn.base import is_classifier

            cls = _sk(name)
            est = cls()
            params = est.get_params(deep=False)
            est.set_params(**{k: v for k, v in SMALL.items() if k in params and k != "verbose"})
            if name.startswith("MultiTask"):
                return est.fit(X, np.c_[Y_REG, -Y_REG])
            return est.fit(X, Y_STR if is_classifier(est) else Y_REG)
        module = __import__(library)
        cls = getattr(module, name)
        est = cls(**{k: v for k, v in SMALL.items() if k != "max_iter" and (
            library == "lightgbm" or k != "verbose")})
        return est.fit(X, Y3 if "Classifier" in name else Y_REG)


def variants():
    """(label, fitted model) whose pickles need globals the plain recipes do not."""
    import lightgbm
    import pandas as pd
    import xgboost
    from sklearn import ensemble, linear_model, tree

    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield "sgd_log_randomstate", linear_model.SGDClassifier(
            loss="log_loss", random_state=np.random.RandomState(0)).fit(df, Y_STR)
        yield "sgd_sparse_coef", linear_model.SGDClassifier(
            loss="modified_huber", random_state=0).fit(X, Y3).sparsify()
        yield "sgd_huber", linear_model.SGDRegressor(loss="huber", random_state=0).fit(X, Y_REG)
        yield "logistic_balanced", linear_model.LogisticRegression(
            class_weight="balanced").fit(df, Y_STR)
        yield "tree_class_weight", tree.DecisionTreeClassifier(
            max_depth=3, class_weight={0: 1, 1: 2, 2: 3}).fit(df, Y3)
        yield "forest_randomstate", ensemble.RandomForestClassifier(
            n_estimators=2, max_depth=3, random_state=np.random.RandomState(1)).fit(df, Y_STR)
        yield "hgb_pandas", ensemble.HistGradientBoostingRegressor(max_iter=3).fit(df, Y_REG)
        yield "gbc_multiclass", ensemble.GradientBoostingClassifier(
            n_estimators=2, max_depth=2).fit(X, Y_STR)
        xn = X.copy()
        xn[::7, 1] = np.nan
        yield "xgb_early_stopping", xgboost.XGBClassifier(
            n_estimators=20, max_depth=2, early_stopping_rounds=2, n_jobs=1).fit(
            xn, Y3, eval_set=[(xn, Y3)], verbose=False)
        yield "lgbm_categorical", lightgbm.LGBMClassifier(
            n_estimators=3, verbose=-1, n_jobs=1).fit(
            df.assign(e=pd.Categorical(Y_STR)), Y_STR)


def all_models():
    """[(label, fitted model)] for every supported class, then the variants."""
    from transpiler.load import supported_models

    out = [(f"{lib}.{name}", build(lib, name)) for lib, name in supported_models()
           if lib != "sklearn" or name in _sklearn_classes()]
    return out + list(variants())
