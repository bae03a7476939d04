"""Reading model files from disk: existence checks and unpickling."""
from __future__ import annotations

import os
import pickle

from ..errors import InputError, MissingDependencyError

HEAD_BYTES = 4096


def read_head(path: str) -> bytes:
    """The first bytes of a file, with the errors a user can act on."""
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}; check the path of the model file")
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory; pass the model file inside it")
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc
    if not head:
        raise InputError(f"{path} is empty; save the model again")
    return head


def unpickle(path: str):
    """Load a pickle or joblib file. joblib is used when installed (it reads both)."""
    try:
        try:
            import joblib
        except ImportError:
            joblib = None
        if joblib is not None:
            return joblib.load(path)
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        extra = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}.get(top)
        if extra:
            raise MissingDependencyError(
                f"{path} holds a {top} model but {top} is not installed; "
                f"run `pip install 'transpiler[{extra}]'`") from exc
        raise InputError(f"{path} needs the Python module {exc.name!r} to unpickle; "
                         "install it or pass a scikit-learn, XGBoost or LightGBM model") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError) as exc:
        raise InputError(f"{path} is not a readable pickle or joblib model file ({type(exc).__name__}); "
                         "save the model with pickle.dump or joblib.dump") from exc
