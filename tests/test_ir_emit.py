"""Hand-built IR models that exercise every node rule and post-processor: the evaluator and
the compiled Go, C and Java must agree on rows aimed at each rule's edges."""
from dataclasses import replace

import numpy as np
import pytest

import transpiler.emit
from transpiler import ir
from transpiler.verify.harness import Case, names_for, run_cases
from support import LANGS, assert_close, require_toolchain


def stump_tree(feature, threshold, left_value, right_value, *, default_left=False, target=0,
               zero_missing=False, categories=None, dtype="float64"):
    return ir.make_tree([feature, -1, -1], [threshold, 0, 0], [1, -1, -1], [2, -1, -1],
                        [default_left, False, False], [[0.0], [left_value], [right_value]],
                        target=target, zero_missing=[zero_missing, False, False],
                        categories=None if categories is None else [categories, None, None],
                        leaf_dtype=dtype)


def deeper_tree(dtype="float64"):
    # feature 0 <= 0.5 ? (feature 1 <= -1 ? a : b) : c, NaN default left at the root.
    return ir.make_tree([0, 1, -1, -1, -1], [0.5, -1.0, 0, 0, 0], [1, 3, -1, -1, -1],
                        [2, 4, -1, -1, -1], [True, False, False, False, False],
                        [[0], [0], [0.25], [-1.5], [3.0]], leaf_dtype=dtype)


def chain_tree(depth=12, dtype="float64"):
    """A split per level down the right side, deeper than heap layouts go, so tables walk it
    node by node: level i tests feature i % 3 against a threshold the rows hit exactly."""
    thresholds = [0.5, -0.5, 0.0, 1.0, -1.0, 0.1, 3.0, 40.0, 2.7, -0.9, 1e10, 63.0]
    n = 2 * depth + 1
    feature, threshold, left, right = [-1] * n, [0.0] * n, [-1] * n, [-1] * n
    default_left, values = [False] * n, [[0.0]] * n
    for i in range(depth):
        node = 2 * i
        feature[node], threshold[node] = i % 3, thresholds[i % len(thresholds)]
        left[node], right[node], default_left[node] = node + 1, node + 2, i % 2 == 0
        values[node + 1] = [float(i + 1)]
    values[n - 1] = [-7.0]
    return ir.make_tree(feature, threshold, left, right, default_left, values, leaf_dtype=dtype)


def swapped(m):
    """m with training counts that make every split's right child the busier one, so every
    table and code layout lays the right child next."""
    def busy_right(t):
        count = np.zeros(t.n_nodes)
        count[t.right[t.left >= 0]] = 1.0
        return replace(t, count=ir.frozen_array(count, np.float64))
    return replace(m, raw=replace(m.raw, trees=tuple(busy_right(t) for t in m.raw.trees)))


def ensemble(trees, n_out, **kw):
    return ir.Ensemble(trees=tuple(trees), n_outputs=n_out, base_score=kw.pop("base", (0.0,) * n_out), **kw)


def model(raw, post="identity", n_features=3, scale=1.0):
    return ir.Model(n_features=n_features, raw=raw, post=post, post_scale=scale)


# Categories {1, 3, 40} as two words.
CATS = (int((1 << 1) | (1 << 3)), int(1 << 8))
F32 = dict(feature_type="float32", op="<", accumulate="float32")

MODELS = {
    "le_f64": model(ensemble([deeper_tree(), stump_tree(2, 0.0, 1.0, 2.0)], 1)),
    "lt_f32": model(ensemble([deeper_tree("float32"), stump_tree(2, 0.1, 1.5, 2.5, dtype="float32")],
                             1, base=(0.5,), **F32)),
    "zero_missing": model(ensemble([stump_tree(0, -0.5, 1.0, 2.0, zero_missing=True, default_left=True),
                                    stump_tree(1, 0.5, 10.0, 20.0, zero_missing=True)], 1)),
    "categorical_trunc": model(ensemble([stump_tree(0, 0, 1.0, 2.0, categories=CATS),
                                         stump_tree(1, 0, 4.0, 8.0, categories=CATS, default_left=True)], 1)),
    "categorical_strict": model(ensemble([stump_tree(0, 0, 1.0, 2.0, categories=CATS, dtype="float32")],
                                         1, cat_negative="strict", **F32)),
    "mean_multi": model(ensemble([stump_tree(0, 0.5, 1.0, 2.0, target=0), stump_tree(1, 0.5, 3.0, 4.0, target=1),
                                  stump_tree(2, 0.5, 5.0, 6.0, target=1)], 2, aggregation="mean")),
    "linear_leaves": model(ensemble([ir.make_tree([0, -1, -1], [0.5, 0, 0], [1, -1, -1], [2, -1, -1],
                                                  [True, False, False], [[0], [1.0], [2.0]],
                                                  linear=([0, 0.5, -1.0], [0, 0, 2, 3], [1, 2, 1], [2.0, -0.5, 4.0]))], 1)),
}
MODELS["chain_f64"] = model(ensemble([chain_tree(), deeper_tree()], 1))
MODELS["chain_f32"] = model(ensemble([chain_tree(dtype="float32")], 1, **F32))
# Five trees too deep for heaps: rows without NaN walk the first four side by side without
# branches (one of them a lone leaf, so a walk can start at its leaf), the fifth alone.
LONE_LEAF = ir.make_tree([-1], [0.0], [-1], [-1], [False], [[3.5]])
MODELS["lanes_f64"] = model(ensemble([chain_tree(), LONE_LEAF, chain_tree(13), deeper_tree(),
                                      stump_tree(2, 0.0, 1.0, 2.0)], 1))
MODELS["lanes_f32"] = model(ensemble([chain_tree(dtype="float32"), deeper_tree("float32"),
                                      chain_tree(11, "float32"), stump_tree(2, 0.1, 1.5, 2.5, dtype="float32"),
                                      chain_tree(13, "float32")], 1, **F32))
for name in ("chain_f64", "chain_f32", "le_f64", "zero_missing", "categorical_trunc",
             "categorical_strict", "linear_leaves", "lanes_f64", "lanes_f32"):
    MODELS[f"{name}_swapped"] = swapped(MODELS[name])
POSTS_F64 = ["sigmoid", "exp", "softplus", "signed_square", "hinge"]
for post in POSTS_F64:
    MODELS[f"post_{post}"] = model(ensemble([deeper_tree()], 1), post, scale=1.0 if post != "sigmoid" else 0.7)
for post in ["softmax", "ovr_normalize", "modified_huber", "argmax"]:
    MODELS[f"post_{post}"] = model(ensemble([stump_tree(0, 0.5, 1.0, -2.0, target=0), stump_tree(1, 0.5, 0.5, 3.0, target=1),
                                             stump_tree(2, 0.0, -0.5, 0.75, target=2)], 3), post)
for post in ["binary_sigmoid", "binary_modified_huber"]:
    MODELS[f"post_{post}"] = model(ensemble([deeper_tree()], 1), post)
for post in ["sigmoid", "softmax", "exp", "binary_sigmoid"]:
    k = 3 if post == "softmax" else 1
    trees = [stump_tree(i, 0.5, 0.1 * (i + 1), -0.3, target=i, dtype="float32") for i in range(k)]
    MODELS[f"post_f32_{post}"] = model(ensemble(trees, k, base=(0.25,) * k, **F32), post)
MODELS["linear"] = model(ir.Linear(coef=ir.frozen_array([[0.5, -2.0, 1e-3], [1.5, 0.0, -0.25]], np.float64),
                                   intercept=ir.frozen_array([0.1, -3.0], np.float64)), "softmax")

EDGE = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 0.1, 1e-36, -1e-36, 3.0, 40.0, 41.0, 2.7, -0.9, -1.0, 1e10,
        np.nan, np.nextafter(0.5, 1), np.nextafter(0.5, 0), float(np.float32(0.1)),
        float(np.nextafter(np.float32(0.1), np.float32(1))), 2.0**31, -2.0**31, 63.0, 64.0]


def rows(n_features=3):
    grid = np.array(np.meshgrid(*[EDGE] * 2)).reshape(2, -1).T
    out = np.zeros((len(grid) * 2, n_features))
    out[:len(grid), :2] = grid
    out[len(grid):, 1:3] = grid
    return out


ROWS = rows()
_built = {}


def build(lang, entry="single"):
    if (lang, entry) not in _built:
        require_toolchain(lang)
        cases = []
        for name, m in MODELS.items():
            for layout in ("code", "table"):
                key = f"{name}_{layout}"
                files = transpiler.emit.emit(m, lang, layout=layout, **names_for(lang, key))
                cases.append(Case(key, files, m.n_features, m.n_outputs, ROWS))
        _built[lang, entry] = run_cases(lang, cases, entry=entry)
    return _built[lang, entry]


def tolerance(m):
    if m.post in ("identity", "hinge", "argmax", "signed_square", "modified_huber", "binary_modified_huber"):
        return 0.0
    if isinstance(m.raw, ir.Ensemble) and m.raw.accumulate == "float32":
        return 2.0 ** -23   # 1 float32 ulp: exp differs between math libraries
    return 4e-16


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", MODELS)
def test_compiled_matches_evaluator(name, lang):
    m = MODELS[name]
    ref = ir.evaluate(m, ROWS)
    out = build(lang)
    for layout in ("code", "table"):
        assert_close(out[f"{name}_{layout}"], ref, tolerance(m), f"{name} {lang} {layout}")


@pytest.mark.parametrize("lang", LANGS)
def test_batch_entry_point_equals_single_rows(lang):
    single, batch = build(lang), build(lang, "batch")
    for key in single:
        assert np.array_equal(single[key], batch[key], equal_nan=True), key


def test_evaluator_rules():
    # Spot checks of the documented semantics, independent of any emitter.
    m = MODELS["categorical_trunc"]
    ev = lambda m, x: ir.evaluate(m, np.array([x + [0.0] * (3 - len(x))]))[0, 0]  # noqa: E731
    assert ev(m, [1.0, 0.0]) == 1.0 + 8.0      # member left; 0 is no member
    assert ev(m, [40.0, 3.0]) == 1.0 + 4.0     # second word
    assert ev(m, [-0.5, np.nan]) == 2.0 + 4.0  # trunc(-0.5) = 0: no member; NaN default left
    assert ev(m, [2.0**31, 64.0]) == 2.0 + 8.0
    m = MODELS["zero_missing"]
    assert ev(m, [1e-36, 1e-36]) == 1.0 + 20.0  # |x| <= 1e-35: default direction
    assert ev(m, [0.0, 0.7]) == 1.0 + 20.0
    m = MODELS["le_f64"]
    assert ev(m, [0.5, -1.0, 0.0]) == -1.5 + 1.0  # on the thresholds: "<=" goes left
    assert ev(m, [np.nan, 5.0, np.nan]) == 3.0 + 2.0  # NaN: default left, then default right


@pytest.mark.parametrize("lang", LANGS)
def test_code_in_blocks_gives_the_same_numbers(lang, monkeypatch):
    """The code layout with its trees two to a block, and in C each block in a file of its own
    (categorical models keep theirs in model.c): several blocks, a partial last one, C's batches
    in order of the busiest feature and one-output sums all give the evaluator's numbers, row by
    row and in batches."""
    from transpiler.emit import c, tables
    require_toolchain(lang)
    monkeypatch.setattr(tables, "TREE_BLOCK", 2)
    monkeypatch.setattr(c, "CODE_PART", 1)
    names = [n for n, m in MODELS.items() if isinstance(m.raw, ir.Ensemble)]
    cases, parts = [], {}
    for name in names:
        m = MODELS[name]
        files = transpiler.emit.emit(m, lang, layout="code", **names_for(lang, name))
        parts[name] = sum(f.startswith("model_trees_") for f in files)
        sorted_rows = "qsort(order" in files.get("model.c", "")
        cases.append(Case(name, files, m.n_features, m.n_outputs, ROWS))
        if lang == "c":     # several blocks: batches take rows in order of a feature (NaN last)
            assert sorted_rows == (len(m.raw.trees) > 2), name
    if lang == "c":
        assert parts["lanes_f64"] == 3 and parts["categorical_trunc"] == 0 and parts["le_f64"] == 1
    for entry in ("single", "batch"):
        out = run_cases(lang, cases, entry=entry)
        for name in names:
            m = MODELS[name]
            assert_close(out[name], ir.evaluate(m, ROWS), tolerance(m), f"{name} {lang} {entry}")


@pytest.mark.parametrize("lang", LANGS)
def test_heap_groups_and_remainders_give_the_same_numbers(lang):
    """29 trees laid out as heaps: C walks them twelve at a time and the other five one by one,
    rows through groups in batches; on rows with NaN (a batch's default-direction walk) and
    without, row by row and in batches, in float64 and float32."""
    require_toolchain(lang)
    trees64 = [deeper_tree() if i % 3 == 0 else stump_tree(i % 3, 0.25 * i - 2.0, float(i), -0.5 * i,
                                                           default_left=i % 2 == 1) for i in range(29)]
    trees32 = [stump_tree(i % 3, 0.1 * i - 1.0, 0.5 * i, -float(i), dtype="float32") for i in range(29)]
    finite = ROWS[~np.isnan(ROWS).any(axis=1)]
    cases, expected = [], {}
    for kind, m in [("f64", model(ensemble(trees64, 1))), ("f32", model(ensemble(trees32, 1, **F32)))]:
        for rows_kind, rows_ in [("nan", ROWS), ("finite", finite)]:
            key = f"heap29_{kind}_{rows_kind}"
            files = transpiler.emit.emit(m, lang, layout="table", **names_for(lang, key))
            cases.append(Case(key, files, m.n_features, m.n_outputs, rows_))
            expected[key] = ir.evaluate(m, rows_)
    for entry in ("single", "batch"):
        out = run_cases(lang, cases, entry=entry)
        for key, ref in expected.items():
            assert_close(out[key], ref, 0.0, f"{key} {lang} {entry}")
