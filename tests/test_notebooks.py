"""The lessons as nbgrader sees them: layout, sync with solutions/, hidden text, committed state.

Executing every solution notebook is nbval's job (`make test` runs `pytest --nbval-lax solutions`);
grading them is tests/test_grading.py's.
"""

import ast
import json
import re
import subprocess
import sys

import pytest

from course import LESSONS, ROOT, copy_course, nbgrader_meta, notebook, run, source

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


def test_every_lesson_has_a_source_and_a_release():
    assert LESSONS, "no lessons found in solutions/"
    for lesson in LESSONS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", lesson), lesson
        assert (ROOT / "lessons" / lesson / f"{lesson}.ipynb").is_file(), f"lessons/{lesson} is missing"
    assert sorted(p.name for p in (ROOT / "lessons").iterdir() if p.is_dir()) == LESSONS


def committed_notebooks():
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        paths = [ROOT / p for p in out.split()]
    except (OSError, subprocess.CalledProcessError):
        paths = []
    return paths or sorted(ROOT.glob("*/**/*.ipynb"))


def test_committed_notebooks_carry_no_outputs():
    dirty = []
    for path in committed_notebooks():
        try:
            nb = json.loads(path.read_text())
        except json.JSONDecodeError:
            assert "grader/samples/sample_malformed" in str(path), f"{path} is not valid JSON"
            continue  # that sample is broken on purpose
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            dirty.append(str(path.relative_to(ROOT)))
    assert not dirty, f"notebooks committed with outputs (clear them): {dirty}"


@pytest.mark.slow  # runs nbgrader generate_assignment on every lesson
def test_lessons_are_exactly_what_nbgrader_generates(tmp_path):
    course = copy_course(tmp_path, with_grader=False)
    for lesson in LESSONS:
        run([sys.executable, "-m", "nbgrader", "generate_assignment", lesson, "--force"], cwd=course)
        generated = json.loads((course / "lessons" / lesson / f"{lesson}.ipynb").read_text())
        assert generated == notebook("lessons", lesson), (
            f"lessons/{lesson} differs from `nbgrader generate_assignment {lesson}`: run `make lessons`"
        )


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_holds_no_solution_or_hidden_test_text(lesson):
    release = json.dumps(notebook("lessons", lesson))
    assert "BEGIN SOLUTION" not in release and "HIDDEN TESTS" not in release
    secret = []
    for cell in notebook("solutions", lesson)["cells"]:
        for block in HIDDEN.findall(source(cell)) + SOLUTION.findall(source(cell)):
            secret += [line.strip() for line in block.splitlines() if len(line.strip()) > 12]
    leaked = [line for line in secret if json.dumps(line)[1:-1] in release]
    assert not leaked, f"lessons/{lesson} shows solution or hidden-test lines: {leaked[:5]}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_graded_cells_end_with_assert(lesson):
    # nbgrader takes a graded cell's numeric output as partial credit: a bare expression at the
    # end of a test cell would give points for a wrong answer.
    for kind in ("solutions", "lessons"):
        for cell in notebook(kind, lesson)["cells"]:
            meta = nbgrader_meta(cell)
            if meta.get("grade") and not meta.get("solution"):
                assert meta.get("points", 0) > 0, f"{lesson}/{meta['grade_id']} has no points"
                code = HIDDEN.sub(lambda m: m.group(1), source(cell))
                last = ast.parse(code).body[-1]
                while isinstance(last, (ast.For, ast.If, ast.With)):
                    last = last.body[-1]
                assert isinstance(last, ast.Assert), f"{kind}/{lesson}/{meta['grade_id']} does not end with assert"


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_has_a_stub_in_the_release(lesson):
    answers = [c for c in notebook("lessons", lesson)["cells"] if nbgrader_meta(c).get("solution")]
    assert answers, f"{lesson} has no exercises"
    for cell in answers:
        assert "raise NotImplementedError()" in source(cell), nbgrader_meta(cell)["grade_id"]


def test_sample_submissions_are_up_to_date():
    result = subprocess.run([sys.executable, "grader/make_samples.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
