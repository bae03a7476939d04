"""Write the old-release fixtures: models pickled by old scikit-learn and LightGBM releases and
the predictions those releases made.

    python tests/data/old_versions/make.py            # every version below
    python tests/data/old_versions/make.py sk1.3      # one

Each version gets a venv under /tmp/venvs (made once; `python -m venv`, then pip installs the
oldest wheels that install on Python 3.11), and this same file runs inside it with `--fit DIR`:
it fits small models on fixed data, pickles them to DIR/<name>.pkl and stores DIR/<name>.npy,
the predictions (predict_proba for classifiers, predict otherwise) as exact float64 bits, on
DIR/rows.npy. LightGBM versions also save the booster's text model, DIR/<name>.txt, and its
predictions, DIR/<name>_booster.npy.
The committed fixtures are what CI reads; this script only re-creates them.
"""
from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENVS = "/tmp/venvs"
VERSIONS = {  # fixture folder -> pip requirements of its venv
    "sk1.1": ["scikit-learn==1.1.3", "numpy==1.23.5", "scipy==1.9.3", "lightgbm==2.3.1"],
    "sk1.2": ["scikit-learn==1.2.2", "numpy==1.24.4", "scipy==1.10.1", "lightgbm==3.3.5"],
    "sk1.3": ["scikit-learn==1.3.2", "numpy==1.26.4", "scipy==1.11.4"],
    "sk1.4": ["scikit-learn==1.4.0", "numpy==1.26.4", "scipy==1.12.0", "lightgbm==4.0.0"],
    "sk1.5": ["scikit-learn==1.5.2", "numpy==1.26.4", "scipy==1.13.1"],
    "sk1.7": ["scikit-learn==1.7.2", "numpy==2.2.6", "scipy==1.15.3"],
    "sk1.8": ["scikit-learn==1.8.0"],
}


def make(version: str) -> None:
    venv = os.path.join(VENVS, version.replace(".", ""))
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *VERSIONS[version]], check=True)
    out = os.path.join(HERE, version)
    os.makedirs(out, exist_ok=True)
    subprocess.run([python, os.path.abspath(__file__), "--fit", out], check=True)


# ---------------------------------------------------------------- run inside an old venv

def data():
    import numpy as np

    rng = np.random.RandomState(0)  # the legacy generator: the same numbers in every numpy
    X = np.round(rng.normal(size=(80, 4)), 2)
    reg = X[:, 0] * 2.0 - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + rng.normal(scale=0.3, size=80)
    rows = np.vstack([X, np.round(rng.normal(size=(40, 4)), 2)])
    # column 3 as category codes 0-3 (HistGradientBoosting's categorical_features=[3])
    X[:, 3] = np.digitize(X[:, 3], [-0.5, 0.0, 0.5])
    rows[:, 3] = np.digitize(rows[:, 3], [-0.5, 0.0, 0.5])
    return X, reg, (reg > 0).astype(int), np.digitize(reg, [-1.0, 1.0]), rows


def models():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier,
                                  GradientBoostingRegressor, RandomForestClassifier,
                                  RandomForestRegressor)
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    except ImportError:
        from sklearn.experimental import enable_hist_gradient_boosting  # noqa: F401
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    small = {"random_state": 0}
    found = {
        "tree_clf": (DecisionTreeClassifier(max_depth=4, **small), "multi"),
        "tree_reg": (DecisionTreeRegressor(max_depth=4, **small), "reg"),
        "forest_clf": (RandomForestClassifier(n_estimators=4, max_depth=3, **small), "multi"),
        "forest_reg": (RandomForestRegressor(n_estimators=3, max_depth=3, **small), "reg"),
        "extra_reg": (ExtraTreesRegressor(n_estimators=3, max_depth=3, **small), "reg"),
        "gb_clf": (GradientBoostingClassifier(n_estimators=5, max_depth=2, **small), "bin"),
        "gb_multi": (GradientBoostingClassifier(n_estimators=3, max_depth=2, **small), "multi"),
        "gb_reg": (GradientBoostingRegressor(n_estimators=5, max_depth=2, **small), "reg"),
        "hgb_clf": (HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=4, **small), "bin"),
        "hgb_reg": (HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=4, **small), "reg"),
        "gb_exp": (GradientBoostingClassifier(loss="exponential", n_estimators=3, max_depth=2,
                                              **small), "bin"),
        "gb_huber": (GradientBoostingRegressor(loss="huber", n_estimators=3, max_depth=2,
                                               **small), "reg"),
        "hgb_multi": (HistGradientBoostingClassifier(max_iter=3, max_leaf_nodes=4, **small),
                      "multi"),
        "hgb_poisson": (HistGradientBoostingRegressor(loss="poisson", max_iter=5,
                                                      max_leaf_nodes=4, **small), "pos"),
        "hgb_cat": (HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=4,
                                                  categorical_features=[3], **small), "reg"),
        # columns chosen by a mask: 1.5-1.7 pickle the remainder as a _RemainderColsList
        "pipeline_mask": (Pipeline([
            ("cols", ColumnTransformer([("scale", StandardScaler(), [True, True, False, False])],
                                       remainder="passthrough")),
            ("tree", DecisionTreeRegressor(max_depth=3, **small))]), "reg"),
        "pipeline": (Pipeline([
            ("cols", ColumnTransformer([("scale", StandardScaler(), [0, 1])],
                                       remainder="passthrough")),
            ("tree", DecisionTreeClassifier(max_depth=3, **small))]), "bin"),
    }
    try:   # the losses of scikit-learn < 1.4 link a tree init their own way
        import sklearn.ensemble._gb_losses  # noqa: F401
        found["gb_tree_init"] = (GradientBoostingClassifier(
            n_estimators=3, max_depth=2, init=DecisionTreeClassifier(max_depth=2, **small),
            **small), "bin")
    except ImportError:
        pass
    import inspect

    from sklearn.ensemble import AdaBoostClassifier
    algorithm = inspect.signature(AdaBoostClassifier).parameters.get("algorithm")
    if algorithm is not None and algorithm.default == "SAMME.R":   # the default before 1.6
        found["ada_samme_r"] = (AdaBoostClassifier(n_estimators=4, **small), "multi")
    try:
        import lightgbm as lgb
    except ImportError:
        return found
    params = {"n_estimators": 5, "num_leaves": 4, "min_child_samples": 5, "random_state": 0}
    found["lgbm_clf"] = (lgb.LGBMClassifier(**params), "multi")
    found["lgbm_bin"] = (lgb.LGBMClassifier(**params), "bin")
    found["lgbm_reg"] = (lgb.LGBMRegressor(**params), "reg")
    return found


def fit(out: str) -> None:
    import pickle

    import numpy as np

    X, reg, binary, multi, rows = data()
    y = {"reg": reg, "bin": binary, "multi": multi, "pos": np.exp(reg / 4.0)}
    np.save(os.path.join(out, "rows.npy"), rows)
    for name, (model, target) in models().items():
        model.fit(X, y[target])
        with open(os.path.join(out, name + ".pkl"), "wb") as fh:
            pickle.dump(model, fh, protocol=4)
        method = "predict_proba" if hasattr(model, "predict_proba") else "predict"
        pred = np.asarray(getattr(model, method)(rows), dtype="<f8").reshape(len(rows), -1)
        np.save(os.path.join(out, name + ".npy"), pred)
        if name.startswith("lgbm_"):  # the booster's own file, and its predict
            with open(os.path.join(out, name + ".txt"), "w") as fh:
                fh.write(model.booster_.model_to_string())
            pred = np.asarray(model.booster_.predict(rows), dtype="<f8").reshape(len(rows), -1)
            np.save(os.path.join(out, name + "_booster.npy"), pred)
            if name == "lgbm_reg":  # the Booster pickled on its own
                with open(os.path.join(out, "lgbm_booster.pkl"), "wb") as fh:
                    pickle.dump(model.booster_, fh, protocol=4)
                np.save(os.path.join(out, "lgbm_booster.npy"), pred)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fit"]:
        fit(sys.argv[2])
    else:
        for v in sys.argv[1:] or VERSIONS:
            make(v)
