"""The whole grading pipeline on the sample submissions: exact scores, feedback, CSV.

Runs `grader/grade.py --samples` (what `make grade` runs) in a throwaway copy of the course.
"""

import csv
import hashlib
import importlib.util
import sys

import pytest

from course import LESSONS, ROOT, copy_course, run

pytestmark = pytest.mark.slow


def expected_scores(lesson):
    spec = importlib.util.spec_from_file_location("answers", ROOT / "grader" / "answers" / f"{lesson}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED


def digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    result = run([sys.executable, "grader/grade.py", "--samples"], cwd=course, timeout=1800)
    return course, result.stdout


def test_every_sample_gets_its_exact_score(graded):
    course, stdout = graded
    with open(course / "grader" / "grades.csv", newline="") as f:
        got = {(r["assignment"], r["student_id"]): float(r["score"]) for r in csv.DictReader(f)}
    want = {(lesson, student): score for lesson in LESSONS for student, score in expected_scores(lesson).items()}
    assert got == want
    assert "sample_correct" in stdout and "grades written to grader/grades.csv" in stdout


def test_each_submission_gets_feedback(graded):
    course, _ = graded
    for lesson in LESSONS:
        for student in expected_scores(lesson):
            page = course / "grader" / "feedback" / student / lesson / f"{lesson}.html"
            assert page.is_file(), f"no feedback for {student}/{lesson}"
            assert "Score:" in page.read_text() or "score" in page.read_text().lower()


def test_blank_gets_zero_on_every_graded_cell_and_correct_gets_full_marks(graded):
    # The blank sample is the release as students receive it: every graded cell, hidden tests
    # included, must fail on its stubs, or that cell could not tell right from wrong.
    from nbgrader.api import Gradebook

    course, _ = graded
    with Gradebook(f"sqlite:///{course / 'grader' / 'gradebook.db'}") as gb:
        for lesson in LESSONS:
            for grade in gb.find_submission_notebook(lesson, lesson, "sample_blank").grades:
                assert grade.score == 0, f"{lesson}/{grade.name} gives {grade.score} points to the blank stub"
            for grade in gb.find_submission_notebook(lesson, lesson, "sample_correct").grades:
                assert grade.score == grade.max_score, f"{lesson}/{grade.name}: {grade.score}/{grade.max_score} for the solution"


def test_grading_leaves_submissions_and_lessons_untouched(graded):
    course, _ = graded
    assert digest(course / "grader" / "submitted") == digest(ROOT / "grader" / "samples")
    assert digest(course / "lessons") == digest(ROOT / "lessons")
