"""grader/verify.py (and grader/sandbox.py, the process it runs answers in) on a small notebook:
what the independent check passes, what it fails, and what it says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from course import ROOT  # noqa: F401  (puts the course on sys.path)

from grader import verify  # noqa: E402
from grader.verify import call, raises, value  # noqa: E402

pytestmark = pytest.mark.slow  # starts the checking process (imports torch): a few seconds

CHECKS = SimpleNamespace(
    PRELUDE="import torch",
    BLOCKED=("lowbit_ref",),
    checks=lambda: {
        "test_double": [call("double", torch.tensor([1, 2], dtype=torch.uint8), expect=torch.tensor([2, 4], dtype=torch.uint8))],
        "test_checks": [raises("double", "not a tensor", error="TypeError")],
        "test_answer": [value("answer", 42)],
    },
)


def notebook(**cells: str) -> dict:
    """A notebook of nbgrader solution cells, plus a test cell that must be ignored."""
    solution = [{"cell_type": "code", "source": src, "metadata": {"nbgrader": {"solution": True, "grade_id": gid}}}
                for gid, src in cells.items()]
    test = {"cell_type": "code", "source": "assert True", "metadata": {"nbgrader": {"grade": True, "grade_id": "test_double"}}}
    return {"cells": solution + [test]}


GOOD = dict(
    double="def double(x):\n    if not isinstance(x, torch.Tensor):\n        raise TypeError('x')\n    return x * 2",
    answer="answer = 42",
)


@pytest.fixture(scope="module")
def sandbox():
    box = verify.Sandbox(verify.blocked_of(CHECKS))
    yield box
    box.close()


def test_right_answers_pass(sandbox):
    assert verify.verify_notebook(notebook(**GOOD), CHECKS, 10, sandbox) == {"test_double": None, "test_checks": None, "test_answer": None}


def test_wrong_dtype_fails_with_the_difference(sandbox):
    cells = dict(GOOD, double="def double(x):\n    return (x * 2).to(torch.int64)")
    verdicts = verify.verify_notebook(notebook(**cells), CHECKS, 10, sandbox)
    assert "expected tensor([2, 4], dtype=torch.uint8" in verdicts["test_double"] and "torch.int64" in verdicts["test_double"]
    assert verdicts["test_checks"] == "double('not a tensor') should raise TypeError, but raised AttributeError"


def test_the_reference_is_blocked_and_patching_torch_does_not_leak(sandbox):
    cells = dict(GOOD, double="from lowbit_ref.loop import pack_weights as double")
    verdicts = verify.verify_notebook(notebook(**cells), CHECKS, 10, sandbox)
    assert "NameError" in verdicts["test_double"]
    # the next job runs in a fresh child: a cell that broke torch.equal does not reach it
    verify.verify_notebook(notebook(**dict(GOOD, answer="torch.equal = lambda a, b: True\nanswer = 42")), CHECKS, 10, sandbox)
    assert verify.verify_notebook(notebook(**GOOD), CHECKS, 10, sandbox)["test_double"] is None


def test_a_cell_that_kills_the_process_costs_only_what_needs_it(sandbox):
    cells = dict(GOOD, answer="import os\nos._exit(3)")
    verdicts = verify.verify_notebook(notebook(**cells), CHECKS, 10, sandbox)
    assert verdicts["test_double"] is None and verdicts["test_checks"] is None
    assert "answer" in verdicts["test_answer"]


def test_a_cell_past_the_time_limit_is_stopped(sandbox):
    cells = dict(GOOD, answer="while True:\n    pass")
    verdicts = verify.verify_notebook(notebook(**cells), CHECKS, 2, sandbox)
    assert verdicts["test_double"] is None and verdicts["test_answer"] is not None


def test_exercise_of_maps_each_test_to_the_solution_before_it():
    nb = notebook(**GOOD)
    assert verify.exercise_of(nb) == {"test_double": "answer"}
