"""LightGBM models (Booster, LGBMRegressor/Classifier/Ranker, native model.txt files) -> ir.Model.

Both inputs go through LightGBM's text model: an object is turned into its model string (up to
best_iteration, as predict does by default) and a file is read as it is; lgbm_text parses
either, so a model file needs no lightgbm installed. lgbm_tree turns the parsed trees into
IR node tables with LightGBM's prediction semantics. What predict computes:

    raw[k] = 0.0 + tree_k + tree_{k+K} + ...      in float64, trees in model order
             (the init score is folded into the first iteration's trees, so no base score)
    raw   /= iterations                           with average_output (boosting=rf)
    out    = the objective's ConvertOutput(raw)   (Booster.predict; the sklearn wrappers differ)
"""
from __future__ import annotations

from dataclasses import replace

from ..errors import InputError, UnsupportedModelError, unsupported
from .. import ir
from . import files, lgbm_text, records
from .budget import Budget
from .lgbm_tree import categorical_features, convert_tree

LIBRARY = "lightgbm"

# Objective names (and the aliases LightGBM accepts) grouped by the output transform
# their ConvertOutput applies.
_SQRT_CAPABLE = {  # RegressionL2loss and the subclasses that keep its ConvertOutput
    "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root",
    "root_mean_squared_error", "rmse", "regression_l1", "l1", "mean_absolute_error", "mae",
    "fair", "quantile", "mape", "mean_absolute_percentage_error"}
_CUSTOM = {"custom", "none", "null", "na", ""}  # no ConvertOutput: raw scores
_RANKING = {"lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart"}
_IDENTITY = {"huber"} | _RANKING | _CUSTOM   # LightGBM switches reg_sqrt off for huber
_EXP = {"poisson", "gamma", "tweedie"}  # their ConvertOutput is exp, with or without "sqrt"
_BINARY = {"binary"}
_XENTROPY = {"cross_entropy", "xentropy"}
_XENTLAMBDA = {"cross_entropy_lambda", "xentlambda"}
_SOFTMAX = {"multiclass", "softmax"}
_OVA = {"multiclassova", "multiclass_ova", "ova", "ovr"}


def _objective_name(objective: str) -> str:
    tokens = objective.split()
    return tokens[0] if tokens else ""


def _objective_params(tokens) -> dict:
    params = {}
    for tok in tokens[1:]:
        key, sep, value = tok.partition(":")
        params[key] = value if sep else True
    return params


def _sigmoid(params: dict, objective: str) -> float:
    try:  # read as LightGBM reads it, which is not always float()'s correctly rounded value
        scale = lgbm_text.lightgbm_atof(params["sigmoid"])
    except (KeyError, ValueError, TypeError):
        raise InputError(f"the model's objective {objective!r} has no valid sigmoid:<value>; "
                         "save the model again with LightGBM") from None
    if not scale > 0:
        raise InputError(f"the model's objective {objective!r} has sigmoid {scale}, which must be "
                         "greater than zero; save the model again with LightGBM")
    return scale


def booster_output(objective: str, n_outputs: int) -> tuple:
    """(post-processor, post_scale, task) that Booster.predict applies for this objective string."""
    tokens = objective.split()
    name = _objective_name(objective)
    params = _objective_params(tokens)
    if name in _SQRT_CAPABLE:
        return ("signed_square" if "sqrt" in params else "identity"), 1.0, "regression"
    if name in _IDENTITY:
        return "identity", 1.0, ("ranking" if name in _RANKING else "regression")
    if name in _EXP:
        return "exp", 1.0, "regression"
    if name in _BINARY:
        return "sigmoid", _sigmoid(params, objective), "classification"
    if name in _XENTROPY:
        return "sigmoid", 1.0, "regression"
    if name in _XENTLAMBDA:
        return "softplus", 1.0, "regression"
    if name in _SOFTMAX | _OVA:
        classes = str(params.get("num_class", ""))
        if classes.isdigit() and int(classes) != n_outputs:
            raise InputError(f"the model's objective says num_class:{classes} but it has "
                             f"{n_outputs} trees per iteration; save the model again with LightGBM")
        if name in _SOFTMAX:
            return "softmax", 1.0, "classification"
        return "sigmoid", _sigmoid(params, objective), "classification"
    raise UnsupportedModelError(
        f"LightGBM objective {name!r} is not supported; supported are regression (l2, l1, huber, "
        "fair, quantile, mape), poisson, gamma, tweedie, binary, cross_entropy, "
        "cross_entropy_lambda, multiclass, multiclassova, lambdarank and rank_xendcg")


def build(text_model: lgbm_text.TextModel, options: dict, *, source: str, version: str) -> ir.Model:
    """An ir.Model that computes what Booster.predict computes for this text model."""
    k = text_model.num_tree_per_iteration
    trees = text_model.trees
    n_iter = options.get("num_iteration")
    if n_iter is not None and int(n_iter) > 0:
        trees = trees[:int(n_iter) * k]
    ir_trees = tuple(convert_tree(t, target=i % k) for i, t in enumerate(trees))
    ens = ir.Ensemble(trees=ir_trees, n_outputs=k, base_score=(0.0,) * k, feature_type="float64",
                      op="<=", accumulate="float64",
                      aggregation="mean" if text_model.average_output else "sum",
                      cat_negative="trunc")
    post, scale, task = booster_output(text_model.objective, k)
    meta = {
        "objective": text_model.objective,
        "format_version": text_model.version,
        "boosting": text_model.parameters.get("boosting", ""),
        "num_iteration": len(trees) // k,
        "categorical_features": categorical_features(trees),
    }
    if text_model.pandas_categorical:
        meta["pandas_categorical"] = text_model.pandas_categorical
    return ir.Model(n_features=text_model.max_feature_idx + 1, raw=ens, post=post,
                    post_scale=scale, task=task, feature_names=text_model.feature_names,
                    source=source, source_version=version, output_kind="predict", meta=meta)


def sniff(path, head: bytes) -> bool:
    return (head.startswith(b"tree\n") or head.startswith(b"tree\r\n")) and b"version=" in head


def load_file(path, options: dict, budget: Budget | None = None) -> ir.Model:
    """A native text model, read without lightgbm (in pieces, under `budget`: by default one
    for the file's size); it predicts as Booster(model_file=path)."""
    budget = budget or Budget(path)
    parsed = lgbm_text.parse(files.read_pieces(path, budget), path, budget)
    return build(parsed, options, source="lightgbm.Booster",
                 version=f"model format {parsed.version or 'unversioned'}")


def _model_string(booster, options: dict) -> str:
    if isinstance(booster, records.LightGBMBoosterRecord):    # from an untrusted pickle
        if booster.model_text is None:
            raise InputError("the LightGBM Booster in the file holds no model; train it first")
        return booster.model_text
    try:
        return booster.model_to_string(num_iteration=options.get("num_iteration"))
    except Exception as exc:  # a freed or half-built Booster: say so in one line
        raise InputError(f"cannot read the LightGBM Booster ({type(exc).__name__}: {exc}); "
                         "pass a trained model") from exc


def _lightgbm_version() -> str:
    import lightgbm

    return lightgbm.__version__


def _live_sigmoid(booster, model: ir.Model) -> ir.Model:
    """A Booster still attached to its training data (keep_training_booster=True) predicts with
    the sigmoid parsed from its parameters, while its model string keeps only 6 digits of it."""
    value = (getattr(booster, "params", None) or {}).get("sigmoid")
    live = getattr(booster, "train_set", None) is not None
    if not live or value is None or _objective_name(model.meta["objective"]) not in _BINARY | _OVA:
        return model
    try:
        return replace(model, post_scale=lgbm_text.lightgbm_atof(str(value)))
    except ValueError:
        return model


def _record_options(booster, options: dict) -> dict:
    """A record keeps the whole model string; model_to_string() would stop at best_iteration."""
    if isinstance(booster, records.LightGBMBoosterRecord) and options.get("num_iteration") is None:
        return {**options, "num_iteration": booster.best_iteration}
    return options


def load_booster(obj, options: dict) -> ir.Model:
    options = _record_options(obj, options)
    parsed = lgbm_text.parse(_model_string(obj, options), budget=getattr(obj, "budget", None))
    model = build(parsed, options, source="lightgbm.Booster", version=_lightgbm_version())
    return _live_sigmoid(obj, model)


def _fitted_booster(obj):
    # the state every release since 2.x keeps; booster_ also wants `fitted_` (new in 3.x)
    record = vars(obj).get("_Booster")
    if record is not None:
        return record
    try:
        return obj.booster_
    except Exception as exc:  # LGBMNotFittedError
        raise InputError(f"{type(obj).__name__} is not fitted; call fit() before saving or "
                         "transpiling it") from exc


def _wrapper_model(obj, options: dict) -> ir.Model:
    booster = _fitted_booster(obj)
    options = _record_options(booster, options)
    parsed = lgbm_text.parse(_model_string(booster, options),
                             budget=getattr(booster, "budget", None))
    return build(parsed, options, source=f"lightgbm.{type(obj).__name__}",
                 version=_lightgbm_version())


def load_regressor(obj, options: dict) -> ir.Model:
    return _wrapper_model(obj, options)


def load_ranker(obj, options: dict) -> ir.Model:
    model = _wrapper_model(obj, options)
    return replace(model, task="ranking")


def load_classifier(obj, options: dict) -> ir.Model:
    """predict_proba: Booster.predict, with [1 - p, p] columns for two classes."""
    model = _wrapper_model(obj, options)
    found = vars(obj).get("_classes")   # kept by every release; classes_ wants 3.x's `fitted_`
    classes = tuple(c.item() if hasattr(c, "item") else c
                    for c in (obj.classes_ if found is None else found))
    k = model.raw.n_outputs
    if _objective_name(model.meta["objective"]) in _CUSTOM:
        # a callable objective is saved without one; predict_proba then returns raw scores
        return replace(model, task="classification", classes=classes,
                       output_kind="decision_function")
    if len(classes) > 2:
        if model.post not in ("softmax", "sigmoid") or k != len(classes):
            raise unsupported(obj, f"objective {model.meta['objective']!r} "
                                   f"for {len(classes)} classes")
        return replace(model, task="classification", classes=classes, output_kind="predict_proba")
    if k != 1 or model.post != "sigmoid":
        raise unsupported(obj, f"objective {model.meta['objective']!r} for two classes")
    return replace(model, post="binary_sigmoid", task="classification", classes=classes,
                   output_kind="predict_proba")


CLASSES = {
    "Booster": load_booster,
    "LGBMModel": load_regressor,
    "LGBMRegressor": load_regressor,
    "LGBMClassifier": load_classifier,
    "LGBMRanker": load_ranker,
}
