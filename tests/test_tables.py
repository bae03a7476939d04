"""The node records every table layout reads: walked here in Python, both formats must reach the
leaf the IR evaluator reaches, on fixture rows (thresholds and their float neighbours, NaN,
zeros, one row per leaf), for float32 and float64 models with every kind of split."""
import math

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

import transpiler
import transpiler.emit
from transpiler.emit import tables as tbl
from transpiler.ir.evaluate import ZERO_THRESHOLD, category_member, tree_leaves
from transpiler.verify.rows import fixture_rows
from test_ir_emit import MODELS


def walk(t: tbl.Tables, rec, fmt: str, root: int, x, ens) -> int:
    """The leaf offset a generated walker finds, from the records alone."""
    dl, zm, cat, swapped = (t.flag(name) for name in tbl.FLAGS)
    shift = t.feature_bits + len(tbl.FLAGS)
    n = root
    while True:
        w = int(rec["word"][n])
        if w < 0:
            return ~w
        v, thr = x[w & t.feature_mask], float(rec["thr"][n])
        if w & zm and (math.isnan(v) or abs(v) <= ZERO_THRESHOLD):
            left = bool(w & dl)
        elif w & cat:
            off = int(thr)
            words = tuple(int(b) for b in t.cat_bits[off + 1:off + 1 + t.cat_bits[off]])
            left = bool(w & dl) if math.isnan(v) else category_member(words, v, ens.cat_negative)
        else:
            left = (v <= thr if ens.op == "<=" else v < thr) or (math.isnan(v) and bool(w & dl))
        n += 1 if left != bool(w & swapped) else (w >> shift if fmt == "narrow" else int(rec["jump"][n]))


def forest():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 4)) * np.array([1.0, 1e-3, 1e6, 3.0])
    y = X[:, 0] + np.sin(X[:, 3]) + rng.normal(scale=0.1, size=400)
    return transpiler.to_ir(RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y))


CASES = {"rf_float32": forest, **{name: (lambda m=m: m) for name, m in MODELS.items()
                                  if not hasattr(m.raw, "coef") and hasattr(m.raw, "trees")}}


@pytest.mark.parametrize("name", sorted(CASES))
def test_records_walk_to_the_evaluators_leaf(name):
    model = CASES[name]()
    ens = model.raw
    t = tbl.flatten(ens)
    X = fixture_rows(model)
    if ens.feature_type == "float32":
        X = X.astype(np.float32).astype(np.float64)
    formats = ["wide"] + ([tbl.node_format(t, True)] if ens.feature_type == "float32" else [])
    want = np.stack([tree.leaf_value[tree_leaves(tree, X, ens)] for tree in ens.trees], axis=1)
    for fmt in set(formats):
        rec = tbl.records(t, fmt, ens.op)
        for r, x in enumerate(X):
            got = [t.leaf_value[walk(t, rec, fmt, int(root), x, ens):][:t.width]
                   for root in t.roots]
            np.testing.assert_array_equal(np.stack(got), want[r], err_msg=f"{fmt} row {r}")


def test_narrow_records_need_room_for_the_right_distance():
    t = tbl.flatten(forest().raw)
    assert tbl.node_format(t, True) == "narrow" and tbl.node_format(t, False) == "wide"
    t.feature_bits = 31 - len(tbl.FLAGS) - 1       # leaves one bit for the distance
    assert tbl.node_format(t, True) == "wide"


def test_float32_thresholds_split_float32_inputs_as_float64_ones_do():
    rng = np.random.default_rng(0)
    thr = np.concatenate([rng.normal(size=2000) * 10.0 ** rng.integers(-30, 30, 2000),
                          [0.0, -0.0, np.inf, -np.inf, 3.5e38, -3.5e38, 1e-45, 0.1, 1 / 3]])
    with np.errstate(over="ignore"):
        x = thr.astype(np.float32)
    for op in ("<=", "<"):
        f = tbl.float32_thresholds(thr, op)
        for p in (x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))):
            expect = p.astype(np.float64) <= thr if op == "<=" else p.astype(np.float64) < thr
            got = p <= f if op == "<=" else p < f
            np.testing.assert_array_equal(got, expect)


def unpack(data: bytes, n: int, dtype: np.dtype) -> np.ndarray:
    """The reading side of tables.packed_records, written out plainly."""
    out = np.zeros(n, dtype=dtype)
    raw = out.view(np.uint8).reshape(n, dtype.itemsize)
    word = dtype.fields["word"][1]
    pos = 0
    for first in range(0, n, tbl.LEAF_GROUP):
        mask = int.from_bytes(data[pos:pos + 4], "little")
        pos += 4
        for j in range(min(tbl.LEAF_GROUP, n - first)):
            size = 4 if mask >> j & 1 else dtype.itemsize
            at = word if mask >> j & 1 else 0
            raw[first + j, at:at + size] = np.frombuffer(data[pos:pos + size], dtype=np.uint8)
            pos += size
    assert pos == len(data)
    return out


@pytest.mark.parametrize("name", ["rf_float32", "categorical_strict", "zero_missing"])
def test_packed_records_keep_every_split_and_leaf_word(name):
    """C's text drops the leaves' dead fields; what it keeps rebuilds every split whole and
    every leaf's word, which is all a walk reads of a leaf."""
    model = CASES[name]()
    t = tbl.flatten(model.raw)
    for fmt in ("wide", "narrow"):
        rec = tbl.records(t, fmt, model.raw.op)
        got = unpack(tbl.packed_records(rec), len(rec), rec.dtype)
        splits = rec["word"] >= 0
        assert 0 < splits.sum() < len(rec)
        np.testing.assert_array_equal(got[splits], rec[splits])
        np.testing.assert_array_equal(got["word"], rec["word"])
        assert not got[~splits]["thr"].any()


def test_identical_leaf_values_are_stored_once():
    t = tbl.flatten(forest().raw)
    leaves = t.word[t.word < 0]
    assert len(np.unique(t.leaf_value)) == len(t.leaf_value) < len(leaves)


def test_c_refuses_tables_of_another_model(tmp_path):
    """model_data.c from another model: the checked call says -2 and the others write NaN,
    instead of walking tables they were not generated with."""
    import subprocess
    from support import require_toolchain
    require_toolchain("c")
    model = forest()
    mine = transpiler.emit.emit(model, "c", layout="table")
    other = transpiler.emit.emit(CASES["le_f64"](), "c", layout="table")
    for name, text in dict(mine, **{"model_data.c": other["model_data.c"]}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text("""#include <stdio.h>
#include "model.h"
int main(void) {
    double x[4] = {0, 0, 0, 0}, out[1] = {0}, rows[8] = {0}, outs[2] = {0, 0};
    int rc = score_checked(x, 4, out, 1);
    score(x, out);
    score_batch(rows, 2, outs);
    printf("%d %d %d\\n", rc, out[0] != out[0], outs[1] != outs[1]);
    return 0;
}
""")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", "drv", "main.c", "model.c",
                    "model_data.c", "-lm"], cwd=tmp_path, check=True)
    assert subprocess.run(["./drv"], cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout.split() == ["-2", "1", "1"]


def test_c_tables_in_several_parts_give_the_same_numbers(monkeypatch):
    """Large tables are split over model_data_1.c, model_data_2.c, ...: the decoder crosses the
    parts and the scores stay bit-identical to the evaluator's."""
    from support import require_toolchain
    from transpiler.emit import c
    from transpiler.ir.evaluate import evaluate
    from transpiler.verify.harness import Case, names_for, run_cases
    require_toolchain("c")
    monkeypatch.setattr(c, "TEXT_PART", 64)
    model = forest()
    files = transpiler.emit.emit(model, "c", layout="table", **names_for("c", "parts"))
    assert {"model_data_1.c", "model_data_2.c"} <= set(files) and "model_data.c" not in files
    X = fixture_rows(model)
    got = run_cases("c", [Case("parts", files, model.n_features, model.n_outputs, X)])["parts"]
    np.testing.assert_array_equal(got, evaluate(model, X))


def _fitted(name):
    """A small fitted model of one loader family, with a skewed split so children differ."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = X[:, 0] * 2 + (X[:, 1] > 0.7)
    if name == "forest":
        return RandomForestRegressor(n_estimators=2, max_depth=5, random_state=0).fit(X, y)
    if name == "gbr":
        from sklearn.ensemble import GradientBoostingRegressor
        return GradientBoostingRegressor(n_estimators=2, random_state=0).fit(X, y)
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor
        return HistGradientBoostingRegressor(max_iter=2).fit(X, y)
    if name == "xgboost":
        return pytest.importorskip("xgboost").XGBRegressor(n_estimators=2, max_depth=4).fit(X, y)
    return pytest.importorskip("lightgbm").LGBMRegressor(n_estimators=2, num_leaves=8, verbose=-1).fit(X, y)


@pytest.mark.parametrize("name", ["forest", "gbr", "hgb", "xgboost", "lightgbm"])
def test_loaders_keep_training_counts_and_tables_put_the_busier_child_next(name):
    ens = transpiler.to_ir(_fitted(name)).raw
    assert all(tree.count is not None for tree in ens.trees)
    busier_right = 0
    for tree in ens.trees:
        split = tree.left >= 0
        busier_right += int((tree.count[tree.right[split]] > tree.count[tree.left[split]]).sum())
    t = tbl.flatten(ens)
    swapped = int(((t.word >= 0) & (t.word & t.flag("swapped") != 0)).sum())
    assert swapped == busier_right > 0 and t.has_swaps


def _chains(n_trees, depth=12, seed=0):
    """Tables of n_trees chains deeper than heaps go, each split with a threshold of its own."""
    from test_ir_emit import chain_tree
    from transpiler import ir
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(n_trees):
        t = chain_tree(depth)
        thr = np.where(t.left >= 0, rng.normal(size=t.n_nodes), 0.0)
        trees.append(ir.make_tree(t.feature, thr, t.left, t.right, t.default_left, t.leaf_value))
    return tbl.flatten(ir.Ensemble(trees=tuple(trees), n_outputs=1, base_score=(0.0,)))


def test_auto_layout_takes_code_for_deep_trees_up_to_what_compilers_build():
    from transpiler.emit.java import Java
    small, deep = _chains(2), _chains(200)              # 50 and 5,000 nodes
    assert tbl.choose_layout(small, "auto") == "code" and tbl.choose_layout(deep, "auto") == "code"
    assert tbl.choose_layout(deep, "auto", code_ok=False) == "table"
    assert tbl.choose_layout(deep, "table") == "table"
    assert tbl.choose_layout(_chains(3000), "auto") == "table"     # 75,000 nodes
    heap = tbl.flatten(transpiler.to_ir(RandomForestRegressor(n_estimators=60, max_depth=6, random_state=0)
                                        .fit(*_regression())).raw)
    assert tbl.heap_eligible(heap) and heap.n_nodes > tbl.CODE_MAX_NODES
    assert tbl.choose_layout(heap, "auto") == "table"             # complete trees walk fastest as heaps
    # javac: 1,700 chains hold 20,400 distinct thresholds, two constants each: too many.
    assert Java().code_fits(deep) and not Java().code_fits(_chains(1700))


def _regression():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4))
    return X, X[:, 0] + X[:, 1] ** 2
