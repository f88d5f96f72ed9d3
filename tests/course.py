"""Helpers for the tests that treat this repository as an nbgrader course."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from grader.common import topic  # noqa: E402,F401  (lesson folder -> topic name)

LESSONS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))


def notebook(kind: str, lesson: str) -> dict:
    """The committed notebook of `lesson` in `solutions` or `lessons`."""
    return json.loads((ROOT / kind / lesson / f"{lesson}.ipynb").read_text())


def source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def copy_course(dest: Path, with_grader: bool = True) -> Path:
    """A throwaway copy of the course directory, so tests never write into the checkout."""
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for folder in ("solutions", "lessons"):
        shutil.copytree(ROOT / folder, dest / folder)
    # the library's source too, as in a clone (grading must leave it unchanged; the kernels import
    # the installed one)
    shutil.copytree(ROOT / "lowbit_ref", dest / "lowbit_ref", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "grader").mkdir(exist_ok=True)
    for script in (ROOT / "grader").glob("*.py"):  # nbgrader_config.py imports grader.plugins
        shutil.copy(script, dest / "grader")
    if with_grader:
        for folder in ("answers", "checks", "samples"):
            shutil.copytree(ROOT / "grader" / folder, dest / "grader" / folder)
    return dest


def run(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with this interpreter's bin/ first on PATH (nbgrader calls alembic by name)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {}))
    env.pop("NBGRADER_EXECUTION", None)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result
