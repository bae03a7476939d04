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
  lightgbm; an unsupported one then gets the usual "unsupported model" message after loading;
- NumPy ufuncs (np.log1p in a FunctionTransformer), as references only.
Never allowed: builtins beyond plain data (eval, exec, getattr, __import__, open...), os,
subprocess, and any function of the libraries not listed (np.load, np.save, sklearn's
fetchers...). Names are resolved with one getattr, never along a dotted path.

Allowed is not run. A library class becomes a _Factory: classes defined in Python get an empty
instance (object.__new__) whose __dict__ the BUILD state fills, as BaseEstimator.__setstate__
would but without calling it; the others (sklearn's Tree, the Boosters, dtypes, arrays,
sparse matrices, Cython and random-state objects) become records (records.py) rebuilt from
checked plain state. REDUCE and NEWOBJ call only plain data constructors, and the few NumPy
and copyreg helpers this module writes itself; calling anything else is refused, naming it.
Every byte read, opcode and constructor is charged to the load's Budget (budget.py) first.

joblib files are pickles with each array's bytes written after its NumpyArrayWrapper. We read
them here too (no joblib needed): the wrapper global becomes a placeholder whose BUILD reads
the array bytes from the stream, and object arrays are read by a nested restricted unpickler.
zlib, gzip, bz2, xz and lzma compression are recognised by their magic bytes.
"""
from __future__ import annotations

import bz2
import codecs
import collections
import functools
import gzip
import importlib
import io
import lzma
import pickle
import struct
import sys
import time
import zlib
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING

import numpy as np

from ..errors import InputError
from . import records
from .budget import MAX_DEPTH, Budget

ALLOWED = frozenset("""
builtins:bytearray builtins:bytes builtins:complex builtins:dict builtins:frozenset
builtins:list builtins:object builtins:range builtins:set builtins:slice builtins:tuple
builtins:bool builtins:int builtins:float builtins:str
copyreg:_reconstructor _codecs:encode
collections:OrderedDict collections:defaultdict collections:deque collections:UserList

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

# Classes old releases pickled under names that no longer exist -> the class that now holds the
# same state (recorded from real pickles: tests/data/old_xgboost).
RENAMED = {
    ("xgboost.compat", "XGBoostLabelEncoder"): ("sklearn.preprocessing._label", "LabelEncoder"),
    # scikit-learn 1.5-1.6: ColumnTransformer's remainder columns (tests/data/old_versions)
    ("sklearn.compose._column_transformer", "_RemainderColsList"): ("collections", "UserList"),
}

# Globals that pickles of older scikit-learn releases name and the installed one no longer
# has (recorded from real pickles of 1.1-1.7): GradientBoosting's loss objects before 1.4, and
# the Cython loss objects inside every loss, which 1.4-1.7 named under the bare module `_loss`.
# The loaders read no more than their class names, so an inert record named like each stands in.
OLD_RELEASE_GLOBALS = frozenset("""
sklearn.ensemble._gb_losses:LeastSquaresError sklearn.ensemble._gb_losses:LeastAbsoluteError
sklearn.ensemble._gb_losses:HuberLossFunction sklearn.ensemble._gb_losses:QuantileLossFunction
sklearn.ensemble._gb_losses:BinomialDeviance sklearn.ensemble._gb_losses:MultinomialDeviance
sklearn.ensemble._gb_losses:ExponentialLoss
""".split())
OLD_CYTHON_LOSS_MODULES = ("_loss", "sklearn._loss._loss")   # names "Cy...", "__pyx_unpickle_Cy..."

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


def modern(module: str, name: str) -> tuple[str, str]:
    """Python 2 names mapped as pickle itself maps them; RENAMED classes to their heirs."""
    if not isinstance(module, str) or not isinstance(name, str):
        raise UnsafePickleError(str(module)[:60], str(name)[:60])
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    module = IMPORT_MAPPING.get(module, module)
    return RENAMED.get((module, name), (module, name))


def resolve(module: str, name: str):
    """The object a pickle global names, or UnsafePickleError when the policy refuses it.

    Only modules of allowed entries or of the model libraries are ever imported."""
    module, name = modern(module, name)
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


class _Factory:
    """What find_class gives for a library class: its instances are made without running any
    of its code (no constructor, no __setstate__), as `make(*args)` or, for classes defined in
    Python, an empty instance whose __dict__ the BUILD state fills."""

    def __init__(self, module: str, name: str, make=None, cls=None):
        self.module, self.name, self.make, self.cls = module, name, make, cls

    def new(self, args=()):
        if self.make is not None:
            return self.make(*args)
        if args:
            raise UnsafePickleError(self.module, self.name, "which the file constructs with "
                                    "arguments (a model's classes are rebuilt from state only)")
        return (dict if issubclass(self.cls, dict) else object).__new__(self.cls)


def _python_class(cls) -> bool:
    """Defined in Python (no C layout besides object's or dict's) and without its own __new__:
    an empty instance of it is made by object.__new__ / dict.__new__ alone."""
    for c in cls.__mro__:
        if c in (object, dict):
            continue
        new = vars(c).get("__new__")
        if not c.__flags__ & _HEAPTYPE or (new is not None and not _deprecation_wrapper(new)):
            return False
    return True


def _deprecation_wrapper(new) -> bool:
    """sklearn's @deprecated on a class replaces __new__ by a warning around object.__new__."""
    return getattr(new, "__module__", "") == "sklearn.utils.deprecation"


def _factory(module: str, name: str, obj) -> _Factory:
    """How instances of the library class `obj` are built from a file."""
    make = _RECORDS.get(f"{module}:{name}")
    if make is not None:
        return _Factory(module, name, make=make(module, name))
    if module.startswith("scipy.sparse"):
        return _Factory(module, name, make=records.sparse_class(obj))
    if module.startswith("numpy.random") or not isinstance(obj, type) or not _python_class(obj):
        # random states, Cython loss objects, __pyx_unpickle_* helpers: the loaders never
        # look inside them, so an inert record named like them does
        return _Factory(module, name, make=records.record_class(records.InertRecord, module, name))
    return _Factory(module, name, cls=obj)


def _pyx_name(name: str) -> str:
    return name[len("__pyx_unpickle_"):] if name.startswith("__pyx_unpickle_") else name


_HEAPTYPE = 1 << 9
_RECORDS = {
    "numpy:dtype": lambda m, n: records.DtypeRecord,
    "sklearn.tree._tree:Tree": lambda m, n: records.record_class(records.TreeRecord, m, n),
    "xgboost.core:Booster": lambda m, n: records.record_class(records.XGBoostBoosterRecord, m, n),
    "lightgbm.basic:Booster": lambda m, n: records.record_class(records.LightGBMBoosterRecord, m, n),
}
_REPLACED = (records.DtypeRecord, records.ArrayRecord, records.SparseRecord)
_IMMUTABLE = (bool, int, float, complex, str, bytes, tuple, frozenset, range, slice)
_CONTAINERS = (list, tuple, set, frozenset, dict, bytearray, collections.OrderedDict,
               collections.deque, collections.defaultdict)
_SCALARS = (bool, int, float, complex, str, bytes, bytearray, type(None))
_CODECS = {"latin1", "latin-1", "iso-8859-1", "iso8859-1", "ascii", "utf-8", "utf8"}
_OPCODE_COST = 32       # bytes charged per opcode: the pointer or small object it may add


def _length(value) -> int:
    try:
        return len(value)
    except OverflowError:       # range(10**20)
        return 1 << 62


class RestrictedUnpickler(pickle._Unpickler):
    """pickle's pure-Python unpickler with find_class restricted to the policy; library classes
    become records or state-only instances (_Factory), BUILD never reaches a library's
    __setstate__, nothing but plain data constructors is ever called (with their sizes
    charged to the budget first), and joblib's array wrappers are read from the stream."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file, budget: Budget):
        self.budget = budget
        super().__init__(_Metered(file, budget))
        self._file = self._file_read.__self__
        self._names = {}        # id of a global -> (module, name)
        self._callable = set()  # ids of the globals REDUCE may call
        self._pending = {}      # id of a record replaced at BUILD -> memo keys holding it
        self.deferred = []      # refused library classes, replaced by inert records
        self.notes = set()      # (class, sklearn version) of estimators pickled by another one
        self._tuple_sizes = {}  # id -> (tuple, items when expanded), for tuples holding tuples
        self._hashed = 0        # items hashed so far
        self._max_items = budget.limit // 8

    # -- globals --------------------------------------------------------------------------
    def find_class(self, module, name):
        if (module, name) == JOBLIB_WRAPPER:
            return self._remember(_ArrayPlaceholder, module, name, callable_=True)
        if (module, name) in OLD_JOBLIB:
            raise UnsafePickleError(module, name, "it was saved by joblib older than 0.10; "
                                    "load it with that joblib and save it again")
        module, name = modern(module, name)
        if (f"{module}:{name}" in OLD_RELEASE_GLOBALS or (module in OLD_CYTHON_LOSS_MODULES
                                                         and _pyx_name(name).startswith("Cy"))):
            inert = records.record_class(records.InertRecord, module, _pyx_name(name))
            return self._remember(_Factory(module, name, make=inert), module, name)
        started = time.monotonic()
        try:
            obj = resolve(module, name)
        except UnsafePickleError as exc:
            if not exc.deferrable:
                raise
            self.deferred.append(exc)
            inert = records.record_class(records.InertRecord, exc.module, exc.name)
            return self._remember(_Factory(module, name, make=inert), module, name)
        finally:    # importing the libraries' modules is ours, not the file's, time
            self.budget.deadline += time.monotonic() - started
        own = _OWN.get(f"{module}:{name}") or _OWN.get(name if module.startswith("numpy") else "")
        if own is not None:
            return self._remember(getattr(self, own), module, name, callable_=True)
        if module.startswith("numpy.random") or name.startswith("__pyx_unpickle_"):
            inert = records.record_class(records.InertRecord, module, _pyx_name(name))
            return self._remember(_Factory(module, name, make=inert), module, name)
        if f"{module}:{name}" in _RECORDS:
            return self._remember(_factory(module, name, obj), module, name)
        if obj in _CONTAINERS or obj in _IMMUTABLE or obj is object or obj is functools.partial:
            return self._remember(obj, module, name, callable_=True)
        if isinstance(obj, type) and not obj.__module__.startswith(("builtins", "numpy")):
            return self._remember(_factory(module, name, obj), module, name)
        return self._remember(obj, module, name)     # referred to, never called

    def _remember(self, obj, module, name, callable_=False):
        self._names[id(obj)] = (module, name)
        if callable_:
            self._callable.add(id(obj))
        return obj

    # -- calls ----------------------------------------------------------------------------
    def _call(self, func, args, kwargs=None):
        if not isinstance(args, tuple) or (kwargs is not None and not isinstance(kwargs, dict)):
            raise records.RecordError("a call with malformed arguments")
        if isinstance(func, _Factory):
            return func.new(args)
        if id(func) not in self._callable:
            module, name = self._names.get(id(func), (getattr(func, "__module__", "?"),
                                                      getattr(func, "__name__", "?")))
            raise UnsafePickleError(module, name, "which the file calls while loading (loading "
                                    "calls nothing but plain data constructors)")
        if func is functools.partial:
            if not args or id(args[0]) not in self._names:
                raise records.RecordError("a partial of something the file did not name")
        elif isinstance(func, type):
            self._check_builtin(func, args, kwargs or {})
        result = func(*args, **(kwargs or {}))
        if type(result) is tuple:
            self.stack.append(result)
            try:
                self._sized()
            finally:
                self.stack.pop()
        return result

    def _check_builtin(self, cls, args, kwargs):
        """Plain data constructors: charge what they will allocate; nothing but numbers, text
        and containers as arguments (str() of a nested list could expand without bound)."""
        if kwargs:
            raise records.RecordError(f"a call of {cls.__name__}() with keyword arguments")
        for arg in args:
            if isinstance(arg, (bytes, bytearray)) and cls in (bytes, bytearray, str):
                self.budget.charge(4 * len(arg), "text")
            elif isinstance(arg, int) and cls in (bytes, bytearray):
                self.budget.charge(arg, f"a {cls.__name__}")
            elif isinstance(arg, (range, list, tuple, set, frozenset, dict, str, bytes)):
                if cls not in _CONTAINERS:
                    raise records.RecordError(f"a call of {cls.__name__}() on a container")
                self.budget.charge(64 * _length(arg), f"a {cls.__name__}")
            elif not isinstance(arg, _SCALARS) and not (
                    cls is collections.defaultdict and id(arg) in self._callable):
                raise records.RecordError(f"a call of {cls.__name__}() on a {type(arg).__name__}")
        if cls in (set, frozenset, dict, collections.OrderedDict, collections.defaultdict):
            for arg in args:
                if isinstance(arg, (list, tuple)):
                    self._hashing(k[0] if cls not in (set, frozenset) and isinstance(k, tuple)
                                  and k else k for k in arg)
        if cls is str and len(args) > 1 and str(args[1]).lower() not in _CODECS:
            raise UnsafePickleError("codecs", str(args[1]), "a text codec no model needs")

    def load_reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    def load_newobj(self):
        args = self.stack.pop()
        self.stack[-1] = self._new(self.stack[-1], args)

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        if kwargs:
            raise records.RecordError("an object made with keyword arguments")
        self.stack[-1] = self._new(self.stack[-1], args)

    def _new(self, cls, args):
        """cls.__new__(cls, *args): immutable data types build from their arguments, mutable
        ones start empty (their items come after), library classes go to their factory."""
        if isinstance(cls, _Factory):
            return cls.new(args)
        if cls in _IMMUTABLE and id(cls) in self._callable:
            return self._call(cls, args)
        if (cls in _CONTAINERS or cls is object) and id(cls) in self._callable:
            return cls.__new__(cls)
        return self._call(cls, args)        # refused, naming it

    def _instantiate(self, klass, args):    # INST and OBJ (protocols 0 and 1)
        self.append(self._call(klass, tuple(args)))

    def _reconstructor(self, cls, base, state):     # copyreg._reconstructor (protocols 0, 1)
        if base is not object or state is not None:
            raise records.RecordError("a copyreg._reconstructor call with a base other than object")
        return self._new(cls, ())

    def _encode(self, obj, encoding="utf-8", errors="strict"):     # _codecs.encode
        if not isinstance(obj, str) or str(encoding).lower() not in _CODECS:
            raise UnsafePickleError("_codecs", f"encode {encoding!s}"[:60],
                                    "a text codec no model needs")
        self.budget.charge(4 * len(obj), "text")
        return codecs.encode(obj, encoding, errors)

    def _reconstruct(self, cls, shape, typecode):   # numpy's ndarray reconstruction
        if cls is not np.ndarray:
            raise UnsafePickleError(*self._names.get(id(cls), ("numpy", "?")),
                                    "an array subclass no model needs")
        return records.ArrayRecord()

    def _scalar(self, dtype, data=None):          # numpy's scalar(dtype, bytes)
        dt = records._dtype_of(dtype)
        if dt.hasobject:
            return data
        if not isinstance(data, (bytes, bytearray)) or len(data) != dt.itemsize:
            raise records.RecordError("a NumPy scalar whose bytes do not match its type")
        return np.frombuffer(data, dtype=dt)[0]

    def _frombuffer(self, buf, dtype, shape, order):     # numpy's protocol-5 arrays
        if isinstance(buf, pickle.PickleBuffer):
            buf = bytes(buf)
        return records.array_from(buf, dtype, shape, order == "F", self.budget)

    # -- state ----------------------------------------------------------------------------
    def load_build(self):
        state = self.stack.pop()
        target = self.stack[-1]
        if id(target) in self._names:
            module, name = self._names[id(target)]
            raise UnsafePickleError(module, name, "the file tries to change it while loading")
        if isinstance(target, records.Record):
            built = target.build(state, self.budget)
            if built is not target:
                self._replace(target, built)
        elif isinstance(target, _ArrayPlaceholder):
            self.stack[-1] = self._read_array(state)
        elif type(target).__flags__ & _HEAPTYPE and id(type(target)) not in self._names:
            self._set_state(target, state)
        elif isinstance(target, functools.partial):
            if not (isinstance(state, tuple) and len(state) == 4 and state[0] is target.func):
                raise records.RecordError("a partial whose state changes its function")
            target.__setstate__(state)
        elif state is not None:
            raise records.RecordError(f"state for a {type(target).__name__}, which takes none")

    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _set_state(self, obj, state):
        """A library instance's state, as BaseEstimator.__setstate__ would set it."""
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]
        if not isinstance(state, dict) or not all(type(k) is str for k in state):
            raise records.RecordError(f"a {type(obj).__name__} whose state is not a dict of names")
        version = state.get("_sklearn_version")
        if type(obj).__module__.startswith("sklearn.") and _is_base_estimator(obj):
            state = dict(state)
            version = state.pop("_sklearn_version", "pre-0.18")
            if version != _sklearn_version():
                self.notes.add((type(obj).__name__, str(version)[:40]))
        obj.__dict__.update(state)

    def _replace(self, old, new):
        self.stack[-1] = new
        for key in self._pending.pop(id(old), ()):
            if self.memo.get(key) is old:
                self.memo[key] = new

    def _memo_put(self, key):
        top = self.stack[-1]
        self.memo[key] = top
        if isinstance(top, _REPLACED):
            self._pending.setdefault(id(top), []).append(key)

    def load_put(self):
        key = int(self.readline()[:-1])
        if key < 0:
            raise ValueError("negative PUT argument")
        self._memo_put(key)

    def load_binput(self):
        self._memo_put(self.read(1)[0])

    def load_long_binput(self):
        key, = struct.unpack("<I", self.read(4))
        self._memo_put(key)

    def load_memoize(self):
        self._memo_put(len(self.memo))

    # -- hashing: a tuple's hash (and equality) walks all of it, shared parts each time they
    # appear, so tuples are sized as they are built and every key hashed is charged its size
    def _size(self, item) -> int:
        entry = self._tuple_sizes.get(id(item))
        return entry[1] if entry is not None and entry[0] is item else 1

    def _sized(self):
        t = self.stack[-1]
        total = 1 + sum(self._size(item) for item in t)
        if total > self._max_items:
            raise self.budget.too_wide(self._max_items)
        if total > 1:
            self._tuple_sizes[id(t)] = (t, total)

    def _hashing(self, keys):
        self._hashed += sum(self._size(k) for k in keys)
        if self._hashed > 4 * self._max_items:
            raise self.budget.too_wide(self._max_items)

    def _tuple_op(base):
        def op(self):
            base(self)
            self._sized()
        return op

    def _keys_op(base, keys):
        def op(self):
            self._hashing(keys(self.stack))
            base(self)
        return op

    for _code, _base in ((pickle.TUPLE, pickle._Unpickler.load_tuple),
                         (pickle.TUPLE1, pickle._Unpickler.load_tuple1),
                         (pickle.TUPLE2, pickle._Unpickler.load_tuple2),
                         (pickle.TUPLE3, pickle._Unpickler.load_tuple3)):
        dispatch[_code[0]] = _tuple_op(_base)
    dispatch[pickle.SETITEM[0]] = _keys_op(pickle._Unpickler.load_setitem, lambda st: st[-2:-1])
    dispatch[pickle.SETITEMS[0]] = _keys_op(pickle._Unpickler.load_setitems, lambda st: st[0::2])
    dispatch[pickle.ADDITEMS[0]] = _keys_op(pickle._Unpickler.load_additems, lambda st: st)
    dispatch[pickle.FROZENSET[0]] = _keys_op(pickle._Unpickler.load_frozenset, lambda st: st)
    del _code, _base, _tuple_op, _keys_op

    dispatch[pickle.PUT[0]] = load_put
    dispatch[pickle.BINPUT[0]] = load_binput
    dispatch[pickle.LONG_BINPUT[0]] = load_long_binput
    dispatch[pickle.MEMOIZE[0]] = load_memoize

    def load(self):
        """pickle's loop, charging each opcode to the budget and checking the clock."""
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch, charge = self.read, self.dispatch, self.budget.charge
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                charge(_OPCODE_COST)
                dispatch[key[0]](self)
        except pickle._Stop as stop:
            return stop.value

    def _read_array(self, state) -> np.ndarray:
        if not isinstance(state, dict) or not isinstance(state.get("dtype"), np.dtype):
            raise pickle.UnpicklingError("a joblib array header is malformed")
        dtype, shape = records._dtype_of(state["dtype"]), state.get("shape")
        if not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
            raise pickle.UnpicklingError("a joblib array has a malformed shape")
        if dtype.hasobject:         # object arrays are a nested pickle stream
            nested = RestrictedUnpickler(self._file._fh, self.budget)   # metered once
            nested._names, nested._callable = self._names, self._callable
            nested.deferred, nested.notes = self.deferred, self.notes
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
        self.budget.charge(count * dtype.itemsize, "an array")     # the copy; reads are metered
        data = _read_exact(self._file, count * dtype.itemsize)
        array = np.frombuffer(data, dtype=dtype).copy()
        array = array.reshape(shape[::-1]).T if state.get("order") == "F" else array.reshape(shape)
        if dtype.byteorder not in ("=", "|") and dtype.byteorder != (
                "<" if sys.byteorder == "little" else ">"):
            array = array.astype(dtype.newbyteorder("="))
        return array


# globals served by the unpickler's own methods (by "module:name", or by name in numpy)
_OWN = {"copyreg:_reconstructor": "_reconstructor", "_codecs:encode": "_encode",
        "_reconstruct": "_reconstruct", "scalar": "_scalar", "_frombuffer": "_frombuffer"}


def _is_base_estimator(obj) -> bool:
    base = _import("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator)


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


class _Metered:
    """The (decompressed) stream, charging each byte read to the budget and checking the
    clock; a line is read at most up to what the budget has left."""

    def __init__(self, fh, budget: Budget):
        self._fh, self._budget = fh, budget

    def read(self, n=-1):
        budget = self._budget
        budget.tick()
        if n is None or n < 0:
            n = budget.limit - budget.used + 1
        elif n > budget.limit - budget.used:
            budget.charge(n, "its decompressed contents")     # refused before reading
        data = self._fh.read(n)
        budget.charge(len(data), "its decompressed contents")
        return data

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def readline(self, limit=-1):
        budget = self._budget
        budget.tick()
        data = self._fh.readline(budget.limit - budget.used + 1)
        budget.charge(len(data), "a line of it")
        return data

    def peek(self, n=0):
        return self._fh.peek(n) if hasattr(self._fh, "peek") else b""


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


def load(path: str, budget: Budget | None = None, notes: list | None = None):
    """Unpickle a pickle or joblib file under the policy and the budget. `notes` gets the
    (class, version) of each sklearn estimator pickled by another sklearn release."""
    budget = budget or Budget(path)
    with open(path, "rb") as raw:
        stream = open_stream(io.BufferedReader(raw))
        unpickler = RestrictedUnpickler(stream, budget)
        try:
            obj = unpickler.load()
        except InputError:
            raise
        except Exception:
            if unpickler.deferred:      # a stand-in did not behave as the real thing
                raise unpickler.deferred[0] from None
            raise
    check_graph(obj, budget)
    if unpickler.deferred:
        _unsupported_top(obj)
        raise unpickler.deferred[0]
    if notes is not None:
        notes.extend(sorted(unpickler.notes))
    return obj


def _children(obj):
    """What a loaded object holds, for the walks below (None for a leaf)."""
    if isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
        return list(obj)
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, np.ndarray):
        return list(obj.ravel()) if obj.dtype.hasobject else None
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if type(obj).__flags__ & _HEAPTYPE and isinstance(getattr(obj, "__dict__", None), dict):
        return list(obj.__dict__.values())
    return None


def check_graph(root, budget: Budget) -> None:
    """Refuse a structure nested deeper than MAX_DEPTH, or whose shared parts, each counted
    every time they appear (as str() or a conversion to arrays would), exceed the budget's
    items: one pass, each object visited once."""
    max_items = budget.limit // 8
    size = {}           # id -> items when expanded
    open_ = set()       # ids of containers being walked (a cycle counts as one item)
    todo = [(root, 0, False)]
    while todo:
        obj, depth, done = todo.pop()
        key = id(obj)
        if done:
            open_.discard(key)
            total = 1 + sum(size.get(id(c), 1) for c in _children(obj))
            if total > max_items:
                raise budget.too_wide(max_items)
            size[key] = total
            continue
        if key in size or key in open_:
            continue
        kids = _children(obj)
        if not kids:
            size[key] = 1
            continue
        if depth >= MAX_DEPTH:
            raise budget.too_deep()
        budget.tick()
        open_.add(key)
        todo.append((obj, depth, True))
        todo.extend((c, depth + 1, False) for c in kids)


def _unsupported_top(obj) -> None:
    """When a refused global sits inside an unsupported estimator (the model itself, or a step
    of a pipeline), say the model is unsupported rather than the file unsafe: nothing ran."""
    from ..errors import unsupported
    from . import supported_models

    supported = set(supported_models())
    queue, seen = collections.deque([obj]), set()
    while queue and len(seen) < 10000:      # a breadth-first walk, no recursion
        item = queue.popleft()
        if id(item) in seen:
            continue
        seen.add(id(item))
        cls = type(item)
        top = cls.__module__.split(".")[0]
        if isinstance(item, (list, tuple, dict)):
            queue.extend(_children(item)[:10000])
        elif top in ESTIMATOR_PACKAGES and not isinstance(item, records.Record):
            predictor = any(hasattr(cls, m) for m in ("predict", "decision_function", "score_samples"))
            if predictor and (top, cls.__name__) not in supported:
                raise unsupported(item, "" if item is obj else f"inside {type(obj).__name__}")
            queue.extend(list(getattr(item, "__dict__", {}).values())[:10000])
