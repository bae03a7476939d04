"""Helpers shared by the scikit-learn loaders."""
from __future__ import annotations

from ..errors import InputError


def require_fitted(obj, *attributes: str) -> None:
    """Refuse an estimator that has not been fitted, naming what to do."""
    missing = [a for a in attributes if not hasattr(obj, a)]
    if missing:
        raise InputError(f"{type(obj).__name__} is not fitted (it has no {missing[0]}); "
                         "call fit() before saving or transpiling it")


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def sklearn_release() -> tuple[int, int]:
    """(major, minor) of the installed scikit-learn, whose predict the loaders reproduce."""
    major, minor = sklearn_version().split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def feature_names(obj) -> tuple:
    names = getattr(obj, "feature_names_in_", None)
    return () if names is None else tuple(str(n) for n in names)
