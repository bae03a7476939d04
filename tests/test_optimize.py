"""Optimization passes: before/after pairs, and the outputs never change."""
import numpy as np

from transpiler import ir
from transpiler.optimize import PASSES, run
from transpiler.optimize.prune import merge_equal_leaves


def model(tree, n_features=2):
    ens = ir.Ensemble(trees=(tree,), n_outputs=1, base_score=(0.0,))
    return ir.Model(n_features=n_features, raw=ens)


def test_split_with_equal_leaves_becomes_a_leaf():
    # x0 <= 0 ? (x1 <= 1 ? 5 : 5) : 7   ->   x0 <= 0 ? 5 : 7
    before = ir.make_tree([0, 1, -1, -1, -1], [0.0, 1.0, 0, 0, 0], [1, 3, -1, -1, -1],
                          [2, 4, -1, -1, -1], [False, True, False, False, False],
                          [[0], [0], [7.0], [5.0], [5.0]])
    after = merge_equal_leaves(model(before)).raw.trees[0]
    assert after.feature.tolist() == [0, -1, -1]
    assert after.left.tolist() == [1, -1, -1] and after.right.tolist() == [2, -1, -1]
    assert after.leaf_value[:, 0].tolist() == [0.0, 5.0, 7.0]


def test_collapses_bottom_up_to_a_single_leaf():
    before = ir.make_tree([0, 1, -1, -1, -1], [0.0, 1.0, 0, 0, 0], [1, 3, -1, -1, -1],
                          [2, 4, -1, -1, -1], [False] * 5, [[0], [0], [5.0], [5.0], [5.0]])
    after = merge_equal_leaves(model(before)).raw.trees[0]
    assert after.n_nodes == 1 and after.leaf_value.tolist() == [[5.0]]


def test_different_leaves_are_kept_and_the_model_is_returned_as_is():
    tree = ir.make_tree([0, -1, -1], [0.5, 0, 0], [1, -1, -1], [2, -1, -1], [True, False, False],
                        [[0], [1.0], [2.0]])
    m = model(tree)
    assert merge_equal_leaves(m) is m


def test_passes_keep_every_output():
    rng = np.random.default_rng(0)
    tree = ir.make_tree([0, 1, 1, -1, -1, -1, -1], [0.0, 1.0, -1.0, 0, 0, 0, 0],
                        [1, 3, 5, -1, -1, -1, -1], [2, 4, 6, -1, -1, -1, -1],
                        [True, False, True, False, False, False, False],
                        [[0], [0], [0], [1.0], [1.0], [2.0], [3.0]])
    m = model(tree)
    rows = rng.normal(size=(500, 2))
    rows[::5, 0] = np.nan
    rows[::7, 1] = np.nan
    assert np.array_equal(ir.evaluate(run(m, PASSES), rows), ir.evaluate(m, rows))
