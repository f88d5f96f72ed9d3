"""Write the sample submissions in grader/samples/ from the lessons and grader/answers/.

    python grader/make_samples.py           # rewrite grader/samples/
    python grader/make_samples.py --check   # exit 1 if grader/samples/ is out of date

Each lesson has a file grader/answers/<topic>.py (see common.TOPICS) defining

    EXPECTED = {"sample_correct": 8.0, "sample_blank": 0.0, ...}   # exact total score
    ANSWERS = {"sample_partial": {"<grade_id>": "<cell source>", ...}, ...}

Every sample starts as the student release (lessons/), i.e. blank. "sample_correct" gets the
solution cells of solutions/ with nbgrader's markers removed; the others get the cells their
ANSWERS entry names (any cell, test cells too: that is how a tampered test is made). Keys that
start with "@" shape the submission instead of a cell:

    "@solutions": True          start from sample_correct's answers instead of blank ones
    "@delete": ["<grade_id>"]   remove these cells
    "@files": {"path": "text"}  extra files next to the notebook (say, a module that shadows one)
    "@raw": "text"              the notebook file holds this text instead (malformed JSON)
    "@missing": True            no notebook at all (the "@files" are still written)

Regenerate after editing a lesson: the samples carry its locked cells.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python grader/make_samples.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from grader.common import TOPICS, cell_source, grade_id, load_module, nbgrader_meta, topic  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "grader" / "samples"
ANSWERS_DIR = ROOT / "grader" / "answers"


def load_answers(lesson: str):
    return load_module(ANSWERS_DIR / f"{topic(lesson)}.py", f"answers_{lesson}")


def solution_text(source: str) -> str:
    """A solution cell as a student who solved it would leave it: markers gone, code kept."""
    lines = [l for l in source.splitlines() if l.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
    return "\n".join(lines)


def build(lesson: str) -> dict[str, dict[str, str]]:
    """Sample submissions for one lesson: student id -> {file path: text}."""
    release = json.loads((ROOT / "lessons" / lesson / f"{lesson}.ipynb").read_text())
    source = json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    solutions = {
        grade_id(c): solution_text(cell_source(c))
        for c in source["cells"]
        if nbgrader_meta(c).get("solution")
    }
    answers = load_answers(lesson)
    samples = {"sample_correct": solutions, "sample_blank": {}, **answers.ANSWERS}
    missing = set(answers.EXPECTED) ^ set(samples)
    if missing:
        raise SystemExit(f"grader/answers/{topic(lesson)}.py: EXPECTED and the samples disagree on {sorted(missing)}")

    submissions = {}
    for student, spec in samples.items():
        cells = {k: v for k, v in spec.items() if not k.startswith("@")}
        if spec.get("@solutions"):
            cells = {**solutions, **cells}
        nb = copy.deepcopy(release)
        unknown = (set(cells) | set(spec.get("@delete", ()))) - {grade_id(c) for c in nb["cells"]}
        if unknown:
            raise SystemExit(f"grader/answers/{topic(lesson)}.py: {student} names unknown cells {sorted(unknown)}")
        for cell in nb["cells"]:
            if grade_id(cell) in cells:
                cell["source"] = cells[grade_id(cell)].strip("\n")
        nb["cells"] = [c for c in nb["cells"] if grade_id(c) not in spec.get("@delete", ())]
        files = dict(spec.get("@files", {}))
        if not spec.get("@missing"):
            files[f"{lesson}.ipynb"] = spec.get("@raw", json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        submissions[student] = files
    return submissions


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    lessons = sorted(lesson for lesson, name in TOPICS.items() if (ANSWERS_DIR / f"{name}.py").exists())
    for lesson in lessons:
        for student, files in build(lesson).items():
            folder = SAMPLES / student / lesson
            on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()
            if check:
                if on_disk != set(files) or any((folder / name).read_text() != text for name, text in files.items()):
                    stale.append(str(folder.relative_to(ROOT)))
                continue
            if folder.exists():
                shutil.rmtree(folder)
            for name, text in files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(text)
            if not files:
                folder.mkdir(parents=True, exist_ok=True)
    if stale:
        print("Out of date (run `python grader/make_samples.py`):\n  " + "\n  ".join(stale))
        return 1
    print(("Checked" if check else "Wrote") + f" samples for {len(lessons)} lesson(s) in grader/samples/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
