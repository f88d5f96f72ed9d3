"""What the grader scripts share: reading notebook cells and loading per-lesson Python files."""

from __future__ import annotations

import importlib.util
from pathlib import Path


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
