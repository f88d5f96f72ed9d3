"""What the grader scripts share: reading notebook cells and loading per-lesson Python files."""

from __future__ import annotations

import importlib.util
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
