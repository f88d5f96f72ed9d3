"""Every `>>>` example in lowbit_ref's docstrings runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import lowbit_ref

# kernels needs triton; widgets need a notebook front end to be worth showing.
SKIP = {"lowbit_ref.kernels"}
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(lowbit_ref.__path__, "lowbit_ref.") if m.name not in SKIP and "widgets" not in m.name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
