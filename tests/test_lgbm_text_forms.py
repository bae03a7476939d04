"""LightGBM text files in the forms LightGBM 4.x itself loads (v2 to v4, optional lines and
sections, line endings, feature_infos forms, a constant model), each hand-made from a saved
model and read both by lightgbm (the reference) and by our parser; and the damaged forms that
must stay errors because reading them would give wrong code."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from transpiler import ir
from transpiler.errors import InputError
from transpiler.load import load

DATA = os.path.join(os.path.dirname(__file__), "data", "lgbm_diabetes_small.txt")
ROWS = np.random.default_rng(5).normal(scale=0.08, size=(200, 10))
ROWS[::7, 3] = np.nan


def original() -> str:
    with open(DATA) as fh:
        return fh.read()


def trees_and_rest(text):
    start, end = text.index("Tree=0"), text.index("end of trees")
    return text[:start], text[start:end], text[end + len("end of trees\n"):]


def without_tree_sizes(text):
    return re.sub(r"tree_sizes=[^\n]*\n", "", text)


def v2_treelite(text):
    """v2 with tree_sizes and no "end of trees": the trees run into "feature importances:"
    (as in treelite's test fixtures)."""
    head, trees, rest = trees_and_rest(text.replace("version=v4", "version=v2"))
    rest = rest.replace("feature_importances:", "feature importances:")
    return head + trees + rest


def no_end_line(text):
    head, trees, rest = trees_and_rest(without_tree_sizes(text))
    return head + trees + rest


def only_trees(text):
    """Nothing after the trees: no "end of trees", importances or parameters."""
    head, trees, _ = trees_and_rest(without_tree_sizes(text))
    return head + trees


def trailer_sections(text):
    head, trees, _ = trees_and_rest(text)
    return (head + trees + "end of trees\n\nfeature importances:\nColumn_2=3\nColumn_8=1\n\n"
            "parameters:\n[boosting: gbdt]\n[objective: regression]\nend of parameters\n\n"
            'pandas_categorical:[["a", "b"], [1, 2, 3]]\n')


def crlf(text):
    return without_tree_sizes(text).replace("\n", "\r\n")


def feature_infos(form):
    def edit(text):
        infos = {"none": "none", "range": "[-1:2.5]", "cats": "1:2:3:7", "one_cat": "-1",
                 "neg_cats": "-1:0:4"}[form]
        return re.sub(r"feature_infos=[^\n]*", "feature_infos=" + " ".join([infos] * 10), text)
    return edit


def spaced_infos(text):
    """Runs of spaces between words: LightGBM's Split skips the empty words."""
    return re.sub(r"feature_infos=[^\n]*", "feature_infos=none  none none none none none "
                  "none none none   none ", text)


FORMS = {
    "v2_tree_sizes_no_end": v2_treelite,
    "no_tree_sizes": without_tree_sizes,
    "no_tree_sizes_no_end": no_end_line,
    "only_trees": only_trees,
    "trailer_sections": trailer_sections,
    "crlf": crlf,
    "infos_none": feature_infos("none"),
    "infos_range": feature_infos("range"),
    "infos_cats": feature_infos("cats"),
    "infos_one_cat": feature_infos("one_cat"),
    "infos_neg_cats": feature_infos("neg_cats"),
    "infos_spaced": spaced_infos,
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_forms_lightgbm_loads_read_the_same(form, tmp_path):
    text = FORMS[form](original())
    path = tmp_path / "m.txt"
    path.write_bytes(text.encode())
    got = load(str(path))
    want = load(DATA)
    assert len(got.raw.trees) == 3
    version = f'"format_version": "{got.meta["format_version"]}"'
    assert (json.dumps(ir.dump(got), sort_keys=True).replace(version, '"format_version": "v4"')
            == json.dumps(ir.dump(want), sort_keys=True))
    lgb = pytest.importorskip("lightgbm")
    if form != "crlf":  # lightgbm reads CRLF from files, not from model_str
        ref = lgb.Booster(model_str=text).predict(ROWS)
    else:
        ref = lgb.Booster(model_file=str(path)).predict(ROWS)
    np.testing.assert_array_equal(ir.evaluate(got, ROWS)[:, 0], ref)


CONSTANT = """tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective=regression
feature_names=a b c
feature_infos=none none none
tree_sizes=244

Tree=0
num_leaves=1
num_cat=0
split_feature=
split_gain=
threshold=
decision_type=
left_child=
right_child=
leaf_value=152.13348416289594
leaf_weight=
leaf_count=
internal_value=
internal_weight=
internal_count=
is_linear=0
shrinkage=1


end of trees

feature_importances:

parameters:
[boosting: gbdt]
end of parameters

pandas_categorical:null
"""


def test_a_single_constant_tree(tmp_path):
    path = tmp_path / "const.txt"
    path.write_text(CONSTANT)
    model = load(str(path))
    rows = np.array([[0.0, 1.0, np.nan], [5.0, -3.0, 2.0]])
    np.testing.assert_array_equal(ir.evaluate(model, rows)[:, 0], [152.13348416289594] * 2)
    lgb = pytest.importorskip("lightgbm")
    np.testing.assert_array_equal(lgb.Booster(model_str=CONSTANT).predict(rows),
                                  [152.13348416289594] * 2)


def _cut_inside_last_tree(text):
    head, trees, _ = trees_and_rest(text)
    return head + trees[:trees.rindex("internal_weight=")]  # required fields all present


BROKEN = {
    "tree_sizes_lists_more": (lambda t: t.replace("tree_sizes=474 484 480",
                                                  "tree_sizes=474 484 480 480"),
                              "tree_sizes lists 4"),
    "tree_sizes_lists_fewer": (lambda t: t.replace("tree_sizes=474 484 480",
                                                   "tree_sizes=474 484"), "tree_sizes lists 2"),
    "cut_inside_last_tree": (_cut_inside_last_tree, "truncated in tree 2"),
    "cut_inside_last_tree_no_sizes": (lambda t: _cut_inside_last_tree(without_tree_sizes(t)),
                                      "truncated in tree 2"),
    "infos_short": (lambda t: re.sub(r"feature_infos=[^\n]*", "feature_infos=none none", t),
                    "feature_infos"),
    "no_infos": (lambda t: re.sub(r"feature_infos=[^\n]*\n", "", t), "feature_infos"),
    "header_only": (lambda t: trees_and_rest(t)[0].replace("tree_sizes=474 484 480\n", ""),
                    "ends before its trees"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_damaged_forms_stay_errors(name, tmp_path):
    edit, needle = BROKEN[name]
    path = tmp_path / "bad.txt"
    path.write_text(edit(original()))
    with pytest.raises(InputError) as exc:
        load(str(path))
    msg = str(exc.value)
    assert "\n" not in msg and needle in msg and str(path) in msg


def test_lines_read_in_pieces_are_the_lines_of_the_whole_text():
    """The reader sees a file in pieces: a line end split between pieces (CR | LF), a line
    spread over several, and the final line end give the lines str.split gives on the whole."""
    import random

    from transpiler.load.budget import Budget
    from transpiler.load.lgbm_text import _Lines

    def whole(text):
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return lines[:-1] if lines[-1] == "" else lines

    def in_pieces(text, size):
        lines = _Lines(iter([text[i:i + size] for i in range(0, len(text), size)]),
                       Budget.unbounded("text"))
        return list(iter(lines.take, None))

    rng = random.Random(1)
    for _ in range(3000):
        text = "".join(rng.choice("ab\r\n ") for _ in range(rng.randint(0, 14)))
        for size in (1, 2, 3, 100):
            assert in_pieces(text, size) == whole(text), (text, size)
    original_text = original()
    assert in_pieces(original_text, 1000) == whole(original_text)
