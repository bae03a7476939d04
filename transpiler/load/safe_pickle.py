"""Reading pickle and joblib files without letting them run code.

A pickle names the Python objects it is built from ("globals": classes and functions) and
calls them while it loads; `pickle.load` imports and calls whatever the file names, so a file
can run `os.system`. RestrictedUnpickler resolves a global only when the policy below allows
it, and raises UnsafePickleError (naming the global) before anything of the file runs.

The policy is data, derived from what real pickles of every supported model need (pickle
protocols 0-5 and joblib.dump, compressed or not; tests/test_safe_loading.py regenerates
them and fails naming any global the policy misses):
- ALLOWED: exact `module:name` globals: NumPy's array and scalar reconstruction, plain data
  builtins, and the libraries' internals a fitted model holds (sklearn's Tree, LabelEncoder,
  loss objects, XGBoost's and LightGBM's Booster...), and functools.partial with
  sklearn's check_array (HistGradientBoosting's categorical preprocessing): a partial can
  only wrap callables the policy already allows;
- CLASS_MODULES: modules whose classes (not their functions) are plain data holders;
- any scikit-learn estimator class (a BaseEstimator subclass) defined in sklearn, xgboost or
  lightgbm: by the library's convention their constructors only store parameters, and an
  unsupported one then gets the usual "unsupported model" message after loading;
- NumPy ufuncs (np.log1p in a FunctionTransformer): pure arithmetic.
Never allowed: builtins beyond plain data (eval, exec, getattr, __import__, open...), os,
subprocess, and any function of the libraries not listed (np.load, np.save, sklearn's
fetchers...). Names are resolved with one getattr, never along a dotted path.

joblib files are pickles with each array's bytes written after its NumpyArrayWrapper. We read
them here too (no joblib needed): the wrapper global becomes a placeholder whose BUILD reads
the array bytes from the stream, and object arrays are read by a nested restricted unpickler.
zlib, gzip, bz2, xz and lzma compression are recognised by their magic bytes.
"""
from __future__ import annotations

import bz2
import gzip
import importlib
import io
import lzma
import pickle
import sys
import zlib
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING

import numpy as np

from ..errors import InputError

ALLOWED = frozenset("""
builtins:bytearray builtins:bytes builtins:complex builtins:dict builtins:frozenset
builtins:list builtins:object builtins:range builtins:set builtins:slice builtins:tuple
builtins:bool builtins:int builtins:float builtins:str
copyreg:_reconstructor _codecs:encode
collections:OrderedDict collections:defaultdict collections:deque

numpy:ndarray numpy:dtype numpy:bool_ numpy:float64 numpy:float32 numpy:int64 numpy:int32
numpy:str_ numpy:bytes_ numpy:void
numpy._core.multiarray:_reconstruct numpy._core.multiarray:scalar numpy._core.numeric:_frombuffer
numpy.core.multiarray:_reconstruct numpy.core.multiarray:scalar numpy.core.numeric:_frombuffer
numpy.random._pickle:__randomstate_ctor numpy.random._pickle:__bit_generator_ctor
numpy.random._pickle:__generator_ctor numpy.random.mtrand:RandomState
numpy.random.bit_generator:SeedSequence numpy.random.bit_generator:__pyx_unpickle_SeedSequence
numpy.random._mt19937:MT19937 numpy.random._pcg64:PCG64 numpy.random._pcg64:PCG64DXSM
numpy.random._philox:Philox numpy.random._sfc64:SFC64 numpy.random._generator:Generator

sklearn.tree._tree:Tree
sklearn.ensemble._hist_gradient_boosting.predictor:TreePredictor
sklearn.calibration:_CalibratedClassifier
sklearn.utils._bunch:Bunch
functools:partial sklearn.utils.validation:check_array
sklearn._loss._loss:__pyx_unpickle_CyHalfMultinomialLoss

xgboost.core:Booster
lightgbm.basic:Booster
""".split())

# Modules whose classes (types only, never their functions) are plain data holders.
CLASS_MODULES = frozenset("""
sklearn._loss.loss sklearn._loss.link sklearn._loss._loss sklearn.linear_model._sgd_fast
scipy.sparse._csr scipy.sparse._csc scipy.sparse._coo scipy.sparse._bsr scipy.sparse._dia
scipy.sparse._lil scipy.sparse._dok scipy.sparse._arrays
""".split())

ESTIMATOR_PACKAGES = ("sklearn", "xgboost", "lightgbm")
JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
OLD_JOBLIB = {("joblib.numpy_pickle_compat", "NDArrayWrapper"),
              ("joblib.numpy_pickle_compat", "ZNDArrayWrapper")}
CHUNK = 1 << 24        # array bytes are read in chunks, so a lying header cannot allocate much


class UnsafePickleError(pickle.UnpicklingError):
    """The file asks for a global the policy does not allow."""

    deferrable = False      # a library global: refused, but an inert stand-in takes its place

    def __init__(self, module: str, name: str, why: str = ""):
        self.module, self.name, self.why = module, name, why
        super().__init__(f"{module}.{name}")


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _is_estimator_class(obj, module: str, name: str) -> bool:
    """A model class of the libraries: a supported one, or any scikit-learn estimator."""
    if not isinstance(obj, type) or "tests" in module.split(".") or "_mocking" in module:
        return False
    top = module.split(".")[0]
    if not getattr(obj, "__module__", "").split(".")[0] == top:
        return False            # a name the module imported from elsewhere
    from . import supported_models

    if (top, name) in supported_models():
        return True
    base = _import("sklearn.base")
    return base is not None and issubclass(obj, base.BaseEstimator)


def resolve(module: str, name: str):
    """The object a pickle global names, or UnsafePickleError when the policy refuses it.

    Only modules of allowed entries or of the model libraries are ever imported."""
    if not isinstance(module, str) or not isinstance(name, str):
        raise UnsafePickleError(str(module), str(name))
    if (module, name) in NAME_MAPPING:          # Python 2 names, as pickle itself maps them
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    key = f"{module}:{name}"
    top = module.split(".")[0]
    by_rule = top in ESTIMATOR_PACKAGES or module in CLASS_MODULES or module == "numpy"
    if "." in name or not name.isidentifier() or not (key in ALLOWED or by_rule):
        raise UnsafePickleError(module, name)
    mod = _import(module)
    obj = getattr(mod, name, None) if mod is not None else None
    if obj is None:
        if mod is None and top in ESTIMATOR_PACKAGES and _import(top) is None:
            raise ModuleNotFoundError(f"No module named {top!r}", name=top)
        raise UnsafePickleError(module, name, "it does not exist in the installed libraries")
    if key in ALLOWED:
        return obj
    if module in CLASS_MODULES and isinstance(obj, type):
        return obj
    if module == "numpy" and isinstance(obj, np.ufunc):
        return obj
    if top in ESTIMATOR_PACKAGES and _is_estimator_class(obj, module, name):
        return obj
    error = UnsafePickleError(module, name)
    error.deferrable = top in ESTIMATOR_PACKAGES
    raise error


class _Inert:
    """Stands in for a library class or function the policy refuses (say the KDTree inside a
    KNeighborsClassifier): it runs nothing, so loading can go on and tell an unsupported
    model from an unsafe file. load() never returns an object holding one."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _ArrayPlaceholder:
    """Stands in for joblib's NumpyArrayWrapper: BUILD gives it the array's header."""

    def __init__(self, *args, **kwargs):
        self.state = None

    def __setstate__(self, state):
        self.state = state


def _read_exact(fh, n: int) -> bytes:
    parts, left = [], n
    while left > 0:
        data = fh.read(min(left, CHUNK))
        if not data:
            raise pickle.UnpicklingError("the file ends inside an array")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


class RestrictedUnpickler(pickle._Unpickler):
    """pickle's pure-Python unpickler with find_class restricted to the policy, BUILD refused
    on the globals themselves (a pickle could otherwise set attributes of a library class),
    and joblib's array wrappers read from the stream."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file):
        super().__init__(file)
        self._file = file
        self._globals = set()
        self.deferred = []      # refused library classes, replaced by _Inert stand-ins

    def find_class(self, module, name):
        if (module, name) == JOBLIB_WRAPPER:
            return _ArrayPlaceholder
        if (module, name) in OLD_JOBLIB:
            raise UnsafePickleError(module, name, "it was saved by joblib older than 0.10; "
                                    "load it with that joblib and save it again")
        try:
            obj = resolve(module, name)
        except UnsafePickleError as exc:
            if not exc.deferrable:
                raise
            self.deferred.append(exc)
            obj = type(name, (_Inert,), {"__module__": module})
        self._globals.add(id(obj))
        return obj

    def load_build(self):
        target = self.stack[-2] if len(self.stack) > 1 else None
        if id(target) in self._globals:
            raise UnsafePickleError(getattr(target, "__module__", "?"),
                                    getattr(target, "__name__", "?"),
                                    "the file tries to change it while loading")
        super().load_build()
        top = self.stack[-1]
        if isinstance(top, _ArrayPlaceholder):
            self.stack[-1] = self._read_array(top.state)

    dispatch[pickle.BUILD[0]] = load_build

    def _read_array(self, state) -> np.ndarray:
        if not isinstance(state, dict) or not isinstance(state.get("dtype"), np.dtype):
            raise pickle.UnpicklingError("a joblib array header is malformed")
        dtype, shape = state["dtype"], state.get("shape")
        if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise pickle.UnpicklingError("a joblib array has a malformed shape")
        if dtype.hasobject:         # object arrays are a nested pickle stream
            nested = RestrictedUnpickler(self._file)
            nested._globals, nested.deferred = self._globals, self.deferred
            array = nested.load()
            if not isinstance(array, np.ndarray):
                raise pickle.UnpicklingError("a joblib object array is not an array")
            return array
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self._file.read(1)
            if pad and pad[0]:
                _read_exact(self._file, pad[0])
        count = 1
        for s in shape:
            count *= s
        data = _read_exact(self._file, count * dtype.itemsize)
        array = np.frombuffer(data, dtype=dtype).copy()
        array = array.reshape(shape[::-1]).T if state.get("order") == "F" else array.reshape(shape)
        if dtype.byteorder not in ("=", "|") and dtype.byteorder != (
                "<" if sys.byteorder == "little" else ">"):
            array = array.astype(dtype.newbyteorder("="))
        return array


class _ZlibReader(io.RawIOBase):
    """A raw zlib stream (joblib's compress=True / 'zlib') as a readable file."""

    def __init__(self, fh):
        self._fh, self._z, self._buf = fh, zlib.decompressobj(), b""

    def readable(self):
        return True

    def readinto(self, b):
        while not self._buf:
            chunk = self._fh.read(1 << 16)
            if not chunk:
                self._buf = self._z.flush()
                if not self._buf:
                    return 0
                break
            self._buf = self._z.decompress(chunk, 1 << 20)
            while self._z.unconsumed_tail and not self._buf:
                self._buf = self._z.decompress(self._z.unconsumed_tail, 1 << 20)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        if not self._buf and self._z.unconsumed_tail:
            self._buf = self._z.decompress(self._z.unconsumed_tail, 1 << 20)
        return n


def open_stream(fh):
    """The decompressed stream of a joblib file (or the file itself when not compressed)."""
    head = fh.peek(8)[:8] if hasattr(fh, "peek") else b""
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=fh, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(fh, "rb")
    if head.startswith(b"\xfd7zXZ"):
        return lzma.LZMAFile(fh, "rb", format=lzma.FORMAT_XZ)
    if head.startswith(b"]\x00\x00"):
        return lzma.LZMAFile(fh, "rb", format=lzma.FORMAT_ALONE)
    if head.startswith(b"x"):
        return io.BufferedReader(_ZlibReader(fh))
    if head.startswith(b"ZF"):
        raise UnsafePickleError("joblib", "compat", "it was saved by joblib older than 0.10; "
                                "load it with that joblib and save it again")
    if head.startswith(b"\x04\x22\x4d\x18"):
        raise UnsafePickleError("lz4", "frame", "lz4 compression is not supported; "
                                "save it with compress=3 (zlib) instead")
    return fh


def load(path: str):
    """Unpickle a pickle or joblib file under the policy."""
    with open(path, "rb") as raw:
        stream = open_stream(io.BufferedReader(raw))
        unpickler = RestrictedUnpickler(stream)
        try:
            obj = unpickler.load()
        except Exception:
            if unpickler.deferred:      # a stand-in did not behave as the real thing
                raise unpickler.deferred[0] from None
            raise
    if unpickler.deferred:
        _unsupported_top(obj)
        raise unpickler.deferred[0]
    return obj


def _unsupported_top(obj) -> None:
    """When a refused global sits inside an unsupported estimator (the model itself, or a step
    of a pipeline), say the model is unsupported rather than the file unsafe: nothing ran."""
    from ..errors import unsupported
    from . import supported_models

    supported = set(supported_models())
    queue, seen = [obj], set()
    while queue and len(seen) < 10000:      # a breadth-first walk, no recursion
        item = queue.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        cls = type(item)
        top = cls.__module__.split(".")[0]
        if isinstance(item, (list, tuple)):
            queue.extend(item)
        elif isinstance(item, dict):
            queue.extend(item.values())
        elif top in ESTIMATOR_PACKAGES and not issubclass(cls, _Inert):
            predictor = any(hasattr(cls, m) for m in ("predict", "decision_function", "score_samples"))
            if predictor and (top, cls.__name__) not in supported:
                raise unsupported(item, "" if item is obj else f"inside {type(obj).__name__}")
            queue.extend(getattr(item, "__dict__", {}).values())
