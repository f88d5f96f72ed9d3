"""Grade every submission end to end: autograde -> feedback -> CSV, then print the grade table.

    python grader/grade.py              # grade what is in grader/submitted/
    python grader/grade.py --samples    # first copy grader/samples/ in (what `make grade` runs)

Run from the repository root (the nbgrader course directory). nbgrader does the grading; this
script only runs its commands in order for every lesson that has a source notebook, and never
stops the batch because one student's notebook fails.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"
SUBMITTED = GRADER / "submitted"
SAMPLES = GRADER / "samples"
CSV_PATH = GRADER / "grades.csv"


def lessons() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))


def nbgrader(*args: str) -> None:
    # nbgrader runs alembic in a subprocess: this interpreter's bin/ must come first on PATH.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "nbgrader", *args]
    print("$ nbgrader " + " ".join(args), flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def copy_samples() -> None:
    """Copy the sample submissions into grader/submitted/, replacing earlier copies of the samples only."""
    for student in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        for assignment in sorted(p for p in student.iterdir() if p.is_dir()):
            target = SUBMITTED / student.name / assignment.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(assignment, target)


def print_table(path: Path) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: (r["student_id"], r["assignment"]))
    print(f"\n{'student':<24} {'lesson':<28} {'score':>7} / max")
    for r in rows:
        print(f"{r['student_id']:<24} {r['assignment']:<28} {float(r['score']):>7.1f} / {float(r['max_score']):.0f}")
    print(f"\n{len(rows)} grades written to {path.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", action="store_true", help="grade the sample submissions in grader/samples/ too")
    parser.add_argument("lessons", nargs="*", help="lessons to grade (default: every lesson in solutions/)")
    args = parser.parse_args(argv)
    chosen = args.lessons or lessons()
    unknown = sorted(set(chosen) - set(lessons()))
    if unknown:
        parser.error(f"unknown lesson(s) {unknown}; lessons are {lessons()}")
    if args.samples:
        copy_samples()
    if not SUBMITTED.is_dir() or not any(SUBMITTED.iterdir()):
        print("No submissions in grader/submitted/. Collect some (see README), or run `make grade` for the samples.")
        return 1

    for lesson in chosen:
        # Registers the lesson and its graded cells in the gradebook. The release goes to a scratch
        # folder so lessons/ (the committed student version) is never rewritten by grading.
        nbgrader("generate_assignment", lesson, "--force", "--CourseDirectory.release_directory=grader/release")
        nbgrader("autograde", lesson, "--create", "--force")
        nbgrader("generate_feedback", lesson, "--force")
    nbgrader("export", f"--to={CSV_PATH}")
    print_table(CSV_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
