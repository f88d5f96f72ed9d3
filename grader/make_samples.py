"""Write the sample submissions in grader/samples/ from the lessons and grader/answers/.

    python grader/make_samples.py           # rewrite grader/samples/
    python grader/make_samples.py --check   # exit 1 if grader/samples/ is out of date

Each lesson has a file grader/answers/<lesson>.py defining

    EXPECTED = {"sample_correct": 8.0, "sample_blank": 0.0, ...}   # exact total score
    ANSWERS = {"sample_partial": {"<grade_id>": "<cell source>", ...}, ...}

Every sample starts as the student release (lessons/), i.e. blank. "sample_correct" gets the
solution cells of solutions/ with nbgrader's markers removed; the others get the cells their
ANSWERS entry names. Regenerate after editing a lesson: the samples carry its locked cells.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "grader" / "samples"
ANSWERS_DIR = ROOT / "grader" / "answers"


def load_answers(lesson: str):
    path = ANSWERS_DIR / f"{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"answers_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def solution_text(source: str) -> str:
    """A solution cell as a student who solved it would leave it: markers gone, code kept."""
    lines = [l for l in source.splitlines() if l.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
    return "\n".join(lines)


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def build(lesson: str) -> dict[str, dict]:
    """Sample notebooks for one lesson: student id -> notebook JSON."""
    release = json.loads((ROOT / "lessons" / lesson / f"{lesson}.ipynb").read_text())
    source = json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    solutions = {
        _grade_id(c): solution_text(_source(c))
        for c in source["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    answers = load_answers(lesson)
    samples = {"sample_correct": solutions, "sample_blank": {}, **answers.ANSWERS}
    missing = set(answers.EXPECTED) ^ set(samples)
    if missing:
        raise SystemExit(f"grader/answers/{lesson}.py: EXPECTED and the samples disagree on {sorted(missing)}")

    notebooks = {}
    for student, cells in samples.items():
        nb = copy.deepcopy(release)
        unknown = set(cells) - {_grade_id(c) for c in nb["cells"]}
        if unknown:
            raise SystemExit(f"grader/answers/{lesson}.py: {student} answers unknown cells {sorted(unknown)}")
        for cell in nb["cells"]:
            if _grade_id(cell) in cells:
                cell["source"] = cells[_grade_id(cell)].strip("\n")
        notebooks[student] = nb
    return notebooks


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    lessons = sorted(p.stem for p in ANSWERS_DIR.glob("*.py"))
    for lesson in lessons:
        for student, nb in build(lesson).items():
            path = SAMPLES / student / lesson / f"{lesson}.ipynb"
            text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path.relative_to(ROOT)))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if stale:
        print("Out of date (run `python grader/make_samples.py`):\n  " + "\n  ".join(stale))
        return 1
    print(("Checked" if check else "Wrote") + f" samples for {len(lessons)} lesson(s) in grader/samples/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
