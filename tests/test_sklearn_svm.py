"""libsvm models (SVC, NuSVC, SVR, NuSVR, OneClassSVM; linear, poly, rbf, sigmoid kernels):
decision_function / predict == IR evaluator == compiled Go, C, Java.

libsvm sums its dot products with BLAS in another order than the IR's sequential sums, and
exp/tanh differ by an ulp between libraries, so agreement is to 1e-12 relative to the size of
the summed terms (sum of |coef * kernel| + |intercept|), which is what a reordered sum rounds.
"""
import numpy as np
import pytest
import scipy.sparse
from sklearn import svm

import transpiler
from transpiler.errors import UnsupportedModelError

from fidelity import Fidelity, Spec, kernel_scale
from support import LANGS, Lazy

rng = np.random.default_rng(11)
X = np.round(rng.normal(size=(120, 4)), 2)
y = X[:, 0] - 0.5 * X[:, 1] ** 2 + 0.3 * rng.normal(size=120)
yb = (y > 0).astype(int)
y4 = np.digitize(y, [-1.0, 0.0, 0.7])
P = 1e-12


def case(est, yf, method):
    return Spec(est.fit(X, yf) if yf is not None else est.fit(X), X, method, rtol=P,
                scale=kernel_scale, nan=False)


DF = "decision_function"
CASES = Lazy({
    "svc_linear_binary": lambda: case(svm.SVC(kernel="linear", C=0.5), yb, DF),
    "svc_rbf_binary": lambda: case(svm.SVC(kernel="rbf", gamma=0.4), yb, DF),
    "svc_poly_multi": lambda: case(svm.SVC(kernel="poly", degree=3, coef0=1.0, gamma="auto"), y4, DF),
    "svc_sigmoid_multi_ovo": lambda: case(svm.SVC(kernel="sigmoid", gamma=0.05, coef0=-0.5,
                                          decision_function_shape="ovo"), y4, DF),
    "svc_rbf_multi": lambda: case(svm.SVC(class_weight="balanced"), y4, DF),
    "nusvc_poly_binary": lambda: case(svm.NuSVC(kernel="poly", degree=4, nu=0.4), yb, DF),
    "nusvc_rbf_multi": lambda: case(svm.NuSVC(nu=0.3, gamma=0.3), y4, DF),
    "svr_linear": lambda: case(svm.SVR(kernel="linear", epsilon=0.05), y, "predict"),
    "svr_rbf": lambda: case(svm.SVR(C=3.0), y, "predict"),
    "svr_poly": lambda: case(svm.SVR(kernel="poly", degree=2, coef0=0.5), y, "predict"),
    "svr_sigmoid": lambda: case(svm.SVR(kernel="sigmoid", gamma=0.1), y, "predict"),
    "nusvr_rbf": lambda: case(svm.NuSVR(nu=0.6), y, "predict"),
    "nusvr_poly": lambda: case(svm.NuSVR(kernel="poly", degree=5, gamma=0.2, coef0=1.0), y, "predict"),
    "oneclass_rbf": lambda: case(svm.OneClassSVM(gamma=0.3, nu=0.2), None, DF),
    "oneclass_linear": lambda: case(svm.OneClassSVM(kernel="linear", nu=0.3), None, DF),
})
CAT = Fidelity(CASES)


@pytest.mark.parametrize("name", CASES)
def test_ir_matches_sklearn(name):
    CAT.check_ir(name)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", CASES)
def test_compiled_matches_sklearn(name, lang):
    CAT.check_compiled(name, lang)


def test_multiclass_ovr_votes_and_ovo_pairs():
    irm = transpiler.to_ir(CASES["svc_poly_multi"].model)
    assert (irm.post, irm.raw.n_outputs, irm.n_outputs) == ("ovo_votes", 6, 4)
    irm = transpiler.to_ir(CASES["svc_sigmoid_multi_ovo"].model)
    assert (irm.post, irm.n_outputs) == ("identity", 6)


@pytest.mark.filterwarnings("ignore::FutureWarning")     # probability=True is deprecated
@pytest.mark.parametrize("make, match", [
    (lambda: svm.SVC(probability=True, random_state=0).fit(X, yb), "probability=True"),
    (lambda: svm.SVC(kernel="precomputed").fit(X @ X.T, yb), "kernel='precomputed'"),
    (lambda: svm.SVR(kernel=lambda a, b: a @ b.T).fit(X, y), "kernel="),
    (lambda: svm.SVR().fit(scipy.sparse.csr_matrix(X), y), "sparse"),
])
def test_unsupported_configurations_are_named(make, match):
    with pytest.raises(UnsupportedModelError, match=match):
        transpiler.to_ir(make())
