"""Reading model files from disk: existence checks and unpickling.

Pickle and joblib files are read by safe_pickle's restricted unpickler unless the caller
trusts the file (`trust=True`, the CLI's --trust-pickle). skops files (a zip archive) are read
with skops' own safe loader, trusting only the types safe_pickle's policy allows.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import sys
import lzma
import stat
import warnings
import zlib

from ..errors import InputError, LoadNote, MissingDependencyError
from . import formats, records, safe_pickle
from .budget import Budget

HEAD_BYTES = 4096
_EXTRAS = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}


def read_head(path: str) -> bytes:
    """The first bytes of a file, with the errors a user can act on."""
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}; check the path of the model file")
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory; pass the model file inside it")
    try:
        with open_regular(path, "model file") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc
    if not head:
        raise InputError(f"{path} is empty; save the model again")
    return head


def open_regular(path: str, what: str):
    """Open a regular file for reading; a FIFO, device or socket is refused without blocking
    (it could make a read wait for ever or never end)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")
            raise InputError(f"{path} is {kind}, not a regular file; give a {what} saved on disk")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str, budget: Budget, what: str = "model file") -> bytes:
    """A regular file's bytes as one object, charged to the budget before it is read."""
    try:
        with open_regular(path, what) as fh:
            size = os.fstat(fh.fileno()).st_size
            budget.charge(size, "its bytes")
            data = fh.read(size + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc
    if len(data) > size:            # it grew while read: the budget was set for its old size
        raise InputError(f"{path} changed while it was read; save the model again")
    return data


def read_pieces(path: str, budget: Budget, size: int = 1 << 20, what: str = "model file"):
    """A regular file's bytes in pieces of `size`, each charged to the budget and the clock
    checked between them: a reader that keeps only what it parsed stays linear in the file."""
    try:
        with open_regular(path, what) as fh:
            while True:
                budget.check_time()
                budget.charge(size, "its bytes")
                piece = fh.read(size)
                budget.used -= size - len(piece)
                if not piece:
                    return
                yield piece
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc


def _refused(path: str, exc: safe_pickle.UnsafePickleError) -> InputError:
    why = exc.why or "which no supported model needs (a pickle can run code as it loads)"
    return InputError(f"refused to load {path}: it asks for {exc.module}.{exc.name}, {why}; "
                      "nothing in it was run. Use --trust-pickle (trust_pickle=True) only "
                      "for a file from a source you trust")


def unpickle(path: str, trust: bool = False, versions: list | None = None,
             budget: Budget | None = None):
    """Load a pickle, joblib or skops file; restricted unless `trust`, under `budget` (by
    default one for the file's size). `versions` gets the scikit-learn versions that pickled
    its estimators, when not the installed one."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if path.endswith(".skops") or magic == b"PK\x03\x04":
        return load_skops(path, trust)
    try:
        if trust:
            try:
                return _load_trusted(path)
            except (AttributeError, ImportError, ValueError) as exc:
                # the installed libraries cannot rebuild what an older release pickled (classes
                # since removed or renamed, other node layouts); our reader of the plain state
                # can, and it is stricter, so trusting the file gives up nothing
                try:
                    return safe_pickle.load(path, Budget(path), [])
                except Exception:
                    raise exc from None
        notes = []
        obj = safe_pickle.load(path, budget or Budget(path), notes)
        if versions is not None:
            versions.extend(version for _, version in notes)
        for name, version in notes[:1]:
            warnings.warn(LoadNote(
                f"{path} holds a {name} pickled by scikit-learn {version}, read with "
                f"{safe_pickle._sklearn_version()}; check the model still predicts as expected"))
        return obj
    except safe_pickle.UnsafePickleError as exc:
        if formats.other_library_class(exc.module, exc.name):
            raise formats.unsupported_class(exc.module, exc.name) from None
        raise _refused(path, exc) from None
    except records.RecordError as exc:
        raise InputError(f"refused to load {path}: it holds {exc}, not what the library "
                         "writes; nothing in it was run") from None
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top in _EXTRAS:
            raise MissingDependencyError(
                f"{path} holds a {top} model but {top} is not installed; "
                f"run `pip install 'transpiler-ml[{_EXTRAS[top]}]'`") from exc
        raise InputError(f"{path} needs the Python module {exc.name!r} to unpickle; "
                         "install it or pass a scikit-learn, XGBoost or LightGBM model") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError, OverflowError, MemoryError, RecursionError,
            OSError, zlib.error, lzma.LZMAError) as exc:
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise InputError(f"{path} is not a readable pickle or joblib model file "
                         f"({type(exc).__name__}{': ' + detail if detail else ''}); save the "
                         "model with pickle.dump or joblib.dump") from exc


def _load_trusted(path: str):
    """The unrestricted loaders, for --trust-pickle: joblib when installed (it reads both).
    What the libraries' native code prints while loading (LightGBM's [Fatal] lines) is kept
    off the terminal, and their errors become one InputError."""
    try:
        import joblib
    except ImportError:
        joblib = None
    with _quiet(), open_regular(path, "model file") as fh:
        try:
            return joblib.load(fh) if joblib is not None else pickle.load(fh)
        except (ModuleNotFoundError, MemoryError, RecursionError):
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("pickle", "_pickle", "builtins", "zlib"):
                raise
            first = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ""
            raise InputError(f"{path} could not be loaded by {type(exc).__module__.split('.')[0]} "
                             f"({type(exc).__name__}: {first}); save the model again") from exc


@contextlib.contextmanager
def _quiet():
    """Standard output and error (the file descriptors, where native code writes) go to a
    scratch file for the duration."""
    import tempfile

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with tempfile.TemporaryFile() as scratch:
            os.dup2(scratch.fileno(), 1)
            os.dup2(scratch.fileno(), 2)
            with contextlib.redirect_stdout(io.StringIO()):
                yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def load_skops(path: str, trust: bool = False):
    """A skops file, read by skops.io.load trusting only the types our policy allows."""
    try:
        import skops.io as sio
    except ImportError:
        raise MissingDependencyError(f"{path} is a skops file, and reading it needs skops; "
                                     "run `pip install skops`") from None
    try:
        untrusted = sio.get_untrusted_types(file=path)
        if not trust:
            for qualified in untrusted:
                module, _, name = str(qualified).rpartition(".")
                try:
                    safe_pickle.resolve(module, name)
                except safe_pickle.UnsafePickleError as exc:
                    raise _refused(path, exc) from None
        return sio.load(path, trusted=list(untrusted))
    except InputError:
        raise
    except Exception as exc:  # skops raises many kinds (zip, json, its own) for a bad file
        raise InputError(f"{path} is not a readable skops model file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                         "save the model with skops.io.dump") from exc
