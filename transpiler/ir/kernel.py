"""Kernel machines (libsvm's SVC, SVR, one-class SVM) as a raw stage.

For a row x (float64) and support vectors sv[i], in this order:

    dot(a, b) = sum over j of a[j] * b[j], from 0.0, in feature order
    k[i] = linear:  dot(x, sv[i])
           poly:    powi(gamma * dot(x, sv[i]) + coef0, degree)
           rbf:     exp(-gamma * s),  s = sum over j of (x[j] - sv[i][j])^2, from 0.0
           sigmoid: tanh(gamma * dot(x, sv[i]) + coef0)
    raw[o] = (sum over i of coef[o][i] * k[i], from 0.0, in support-vector order) + intercept[o]

powi(b, n) is libsvm's square-and-multiply: r = 1, t = b; while n > 0: (if n odd: r = r * t);
t = t * t; n = n // 2. Zeros in coef stand for support vectors an output does not use
(one-vs-one pairs); adding a zero product leaves a sum unchanged. libsvm sums its dot
products with BLAS, in another order, so agreement with it is to rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

KERNELS = ("linear", "poly", "rbf", "sigmoid")


@dataclass(frozen=True, eq=False)
class Kernel:
    support: np.ndarray         # (n_sv, n_features) float64
    coef: np.ndarray            # (n_outputs, n_sv) float64
    intercept: np.ndarray       # (n_outputs,) float64
    kernel: str = "rbf"
    gamma: float = 1.0
    coef0: float = 0.0
    degree: int = 3
    accumulate: str = "float64"             # for the emitters' shared context
    missing_value: Optional[float] = None

    def __post_init__(self):
        assert self.kernel in KERNELS, self.kernel
        assert self.coef.shape == (len(self.intercept), self.support.shape[0])
        assert self.accumulate == "float64" and self.missing_value is None

    @property
    def n_outputs(self) -> int:
        return self.coef.shape[0]

    @property
    def n_features(self) -> int:
        return self.support.shape[1]
