"""What the grader scripts share: reading notebook cells and loading per-lesson Python files."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

# One name per lesson: a lesson's library module (lowbit_ref/<topic>), widget module
# (lowbit_ref/widgets/<topic>.py), tests (tests/test_<topic>*.py), grading checks
# (grader/checks/<topic>.py) and sample answers (grader/answers/<topic>.py) share its topic.
TOPICS = {
    "01_bits_and_loops": "loop",
    "02_vectorized_packing": "uintx",
    "03_ternary_quantization": "ternary",
    "04_base3_packing": "base3",
    "05_mixed_checkpoints": "checkpoint",
    "06_gpu_unpacking": "kernels",
    "07_formats_in_the_wild": "formats",
}


def topic(lesson: str) -> str:
    """The topic name of a lesson folder (see TOPICS)."""
    try:
        return TOPICS[lesson]
    except KeyError:
        raise KeyError(f"lesson {lesson!r} has no topic in grader/common.py TOPICS; known: {sorted(TOPICS)}") from None


def load_module(path: Path, name: str):
    """Import a per-lesson file (grader/answers/, grader/checks/) by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cell_source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


# --- one spec per exercise ----------------------------------------------------------------------
# A test cell's cases are written once, as literals (`NAME = [...]`) in the source notebook's test
# cell, hidden tests included. The notebook's tests loop over them inside the student's kernel;
# grader/checks/<topic>.py reads the same literals here, in the grading process, without running
# the cell (ast.literal_eval), and builds its independent calls from them.

SPEC_READS: set = set()  # (lesson, grade_id, name) read by cell_literals: tests/test_spec.py checks coverage


def cell_literals(lesson: str, test_cell: str) -> dict:
    """The top-level ``NAME = <literal>`` assignments of the test cell ``test_cell`` (grade_id) of
    ``solutions/<lesson>/<lesson>.ipynb``, evaluated with ``ast.literal_eval`` (never executed).
    Assignments whose value is not a literal are skipped; a later one of a name wins."""
    import ast
    import json

    path = Path(__file__).resolve().parents[1] / "solutions" / lesson / f"{lesson}.ipynb"
    cells = [c for c in json.loads(path.read_text())["cells"] if grade_id(c) == test_cell]
    if len(cells) != 1:
        raise LookupError(f"{path} has {len(cells)} cells with grade_id {test_cell!r}, expected 1")
    found = {}
    # grade.py checks students in threads, and CPython 3.11's parser is not thread-safe
    # (python/cpython gh-106905: "AST constructor recursion depth mismatch"): parse one at a time.
    with _PARSE_LOCK:
        for node in ast.parse(cell_source(cells[0])).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    found[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return _Recorded(found, lesson, test_cell)


_PARSE_LOCK = threading.Lock()


class _Recorded(dict):
    """A dict that notes which names were read (for the drift test)."""

    def __init__(self, data, lesson, test_cell):
        super().__init__(data)
        self._where = (lesson, test_cell)

    def __getitem__(self, name):
        if name not in self:
            raise KeyError(f"test cell {self._where[1]!r} of {self._where[0]} has no literal {name!r} "
                           f"(a top-level `{name} = <literal>`); its literals: {sorted(self)}")
        SPEC_READS.add((*self._where, name))
        return super().__getitem__(name)
