"""The whole grading pipeline on the sample submissions: exact scores, feedback, CSV.

Runs `grader/grade.py --samples` (what `make grade` runs) in a throwaway copy of the course,
two students at a time. The samples cover honest work (correct, blank, partly wrong, noisy),
broken notebooks (raising, looping forever, killing the kernel, malformed, missing, tests
deleted or edited), cheating, and hostile code that attacks the grading machine (lesson 01's
sample_hostile_*, run in the sandbox of grader/bwrap.py); each has its exact expected score in
grader/answers/. After grading, nothing outside the submissions may have changed.
"""

import csv
import hashlib
import importlib.util
import os
import re
import shutil
import socket
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from course import LESSONS, ROOT, copy_course, run, topic

pytestmark = pytest.mark.slow


def expected_scores(lesson):
    spec = importlib.util.spec_from_file_location("answers", ROOT / "grader" / "answers" / f"{topic(lesson)}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED


EXPECTED = {(lesson, student): score for lesson in LESSONS for student, score in expected_scores(lesson).items()}


def digest(folder, skip=()):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part in skip for part in p.relative_to(folder).parts)}


# What grading itself writes in the course; everything else must be byte-identical afterwards.
RUNTIME = {"submitted", "autograded", "feedback", "release", "gradebook.db", "grades.csv", ".nbgrader.log", "__pycache__"}


class Listener:
    """A loopback port the hostile sample is told about (LOWBIT_HOSTILE_PORT); counts connections."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.port, self.connections, self.open = self.socket.getsockname()[1], 0, True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.open:
            try:
                conn, _ = self.socket.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.open = False
        self.thread.join()
        self.socket.close()


def hostile_processes() -> list[str]:
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            if b"lowbit-hostile-daemon" in (proc / "cmdline").read_bytes():
                alive.append(proc.name)
        except OSError:
            pass
    return alive


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    before = digest(course, skip=RUNTIME)
    listener = Listener()
    try:
        # 20 s per cell: a setup cell (torch, scikit-learn, matplotlib) takes about 5 s on an idle
        # 2-core machine, and make test runs another test process beside this one; the samples that
        # loop forever pay it once each. LOWBIT_TEST_CELL_TIMEOUT raises it on a busier machine.
        timeout = os.environ.get("LOWBIT_TEST_CELL_TIMEOUT", "20")
        result = run([sys.executable, "grader/grade.py", "--samples", "--jobs", "2", "--timeout", timeout], cwd=course,
                     timeout=1800, env={"LOWBIT_HOSTILE_PORT": str(listener.port)})
        alive = hostile_processes()
    finally:
        listener.close()
    return course, result.stdout, {"before": before, "connections": listener.connections, "alive": alive}


def feedback(course, lesson, student):
    return (course / "grader" / "feedback" / student / lesson / f"{lesson}.html").read_text()


def test_every_sample_gets_its_exact_score(graded):
    course, stdout, _ = graded
    with open(course / "grader" / "grades.csv", newline="") as f:
        rows = {(r["assignment"], r["student_id"]): float(r["score"]) for r in csv.DictReader(f)}
    assert {key: rows.get(key) for key in EXPECTED} == EXPECTED
    # nbgrader lists every student under every lesson; where a student submitted nothing, 0
    assert all(score == 0 for key, score in rows.items() if key not in EXPECTED)
    assert "sample_correct" in stdout and "grades written to grader/grades.csv" in stdout
    assert stdout.rstrip().endswith("0 submissions could not be graded")


def test_each_submission_gets_feedback_that_explains_its_grade(graded):
    course, _, _ = graded
    for lesson, student in EXPECTED:
        assert "Score" in feedback(course, lesson, student), f"no feedback for {student}/{lesson}"
    lesson = "01_bits_and_loops"
    assert "not a readable notebook" in feedback(course, lesson, "sample_malformed")
    assert "No notebook named" in feedback(course, lesson, "sample_missing") and "README.txt" in feedback(course, lesson, "sample_missing")
    assert "kernel stopped" in feedback(course, lesson, "sample_os_exit")
    assert "kernel stopped" in feedback(course, lesson, "sample_kill")
    assert "CellTimeoutError" in feedback(course, lesson, "sample_forever")
    for cheat in FOOLS_THE_KERNEL:
        assert "independent check" in feedback(course, lesson, cheat), cheat
    # what each hostile sample's own output says happened, as its feedback shows it
    for student, said in HOSTILE_SAYS.items():
        assert said in feedback(course, lesson, student), (student, said)


HOSTILE_SAYS = {
    "sample_hostile_grader": "could not rewrite grader/checks/loop.py",
    "sample_hostile_library": "could not rewrite the library",
    "sample_hostile_gradebook": "gradebook not writable",
    "sample_hostile_daemon": "started a background process",
    "sample_hostile_classmate": "classmate's notebook: not visible",
    "sample_hostile_network": "no connection",
    "sample_hostile_solutions": "solutions/: not visible",
    "sample_hostile_forkbomb": "fork refused after",
    "sample_hostile_memory": "allocate memory",
    "sample_hostile_disk": "disk full after",
}


def test_hostile_code_changes_nothing_outside_its_submission(graded):
    course, _, seen = graded
    # the course (grader/, lowbit_ref/, solutions/, lessons/ ...) is byte-identical: a git status
    assert digest(course, skip=RUNTIME) == seen["before"]
    # every submission, the attacked classmate's included, is byte-identical to the sample
    assert digest(course / "grader" / "submitted") == digest(ROOT / "grader" / "samples")
    # the gradebook holds only what grading wrote
    with sqlite3.connect(course / "grader" / "gradebook.db") as db:
        assert db.execute("SELECT count(*) FROM student WHERE id = 'intruder'").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM grade WHERE extra_credit IS NOT NULL AND extra_credit != 0").fetchone() == (0,)
    assert seen["connections"] == 0, "a submission reached a loopback port of the grading machine"
    assert seen["alive"] == [], "a process a submission started outlived grading"
    page = feedback(course, "01_bits_and_loops", "sample_hostile_forkbomb")
    refused_after = int(re.search(r"fork refused after (\d+) processes", page).group(1))
    assert refused_after < 256  # the process limit (grade.py --processes) stopped it


# Cheats that pass nbgrader's own tests in the kernel; the others (an object subclassing Tensor,
# a module shadowed from the submission folder) already fail there.
FOOLS_THE_KERNEL = {"sample_cheat_helpers", "sample_cheat_equal", "sample_cheat_reference"}
# Lesson 04's answer that divides and redefines the notebook's `divisions` probe: its tests pass in
# the kernel; the check parses the submitted cell.
FOOLS_THE_PROBE = {"sample_hides_division"}


def test_the_independent_check_catches_the_cheats_and_nothing_else(graded):
    _, stdout, _ = graded
    caught = {line.split(":")[0].strip() for line in stdout.splitlines() if "independent check failed" in line}
    assert caught == FOOLS_THE_KERNEL | FOOLS_THE_PROBE


def test_blank_gets_zero_on_every_graded_cell_and_correct_gets_full_marks(graded):
    # The blank sample is the release as students receive it: every graded cell, hidden tests
    # included, must fail on its stubs, or that cell could not tell right from wrong.
    from nbgrader.api import Gradebook

    course, _, _ = graded
    with Gradebook(f"sqlite:///{course / 'grader' / 'gradebook.db'}") as gb:
        for lesson in LESSONS:
            for grade in gb.find_submission_notebook(lesson, lesson, "sample_blank").grades:
                assert grade.score == 0, f"{lesson}/{grade.name} gives {grade.score} points to the blank stub"
            for grade in gb.find_submission_notebook(lesson, lesson, "sample_correct").grades:
                assert grade.score == grade.max_score, f"{lesson}/{grade.name}: {grade.score}/{grade.max_score} for the solution"


def test_grading_leaves_submissions_lessons_and_gradebook_intact(graded):
    course, _, _ = graded
    assert digest(course / "grader" / "submitted") == digest(ROOT / "grader" / "samples")
    assert digest(course / "lessons") == digest(ROOT / "lessons")
    with sqlite3.connect(course / "grader" / "gradebook.db") as db:  # written by two processes at once
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_zip_of_downloads_is_collected_into_submitted(tmp_path):
    import zipfile

    course = copy_course(tmp_path, with_grader=False)
    archive = course / "grader" / "downloaded" / "01_bits_and_loops" / "archive"
    archive.mkdir(parents=True)
    sample = (ROOT / "grader" / "samples" / "sample_correct" / "01_bits_and_loops" / "01_bits_and_loops.ipynb").read_bytes()
    with zipfile.ZipFile(archive / "downloads.zip", "w") as z:
        z.writestr("lesson01/alice_01_bits_and_loops.ipynb", sample)
        z.writestr("lesson01/bob.smith_01_bits_and_loops.ipynb", sample)
    run([sys.executable, "-m", "nbgrader", "zip_collect", "01_bits_and_loops"], cwd=course)
    collected = sorted(p.relative_to(course / "grader" / "submitted") for p in (course / "grader" / "submitted").rglob("*.ipynb"))
    assert [str(p) for p in collected] == [
        "alice/01_bits_and_loops/01_bits_and_loops.ipynb",
        "bob.smith/01_bits_and_loops/01_bits_and_loops.ipynb",
    ]
    assert all((course / "grader" / "submitted" / p).read_bytes() == sample for p in collected)


def test_no_sandbox_grades_a_trusted_class_and_warns_twice(tmp_path):
    course = copy_course(tmp_path, with_grader=False)
    target = course / "grader" / "submitted" / "alice" / "01_bits_and_loops"
    shutil.copytree(ROOT / "grader" / "samples" / "sample_correct" / "01_bits_and_loops", target)
    result = run([sys.executable, "grader/grade.py", "--no-sandbox", "--jobs", "1", "--timeout", "30", "01_bits_and_loops"], cwd=course)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("WARNING: --no-sandbox") and sum(line.startswith("WARNING: --no-sandbox") for line in lines) == 2
    assert "alice" in result.stdout and " 8.0 / 8" in result.stdout
    assert lines[-1] == "0 submissions could not be graded"
