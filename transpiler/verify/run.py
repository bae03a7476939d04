"""verify(): generate code for a model, build and run it on rows in one process with the local
toolchain, and compare its outputs with the Python model's own.

    >>> from transpiler.verify.run import verify
    >>> report = verify("model.pkl", "go", rows="rows.csv")
    >>> report.ok, report.max_ulps

verify_files() does the same for files already generated (by case_files), which lets a test
change one of them first. A new target (e.g. Go plugins) needs only a builder in harness.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import ir
from . import data, harness, report as reports
from .reference import reference
from .rows import leaf_coverage

CASE = "model"   # the package (Go, Java) / function suffix (C) of the code built
STAGES = ("loading the model", "deriving rows", "building and running", "scoring with the model",
          "comparing")


@dataclass
class Subject:
    """The model under test: what the library scores (object or native file) and its IR."""

    source: object       # the model object, or the path of a native XGBoost/LightGBM file
    library: str         # "sklearn", "xgboost", "lightgbm"
    native: bool         # source is a native file
    model: ir.Model
    name: str            # how the report names it: the path, or the class name
    options: dict        # load options


def open_subject(model_or_path, load_options: dict | None = None) -> Subject:
    """Load a model once, keeping what the reference outputs need beside its IR."""
    from .. import to_ir
    from ..load import FAMILIES, files

    if isinstance(model_or_path, Subject):
        return model_or_path
    options = dict(load_options or {})
    source, native = model_or_path, False
    if isinstance(model_or_path, (str, os.PathLike)):
        path = os.fspath(model_or_path)
        head = files.read_head(path)
        family = next((f for f in FAMILIES
                       if getattr(f, "sniff", None) is not None and f.sniff(path, head)), None)
        if family is not None:
            source, native, library = path, True, family.LIBRARY
        else:
            source = files.unpickle(path, trust=bool(options.pop("trust_pickle", False)))
        name = path
    else:
        name = type(source).__name__
    if not native:
        library = type(source).__module__.split(".")[0]
    return Subject(source=source, library=library, native=native,
                   model=to_ir(source, **options), name=name, options=options)


def generate(subject: Subject, lang: str, **options) -> dict:
    """What transpile() returns for this model, without loading it again."""
    from .. import emit

    return emit.emit(subject.model, lang, **options)


NAME_OPTIONS = ("package", "function", "class_name")


def case_files(model, lang: str, layout: str = "auto", **options) -> dict:
    """The files transpile() gives with these options (names, selftest), as verify builds them.
    Without names: named as the build harness names a case (harness.names_for)."""
    from .. import emit

    model = model.model if isinstance(model, Subject) else model
    if not any(options.get(k) is not None for k in NAME_OPTIONS):
        options.update(harness.names_for(lang, CASE))
    return emit.emit(model, lang, layout=layout, **options)


def verify(model_or_path, lang: str, *, layout: str = "auto", rows=None, derived: bool = True,
           tolerance=None, load_options: dict | None = None, progress=None,
           label: str | None = None, ignore=(), **options) -> reports.Report:
    """Generate `lang` code for a model and verify it; options are transpile()'s names and
    selftest, the others verify_files'."""
    if progress:
        progress(STAGES[0])
    subject = open_subject(model_or_path, load_options)
    named = {k: options[k] for k in NAME_OPTIONS if options.get(k) is not None}
    return verify_files(subject, case_files(subject, lang, layout, **options), lang, rows=rows,
                        derived=derived, tolerance=tolerance, progress=progress,
                        names=named or None, label=label, ignore=ignore)


def verify_files(model_or_path, files: dict, lang: str, *, rows=None, derived: bool = True,
                 tolerance=None, load_options: dict | None = None,
                 progress=None, names: dict | None = None, label: str | None = None,
                 ignore=()) -> reports.Report:
    """Build `files` (from case_files), run them on rows, compare with the model itself.

    names: the package/function/class_name options the files were generated with (None for
    a language's default); None: the harness's own (harness.names_for, as case_files names).
    rows: the user's rows (a CSV/.npy/Parquet path, an array or a DataFrame), or None.
    label, ignore: header columns that are not features (the target; others), left out.
    derived: add rows derived from the model (thresholds, NaN, leaves, categories, random).
    tolerance: a Tolerance, a string as `--tolerance` takes it, or None for the family default.
    progress: called with each stage's name (STAGES) as it starts, and keyword counts of what
    the stage before produced (features, rows, values, scored).
    Raises BuildError when the code does not build or run (the compiler's message in it).
    """
    say = progress or (lambda stage, **counts: None)
    subject = open_subject(model_or_path, load_options)
    model = subject.model
    say(STAGES[1], features=model.n_features, outputs=model.n_outputs)
    user = None if rows is None else data.user_rows(rows, model, data.Columns(label, tuple(ignore)))
    rs = data.row_set(model, user, derived=derived)
    say(STAGES[2], rows=len(rs.rows))
    case = harness.Case(CASE, files, model.n_features, model.n_outputs, rs.rows, names)
    got = harness.run_cases(lang, [case], c_builds=("gcc",), selftest=False)[CASE]
    say(STAGES[3], values=int(got.size))
    ref = reference(subject.source, subject.library, subject.native, model, rs.rows,
                    subject.options)
    keep = np.flatnonzero(ref.scored)
    say(STAGES[4], scored=len(keep))
    X = rs.rows[keep]
    if isinstance(tolerance, reports.Tolerance):
        tol, tol_origin = tolerance, "given"
    elif tolerance is not None:
        tol, tol_origin = reports.parse_tolerance(str(tolerance), model), "--tolerance"
    else:
        tol, tol_origin = reports.default_tolerance(model), f"default for {reports.family(model)}"
    notes = []
    if user is not None and user.ignored:
        notes.append(f"columns of {user.name} that are not features: {', '.join(user.ignored)}")
    return reports.compare(
        model, X, got[keep], ref.outputs[keep], tol, index=keep, origin=rs.origin,
        ir_eval=(lambda R: ir.evaluate(model, R)) if ref.library else None,
        lang=lang, model=str(subject.name), source=model.source, reference=ref.description,
        tolerance_origin=tol_origin, row_kinds=rs.kinds(ref.scored), family=reports.family(model),
        skipped=int(len(rs.rows) - len(keep)), skipped_reason=ref.skipped_reason,
        leaves=leaf_coverage(model, X), notes=notes)
