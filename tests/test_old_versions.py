"""Models pickled by old scikit-learn and LightGBM releases give the numbers those releases gave.

The fixtures (tests/data/old_versions/<release>/) were written by tests/data/old_versions/make.py
in separate venvs: each model's pickle (and, for LightGBM, its text file) beside the
predictions the writing release made on rows.npy. They are read here with the restricted
unpickler, whether or not the installed libraries could still load them, and compared with
those predictions: the IR evaluator, and the generated Go, C and Java.
"""
from __future__ import annotations

import glob
import os
import warnings

import numpy as np
import pytest

import transpiler.emit
from transpiler import ir
from transpiler.errors import InputError
from transpiler.load import load
from transpiler.verify.harness import Case, names_for, run_cases

from support import LANGS, assert_close, require_toolchain

HERE = os.path.join(os.path.dirname(__file__), "data", "old_versions")

# Where the writing release's arithmetic is not the one reproducible here, to 1 ulp:
ULP = {
    # < 1.4 computed multinomial probabilities as exp(raw - logsumexp(raw)), not a softmax
    "sk1.1/gb_multi.pkl", "sk1.2/gb_multi.pkl", "sk1.3/gb_multi.pkl",
    # the init's logit is scipy.special.logit at predict time, which changed in scipy 1.15
    # (the 1.4 and 1.5 fixtures were written with scipy 1.12 and 1.13)
    "sk1.4/gb_clf.pkl", "sk1.4/gb_multi.pkl", "sk1.5/gb_clf.pkl", "sk1.5/gb_multi.pkl",
}
# scikit-learn's softmax and exp link are NumPy's exp; the IR's exp has libm's bits
ULP |= {f"sk1.{v}/{kind}.pkl" for v in (1, 2, 3, 4, 5, 7, 8)
        for kind in ("gb_multi", "hgb_multi", "hgb_poisson")}
# SAMME.R's softmax too (AdaBoostClassifier's default before 1.6)
ULP |= {f"sk1.{v}/ada_samme_r.pkl" for v in (1, 2, 3, 4, 5)}


# Generated code computes exp, log and the sigmoid with each language's own libm, which may
# round the last bit differently from the library's (README, Fidelity).
COMPILED_RTOL = 1e-15


def _fixtures():
    found = {}
    for path in sorted(glob.glob(os.path.join(HERE, "*", "*.pkl"))
                       + glob.glob(os.path.join(HERE, "*", "*.txt"))):
        name = os.path.relpath(path, HERE)
        stem = path[:-4]
        found[name] = (path, stem + ("_booster.npy" if path.endswith(".txt") else ".npy"))
    return found


FIXTURES = _fixtures()


def _rows(name):
    return np.load(os.path.join(HERE, name.split("/")[0], "rows.npy"))


def _expected(name):
    return np.load(FIXTURES[name][1])



def test_every_release_and_kind_is_there():
    releases = {name.split("/")[0] for name in FIXTURES}
    assert {"sk1.1", "sk1.2", "sk1.3", "sk1.4", "sk1.5", "sk1.7", "sk1.8"} <= releases
    kinds = {name.split("/")[1] for name in FIXTURES}
    assert {"tree_clf.pkl", "forest_clf.pkl", "gb_clf.pkl", "gb_multi.pkl", "hgb_clf.pkl",
            "gb_exp.pkl", "hgb_poisson.pkl", "hgb_cat.pkl", "lgbm_booster.pkl", "pipeline.pkl",
            "pipeline_mask.pkl", "lgbm_clf.pkl",
            "lgbm_bin.pkl", "lgbm_reg.txt", "gb_tree_init.pkl", "ada_samme_r.pkl"} <= kinds


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("trust", [False, True], ids=["restricted", "trusted"])
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_ir_gives_the_writing_release_numbers(name, trust):
    """Trusted or not: what the installed libraries cannot unpickle any more (removed loss
    classes, older node layouts) is read from its plain state."""
    model = load(FIXTURES[name][0], trust_pickle=trust)
    got, want = ir.evaluate(model, _rows(name)), _expected(name)
    if name in ULP:
        assert_close(got, want, 1e-15, name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.filterwarnings("ignore")
def test_old_classifier_trees_hold_counts_and_give_probabilities():
    """The silent error this guards against: pre-1.4 trees store class counts."""
    for release in ("sk1.1", "sk1.3"):
        model = load(FIXTURES[f"{release}/forest_clf.pkl"][0])
        out = ir.evaluate(model, _rows(f"{release}/forest_clf.pkl"))
        assert out.max() <= 1.0 and np.allclose(out.sum(axis=1), 1.0)


_BUILT = {}


def _key(name):
    return "old_" + name.replace("/", "_").replace(".", "_")


def _built(lang):
    if lang not in _BUILT:
        require_toolchain(lang)
        cases = []
        for name in sorted(FIXTURES):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = load(FIXTURES[name][0])
            files = transpiler.emit.emit(model, lang, layout="code", **names_for(lang, _key(name)))
            cases.append(Case(_key(name), files, model.n_features, model.n_outputs, _rows(name)))
        _BUILT[lang] = run_cases(lang, cases)
    return _BUILT[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_gives_the_writing_release_numbers(lang):
    out = _built(lang)
    exact = 0
    for name in sorted(FIXTURES):
        assert_close(out[_key(name)], _expected(name), COMPILED_RTOL, f"{name} {lang}")
        exact += np.array_equal(out[_key(name)], _expected(name))
    print(f"\n{lang}: {exact} of {len(FIXTURES)} fixtures bit for bit")


@pytest.mark.filterwarnings("ignore")
def test_older_than_we_read_names_the_release_to_resave_with(tmp_path):
    """A 1.1 pickle edited to read as 1.0.2 with 1.0's attribute name for the loss."""
    data = open(FIXTURES["sk1.1/gb_reg.pkl"][0], "rb").read()
    assert data.count(b"\x8c\x05_loss") == 1 and b"1.1.3" in data
    path = tmp_path / "gb_1_0.pkl"
    path.write_bytes(data.replace(b"1.1.3", b"1.0.2").replace(b"\x8c\x05_loss", b"\x8c\x05loss_"))
    with pytest.raises(InputError) as exc:
        load(str(path))
    msg = str(exc.value)
    assert "\n" not in msg and "scikit-learn 1.0.2" in msg and "1.1 or later" in msg
