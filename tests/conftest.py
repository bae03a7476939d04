import functools
import inspect
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

LANGS = ("go", "c", "java")

# Tests that build many models (a whole catalogue per language in one toolchain call), fuzz, or
# run services: `slow`. `pytest -m "not slow"` is the fast part (README: Tests). Marked here by
# function name, so the test files need no edits; a test that grows slow belongs on this list.
SLOW = frozenset("""
test_compiled_matches_sklearn test_compiled_matches_xgboost test_compiled_matches_lightgbm
test_compiled_matches_evaluator test_generated_code_matches test_compiled_single_leaf_trees_and_softplus_tail
test_random_ensembles_agree_with_the_evaluator test_mutated_native_files_fail_cleanly
test_code_in_blocks_gives_the_same_numbers test_batch_entry_point_equals_single_rows
test_heap_groups_and_remainders_give_the_same_numbers test_deep_tree_compiles_and_matches
test_c_tables_in_several_parts_give_the_same_numbers test_thousand_deep_trees_load
test_plugin_host_serves_and_swaps test_loader_matches_generated_code_bit_for_bit
test_loader_service_swaps_model_files test_zoo_covers_every_supported_class
test_every_supported_model_loads_from_pickle_and_joblib test_skops_files test_python_dash_m
test_score_and_batch_from_many_goroutines_under_race
""".split())
# Files whose tests are slow as a whole: hostile inputs each in a process under limits, every
# release's fixtures built in every language, every name tried, every compiler configuration.
SLOW_FILES = frozenset({"test_hostile.py", "test_old_versions.py", "test_old_xgboost.py",
                        "test_names.py", "test_c_builds.py", "test_libm.py"})
# Files whose every test builds for one language.
FILE_LANG = {"test_go_plugin.py": "go"}
# A test without a language parameter that still builds one: require_toolchain("c"), ...
_NAMED_LANG = re.compile(r"""(?:require_toolchain|run_cases|build_and_read|built)\(\s*["'](go|c|java)["']""")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden/ from the current generator (read the diff before committing)")


@functools.lru_cache(maxsize=None)
def _langs_in_source(fn) -> frozenset:
    try:
        return frozenset(_NAMED_LANG.findall(inspect.getsource(fn)))
    except (OSError, TypeError):
        return frozenset()


def pytest_collection_modifyitems(config, items):
    """Markers by parameter, file and name: go / c / java for tests that build that language,
    slow for the SLOW functions."""
    for item in items:
        langs = set(_langs_in_source(getattr(item, "function", None)))
        params = getattr(getattr(item, "callspec", None), "params", {})
        langs.update(v for v in params.values() if isinstance(v, str) and v in LANGS)
        if item.path.name in FILE_LANG:
            langs.add(FILE_LANG[item.path.name])
        for lang in sorted(langs):
            item.add_marker(getattr(pytest.mark, lang))
        if item.originalname in SLOW or item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")
