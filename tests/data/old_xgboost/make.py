"""Writes the old-xgboost fixtures: small models saved by old releases, and what they predicted.

    python tests/data/old_xgboost/make.py [VERSION ...]

For each version, a venv in /tmp/venvs/xgb-VERSION (made once, pip wheels only: the oldest
xgboost wheels that install on Python 3.11) runs this file again with `--write VERSION DIR`,
which trains a few small models, saves them in every format that version writes (legacy
binary as `.model`, or as `.deprecated` from 2.1; JSON from 1.0, UBJSON from 1.6; pickles of
the sklearn estimators and of a Booster), and records the version's own predictions on the
rows in `preds.npz` (key "X"), as float32 bits. 0.72 and older have no wheels; 0.80 is the
oldest that installs. `manifest.json` says, per file, which prediction it must reproduce and how it is read.
CI uses the committed files; it never runs this script.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ("0.80", "0.90", "1.0.2", "1.3.3", "1.5.2", "1.7.6", "2.0.3", "2.1.4")
# numpy/scipy/scikit-learn pins with Python 3.11 wheels that these xgboost releases accept
PINS = ("numpy==1.23.5", "scipy==1.9.3", "scikit-learn==1.1.3")


def venv(version: str) -> str:
    path = f"/tmp/venvs/xgb-{version}"
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "--only-binary=:all:",
                        f"xgboost=={version}", *PINS], check=True)
    return python


def data():
    import numpy as np

    rng = np.random.RandomState(7)
    X = np.round(rng.uniform(-2, 2, size=(300, 4)), 1)     # repeated values: rows on thresholds
    X[rng.rand(*X.shape) < 0.05] = np.nan
    score = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2 - np.nan_to_num(X[:, 2])
    rows = np.vstack([X[:40], np.full((1, 4), np.nan), np.zeros((1, 4))])
    return X, score, rows


def write(version: str, out: str) -> None:
    import collections
    import collections.abc
    import pickle

    import numpy as np

    collections.Mapping = collections.abc.Mapping      # xgboost 0.80 predates Python 3.10
    import xgboost as xgb

    major = int(version.split(".")[0])
    minor = int(version.split(".")[1])
    X, score, rows = data()
    y_bin = (score > 0.3).astype(int)
    y_multi = np.digitize(score, [-1.0, 1.0])
    y_reg = score + 0.1 * np.nan_to_num(X[:, 3]).round(0)
    y_count = np.floor(np.exp(np.clip(score, -2, 2))).astype(float)
    reg_obj = "reg:linear" if major == 0 else "reg:squarederror"
    preds = {"X": rows.astype(np.float64)}
    manifest = {"version": version, "xgboost": xgb.__version__, "files": []}
    dtest = xgb.DMatrix(rows, missing=np.nan)

    def booster(name, params, y, rounds=4, train=X):
        d = xgb.DMatrix(train, label=y, missing=np.nan)
        params = dict({"max_depth": 3}, **params, eta=0.3, seed=1, nthread=1)
        bst = xgb.train(params, d, num_boost_round=rounds)
        if major == 0 and params.get("booster") == "dart":
            # 0.x dart drops trees at random in predict unless given ntree_limit
            preds[name] = np.asarray(bst.predict(dtest, ntree_limit=rounds), dtype=np.float32)
        else:
            preds[name] = np.asarray(bst.predict(dtest), dtype=np.float32)
        options = {"binary_proba": False, "dart_inplace": False, "use_best_iteration": False}
        formats = ["model"]
        if name in ("binary", "multi"):     # JSON and UBJSON of other kinds: test_xgboost.py
            formats += ["json"] if major >= 1 else []
            formats += ["ubj"] if (major, minor) >= (1, 6) else []
            # 2.1 writes UBJSON for any other name; the legacy binary format only so
            formats += ["deprecated"] if (major, minor) >= (2, 1) else []
        for ext in formats:
            fname = f"{name}.{ext}"
            bst.save_model(os.path.join(out, fname))
            manifest["files"].append({"file": fname, "pred": name, "options": options})
        return bst

    booster("binary", {"objective": "binary:logistic"}, y_bin)
    booster("multi", {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}, y_multi,
            rounds=3)
    bst = booster("reg", {"objective": reg_obj, "base_score": 0.25}, y_reg)
    # gblinear of 0.x turns every weight into NaN when trained on NaN inputs
    booster("linear", {"objective": reg_obj, "booster": "gblinear"}, y_reg,
            train=np.nan_to_num(X))
    booster("dart", {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3,
                     "skip_drop": 0.0}, y_bin, rounds=5)
    booster("poisson", {"objective": "count:poisson"}, y_count)
    # the margin of base_score 0.3: logit(0.3) before 1.4, 0.3 itself since
    booster("logitraw", {"objective": "binary:logitraw", "base_score": 0.3}, y_bin, rounds=2)
    if (major, minor) >= (1, 2):
        lower = np.where(y_count > 0, y_count, 0.5)
        d = xgb.DMatrix(X, missing=np.nan)
        d.set_float_info("label_lower_bound", lower)
        d.set_float_info("label_upper_bound", lower * 2)
        aft = xgb.train({"objective": "survival:aft", "max_depth": 3, "seed": 1, "nthread": 1},
                        d, num_boost_round=3)
        preds["aft"] = np.asarray(aft.predict(dtest), dtype=np.float32)
        aft.save_model(os.path.join(out, "aft.model"))
        manifest["files"].append({"file": "aft.model", "pred": "aft",
                                  "options": {"binary_proba": False}})

    if major >= 2:
        # vector-leaf trees (2.x saves each node's vector in base_weights, no leaf_weights)
        d = xgb.DMatrix(X, label=np.c_[y_reg, score], missing=np.nan)
        vec = xgb.train({"tree_method": "hist", "multi_strategy": "multi_output_tree",
                         "max_depth": 3, "eta": 0.3, "seed": 1, "nthread": 1}, d,
                        num_boost_round=3)
        preds["vector"] = np.asarray(vec.predict(dtest), dtype=np.float32)
        for ext in ("json", "ubj"):
            vec.save_model(os.path.join(out, f"vector.{ext}"))
            manifest["files"].append({"file": f"vector.{ext}", "pred": "vector",
                                      "options": {"binary_proba": False}})

    with open(os.path.join(out, "booster.pkl"), "wb") as fh:
        pickle.dump(bst, fh)
    manifest["files"].append({"file": "booster.pkl", "pred": "reg", "options": {}})

    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2, random_state=1, n_jobs=1)
    clf.fit(X, y_multi)
    preds["sk_multi"] = np.asarray(clf.predict_proba(rows), dtype=np.float32)
    bclf = xgb.XGBClassifier(n_estimators=4, max_depth=3, random_state=1, n_jobs=1)
    bclf.fit(X, y_bin)
    preds["sk_binary"] = np.asarray(bclf.predict_proba(rows), dtype=np.float32)
    sreg = xgb.XGBRegressor(n_estimators=4, max_depth=3, random_state=1, n_jobs=1)
    sreg.fit(X, y_reg)
    preds["sk_reg"] = np.asarray(sreg.predict(rows), dtype=np.float32)
    for name, model in (("sk_multi", clf), ("sk_binary", bclf), ("sk_reg", sreg)):
        with open(os.path.join(out, f"{name}.pkl"), "wb") as fh:
            pickle.dump(model, fh, protocol=2)
        manifest["files"].append({"file": f"{name}.pkl", "pred": name, "options": {}})

    np.savez(os.path.join(out, "preds.npz"), **preds)
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")


def main(argv) -> None:
    if argv[:1] == ["--write"]:
        write(argv[1], argv[2])
        return
    for version in argv or VERSIONS:
        out = os.path.join(HERE, version)
        os.makedirs(out, exist_ok=True)
        for name in os.listdir(out):
            os.remove(os.path.join(out, name))
        env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
        subprocess.run([venv(version), os.path.abspath(__file__), "--write", version, out],
                       check=True, env=env)
        print(version, len(os.listdir(out)), "files")


if __name__ == "__main__":
    main(sys.argv[1:])
