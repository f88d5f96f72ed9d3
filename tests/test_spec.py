"""One spec per exercise: the notebook's tests and grader/checks/<topic>.py test the same cases.

Each graded test cell of the lessons below keeps its cases as literals (``cases = [...]``,
``HIDDEN = [...]``, ...) in the source notebook; the checks file reads them with
``grader/common.cell_literals``. These tests fail when the two drift apart: a checks file that
stops reading a cell's literals, a literal the checks never read (a case only the notebook
tests), or a notebook cell that defines a literal but no longer loops over it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # grader/ is a package

from grader import common, verify  # noqa: E402

from course import notebook, source  # noqa: E402

#: Lessons whose checks take every case from the notebook. A checks file names the test cells it
#: leaves to the notebook alone in ``NOTEBOOK_ONLY`` (lesson 07's capstone, whose answer is a call of
#: the library the sandbox blocks).
LESSONS = ["01_bits_and_loops", "02_vectorized_packing", "03_ternary_quantization", "04_base3_packing",
           "05_mixed_checkpoints", "06_gpu_unpacking", "07_formats_in_the_wild"]


def test_cells(lesson: str) -> dict[str, str]:
    nb = notebook("solutions", lesson)
    return {common.grade_id(c): source(c) for c in nb["cells"] if common.nbgrader_meta(c).get("grade")}


test_cells.__test__ = False  # a helper, not a test


def literal_names(src: str) -> set[str]:
    names = set()
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            names.add(node.targets[0].id)
    return names


@pytest.mark.parametrize("lesson", LESSONS)
def test_checks_read_every_case_the_notebook_tests(lesson):
    checks = verify.load_checks(ROOT, lesson)
    common.SPEC_READS.clear()
    plan = checks.checks()
    read = {(cell, name) for les, cell, name in common.SPEC_READS if les == lesson}
    cells = test_cells(lesson)
    alone = set(getattr(checks, "NOTEBOOK_ONLY", ()))
    assert not alone & set(plan), f"{lesson}: {sorted(alone & set(plan))} are in NOTEBOOK_ONLY and checked too"
    assert set(plan) | alone == set(cells), f"{lesson}: checks cover {sorted(plan)} (notebook only: {sorted(alone)}), the notebook grades {sorted(cells)}"
    for cell, src in cells.items():
        if cell in alone:
            continue
        spec = literal_names(src) - {"answer"}
        assert spec, f"{lesson} {cell}: no literal cases: the notebook and the checks cannot share them"
        unread = {name for name in spec if (cell, name) not in read}
        assert not unread, f"{lesson} {cell}: literals {sorted(unread)} are tested by the notebook but not read by the checks"


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_literal_is_used_by_its_cell(lesson):
    for cell, src in test_cells(lesson).items():
        loaded = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        unused = literal_names(src) - loaded
        assert not unused, f"{lesson} {cell}: literals {sorted(unused)} are defined but never used by the notebook's tests"


def test_cell_literals_reads_without_running(tmp_path):
    # The function parses: a cell that would raise if run still yields its literals.
    lesson = "01_bits_and_loops"
    spec = common.cell_literals(lesson, "test_pack_weights")
    assert spec["BITS"] == (1, 2, 4, 8) and ([1, 0, 3, 2], 2, [177]) in spec["cases"]
    with pytest.raises(KeyError, match="has no literal 'NOPE'.*its literals"):
        spec["NOPE"]
    with pytest.raises(LookupError, match="0 cells with grade_id 'no_such_cell'"):
        common.cell_literals(lesson, "no_such_cell")


def test_no_division_rule_is_checked_on_the_source_where_it_cannot_be_redefined():
    checks = verify.load_checks(ROOT, "04_base3_packing")
    honest = "TABLE = [[v // 3**i % 3 - 1 for i in range(5)] for v in range(243)]\ndef unpack_trits_fast(p):\n    return p * 3 >> 8\n"
    assert checks.static_checks({"unpack_trits_fast": honest}) == {}
    sneaky = "def divisions(fn):\n    return []\n\ndef unpack_trits_fast(p):\n    return p // 3\n"
    assert "divides" in checks.static_checks({"unpack_trits_fast": sneaky})["test_unpack_trits_fast"]
    assert "does not parse" in checks.static_checks({"unpack_trits_fast": "def unpack_trits_fast(:"})["test_unpack_trits_fast"]
