"""Pickle and joblib files are read by a restricted unpickler (transpiler.load.safe_pickle):
every supported model loads through it, and a file that asks for anything else is refused
before any of it runs."""
from __future__ import annotations

import io
import os
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn import tree
from typer.testing import CliRunner

import transpiler
import transpiler.emit
from transpiler.cli import app
from transpiler.errors import InputError, UnsupportedModelError
from transpiler.load import files, safe_pickle, supported_models
import model_zoo

runner = CliRunner()


@pytest.fixture(scope="module")
def zoo():
    return model_zoo.all_models()


def _same_code(a, b):
    return transpiler.emit.emit(transpiler.to_ir(a), "c") == transpiler.emit.emit(b, "c")


def test_zoo_covers_every_supported_class(zoo):
    labels = {label for label, _ in zoo}
    assert {f"{lib}.{name}" for lib, name in supported_models()} <= labels


def test_every_supported_model_loads_from_pickle_and_joblib(zoo, tmp_path):
    """The policy is complete: pickles (protocols 2 and 5) and joblib files (plain and zlib)
    of every supported class and the variants load, and give the same code as the object."""
    for label, model in zoo:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = transpiler.to_ir(model)
        for kind in ("p2", "p5", "joblib", "joblib3"):
            path = tmp_path / f"{label}.{kind}"
            if kind.startswith("p"):
                path.write_bytes(pickle.dumps(model, protocol=int(kind[1])))
            else:
                joblib.dump(model, path, compress=3 if kind == "joblib3" else 0)
            try:
                loaded = files.unpickle(str(path))
            except InputError as exc:
                pytest.fail(f"{label} ({kind}): {exc}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert _same_code(loaded, expected), f"{label} ({kind})"


@pytest.mark.parametrize("fmt", ["p0", "p1", "p3", "p4", "gzip", "bz2", "xz", "lzma", "zlib"])
def test_every_protocol_and_compression(zoo, tmp_path, fmt):
    picks = [m for label, m in zoo if label in (
        "sklearn.RandomForestClassifier", "xgboost.XGBClassifier", "lightgbm.LGBMRegressor",
        "sgd_log_randomstate", "sgd_sparse_coef", "lgbm_categorical")]
    for i, model in enumerate(picks):
        path = tmp_path / f"m{i}.{fmt}"
        if fmt.startswith("p"):
            path.write_bytes(pickle.dumps(model, protocol=int(fmt[1])))
        else:
            joblib.dump(model, path, compress=(fmt, 3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert _same_code(files.unpickle(str(path)), transpiler.to_ir(model)), (fmt, i)


def test_joblib_big_endian_and_fortran_arrays(tmp_path):
    a = np.arange(12, dtype=">f8").reshape(3, 4)
    b = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    obj = {"a": a, "b": b, "o": np.array(["x", 1], dtype=object)}
    joblib.dump(obj, tmp_path / "d.joblib")
    got = safe_pickle.load(str(tmp_path / "d.joblib"))
    assert np.array_equal(got["a"], a) and got["a"].dtype == np.float64
    assert np.array_equal(got["b"], b) and list(got["o"]) == ["x", 1]


# --- malicious files -----------------------------------------------------------------------

class _Reduce:
    """Pickles as a call of `func(*args)`, as a malicious file would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: str):
    """(label, pickle bytes) that would create `marker` (or worse) when unpickled."""
    touch = f"touch {marker}"
    code = f"open({marker!r}, 'w').write('pwned')"
    yield "os.system", pickle.dumps(_Reduce(os.system, touch))
    yield "os.system protocol 0", pickle.dumps(_Reduce(os.system, touch), protocol=0)
    yield "builtins.eval", pickle.dumps(_Reduce(eval, code))
    yield "builtins.exec", pickle.dumps(_Reduce(exec, code))
    import subprocess
    yield "subprocess.Popen", pickle.dumps(_Reduce(subprocess.Popen, ["touch", marker]))
    yield "builtins.__import__", pickle.dumps(_Reduce(__import__, "os"))
    yield "builtins.getattr", pickle.dumps(_Reduce(getattr, np.float64(1.0), "tofile"))
    yield "numpy.save", pickle.dumps(_Reduce(np.save, marker, np.zeros(1)))
    # hidden inside a real, fitted model: an attribute holding the payload
    model = tree.DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0.0, 1.0])
    model.payload = _Reduce(os.system, touch)
    yield "inside a model", pickle.dumps(model)
    buf = io.BytesIO()
    joblib.dump(model, buf)
    yield "inside a joblib model", buf.getvalue()
    buf = io.BytesIO()
    joblib.dump({"x": np.array([_Reduce(os.system, touch)], dtype=object)}, buf)
    yield "inside a joblib object array", buf.getvalue()
    # a dotted name walks attributes with pickle.load (protocol 4+): numpy.ctypeslib.load_library
    yield "dotted name", b"\x80\x04" + _global("numpy", "ctypeslib.load_library") + b")R."
    # BUILD on a class object would set attributes of the library class itself
    yield "class attribute", (b"\x80\x04" + _global("sklearn.tree._classes", "DecisionTreeRegressor")
                              + b"N}\x8c\x07predict" + _global("numpy", "add") + b"s\x86b.")


def _global(module: str, name: str) -> bytes:
    """The protocol-4 opcodes that push the global module.name (STACK_GLOBAL)."""
    return (b"\x8c" + bytes([len(module)]) + module.encode() + b"\x8c" + bytes([len(name)])
            + name.encode() + b"\x93")


def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker"
    for label, data in _payloads(str(marker)):
        path = tmp_path / "evil.pkl"
        path.write_bytes(data)
        with pytest.raises(InputError, match="refused to load") as info:
            files.unpickle(str(path))
        assert "\n" not in str(info.value) and "nothing in it was run" in str(info.value), label
        assert not marker.exists(), f"{label}: the payload ran"
    from sklearn.tree import DecisionTreeRegressor
    assert DecisionTreeRegressor.predict is not np.add


def test_refusal_names_the_global(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Reduce(os.system, "true")))
    with pytest.raises(InputError, match=r"posix\.system|os\.system"):
        files.unpickle(str(path))
    path.write_bytes(pickle.dumps(_Reduce(eval, "1")))
    with pytest.raises(InputError, match=r"builtins\.eval"):
        files.unpickle(str(path))


def test_cli_refuses_with_exit_2_and_trust_pickle_loads(tmp_path):
    from fractions import Fraction

    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Reduce(os.system, f"touch {marker}")))
    result = runner.invoke(app, [str(evil), "--lang", "c"])
    assert result.exit_code == 2 and "refused to load" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not marker.exists()
    # A model with an attribute of a class outside the policy: refused by default,
    # loaded with --trust-pickle (after a warning).
    model = tree.DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0.0, 1.0])
    model.note = Fraction(1, 3)
    odd = tmp_path / "odd.pkl"
    odd.write_bytes(pickle.dumps(model))
    result = runner.invoke(app, [str(odd), "--lang", "c"])
    assert result.exit_code == 2 and "fractions.Fraction" in result.output
    result = runner.invoke(app, [str(odd), "--lang", "c", "--trust-pickle"])
    assert result.exit_code == 0, result.output
    assert "warning: --trust-pickle" in result.output and "void score(" in result.output
    assert transpiler.transpile(str(odd), "c", trust_pickle=True)["model.c"]


def test_unsupported_estimators_are_reported_as_such(tmp_path):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = model_zoo.X, model_zoo.Y3
    for model in (KNeighborsClassifier().fit(X, y),
                  make_pipeline(StandardScaler(), KNeighborsClassifier()).fit(X, y)):
        path = tmp_path / "knn.pkl"
        path.write_bytes(pickle.dumps(model))
        with pytest.raises(UnsupportedModelError, match="KNeighborsClassifier"):
            transpiler.to_ir(str(path))


def test_skops_files(tmp_path):
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    model = tree.DecisionTreeClassifier(max_depth=3).fit(model_zoo.X, model_zoo.Y3)
    sio.dump(model, tmp_path / "m.skops")
    assert _same_code(files.unpickle(str(tmp_path / "m.skops")), transpiler.to_ir(model))
    sio.dump(KNeighborsClassifier().fit(model_zoo.X, model_zoo.Y3), tmp_path / "k.skops")
    with pytest.raises(InputError, match="refused to load .*sklearn"):
        files.unpickle(str(tmp_path / "k.skops"))
    (tmp_path / "bad.skops").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable skops model file"):
        files.unpickle(str(tmp_path / "bad.skops"))


def test_hist_gradient_boosting_with_categories_loads_restricted(tmp_path):
    # Its preprocessing holds functools.partial(check_array, ...).
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    import transpiler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "c": pd.Categorical(rng.integers(0, 4, 300))})
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype",
                                           random_state=0).fit(frame, (frame.a > 0).astype(int))
    path = tmp_path / "hgb.pkl"
    path.write_bytes(pickle.dumps(model))
    assert transpiler.transpile(str(path), "c") == transpiler.transpile(model, "c")


def test_no_library_code_runs_while_loading(zoo, tmp_path, monkeypatch):
    """Untrusted loading builds records: the libraries' __setstate__ and Booster constructors
    (which hand the file's bytes to native parsers) are never called, yet the models are the
    same."""
    import lightgbm
    import sklearn.base
    import xgboost

    picks = {label: m for label, m in zoo if label in (
        "sklearn.RandomForestClassifier", "xgboost.XGBClassifier", "xgboost.Booster",
        "lightgbm.LGBMClassifier", "lightgbm.Booster", "sgd_sparse_coef", "hgb_pandas")}
    assert len(picks) == 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {label: transpiler.to_ir(m) for label, m in picks.items()}
    data = {label: pickle.dumps(m) for label, m in picks.items()}

    def boom(*args, **kwargs):
        raise AssertionError("library code ran while loading")

    for cls in (xgboost.core.Booster, lightgbm.basic.Booster, sklearn.base.BaseEstimator):
        monkeypatch.setattr(cls, "__setstate__", boom)
    for cls in (xgboost.core.Booster, lightgbm.basic.Booster):
        monkeypatch.setattr(cls, "__init__", boom)
    for label, blob in data.items():
        path = tmp_path / "m.pkl"
        path.write_bytes(blob)
        loaded = files.unpickle(str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert _same_code(loaded, expected[label]), label
