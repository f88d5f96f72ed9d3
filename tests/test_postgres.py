"""A PostgreSQL gradebook and grading in shards: `grade.py --db URL`, `--shard K/N`, `--finish`.

A throw-away PostgreSQL server (Debian's `postgresql`: initdb + pg_ctl on a temporary data
directory, listening on a unix socket only) is started once per session and stopped at the end.
To stay within `make test`'s time budget the sharded run grades four of lesson 01's samples
(honest, blank, partial, a cheat only the independent check catches) and compares
the CSV rows with the scores of the SQLite run: tests/test_grading.py grades every sample with
one SQLite `grade.py` run and checks its CSV against the same exact scores (grader/answers/).
"""

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course import ROOT, copy_course, topic

sys.path.insert(0, str(ROOT / "grader"))
sys.path.insert(0, str(ROOT / "tools"))
import gradebook  # noqa: E402
import pgserver  # noqa: E402

LESSON = "01_bits_and_loops"
# honest, blank, partly wrong, and a cheat only the independent check catches: both shards get two
SUBSET = ["sample_correct", "sample_blank", "sample_partial", "sample_cheat_reference"]


@pytest.fixture(scope="session")
def postgres():
    """A function giving the URL of a fresh, empty database on a throw-away server."""
    if pgserver.bindir() is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl not found: `make system-deps` (apt-get install postgresql) installs them")
    pytest.importorskip("psycopg", reason="the driver: pip install 'psycopg[binary]' (the test extra)")
    with pgserver.PgServer() as server:
        yield server.new_database


def course_with_subset(dest):
    dest.mkdir(exist_ok=True)
    course = copy_course(dest)
    for student in SUBSET:
        shutil.copytree(ROOT / "grader" / "samples" / student / LESSON, course / "grader" / "submitted" / student / LESSON)
    return course


def grades(course):
    with open(course / "grader" / "grades.csv", newline="") as f:
        return sorted((r["assignment"], r["student_id"], r["raw_score"], r["score"], r["max_score"]) for r in csv.DictReader(f))


def grade(course, *args, check=True):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop(gradebook.ENV, None)
    env.pop("NBGRADER_EXECUTION", None)
    return subprocess.Popen([sys.executable, "grader/grade.py", *args], cwd=course, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process, timeout=900):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def expected_scores():
    """The exact scores of the SQLite run (tests/test_grading.py checks its CSV against these)."""
    spec = importlib.util.spec_from_file_location("answers", ROOT / "grader" / "answers" / f"{topic(LESSON)}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED


@pytest.mark.slow
def test_two_shards_on_postgresql_give_the_scores_of_the_sqlite_run(postgres, tmp_path):
    url = postgres()
    shards = [gradebook.share(SUBSET, k, 2) for k in (1, 2)]
    assert all(shards), f"the subset must give both shards work: {shards}"

    sharded = course_with_subset(tmp_path / "sharded")
    # no sample here loops forever, so the default cell time limit costs nothing and keeps a
    # loaded machine from timing out honest cells
    runs = [grade(sharded, "--db", url, "--shard", f"{k}/2", "--jobs", "1", LESSON) for k in (1, 2)]
    logs = []
    for process in runs:
        code, out, err = finished(process)
        assert code == 0, out[-3000:] + err[-3000:]
        logs.append(out[-2000:])
    assert not (sharded / "grader" / "grades.csv").exists(), "a shard must not write the CSV"
    assert not (sharded / "grader" / "gradebook.db").exists(), "--db: nothing goes to the SQLite file"

    code, out, err = finished(grade(sharded, "--db", url, "--finish"))
    assert code == 0, out[-3000:] + err[-3000:]
    # One grade.py run with SQLite gives these rows for these students (grader/answers, checked
    # against the SQLite CSV by tests/test_grading.py): the same raw score, score and maximum.
    expected = expected_scores()
    assert grades(sharded) == sorted((LESSON, s, f"{expected[s]:.1f}", f"{expected[s]:.1f}", "8.0") for s in SUBSET), logs
    assert "independent check" in feedback_of(sharded, "sample_cheat_reference")
    for student in SUBSET:
        assert "Score" in feedback_of(sharded, student)
    assert gradebook.finished_shards(url) == [], "--finish clears the shard records for the next run"

    # nbgrader's own commands reach the same gradebook through the environment variable
    env = dict(os.environ, **{gradebook.ENV: url})
    listed = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "list"], cwd=sharded, env=env, capture_output=True, text=True)
    assert all(s in listed.stdout for s in SUBSET), listed.stdout + listed.stderr


def feedback_of(course, student):
    return (course / "grader" / "feedback" / student / LESSON / f"{LESSON}.html").read_text()


def test_finish_refuses_until_every_shard_has_run(postgres, tmp_path):
    url = postgres()
    course = course_with_subset(tmp_path)
    code, _, err = finished(grade(course, "--db", url, "--finish"))
    assert code != 0 and "no shard has finished" in err and len(err.strip().splitlines()) == 1, err
    gradebook.record_shard(url, 1, 3, [LESSON], 2)
    gradebook.record_shard(url, 3, 3, [LESSON], 2)
    code, _, err = finished(grade(course, "--db", url, "--finish"))
    assert code != 0 and "2/3" in err and len(err.strip().splitlines()) == 1, err
    assert not (course / "grader" / "grades.csv").exists() and not (course / "grader" / "feedback").exists()
    assert [r["shard"] for r in gradebook.finished_shards(url)] == [1, 3], "a refused --finish changes nothing"


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://grader@/nowhere?host=/nonexistent-socket-dir",
    "postgresql+psycopg://grader@127.0.0.1:1/gradebook",
    "not a url",
    "mysql+nosuchdriver://x@y/z",
])
def test_an_unusable_database_url_is_one_line_and_writes_nothing(tmp_path, url):
    course = copy_course(tmp_path, with_grader=False)
    code, out, err = finished(grade(course, "--db", url, "--samples"))
    assert code != 0 and err.startswith("grade.py: error:") and len(err.strip().splitlines()) == 1, err
    assert "gradebook" in err
    assert not (course / "grader" / "submitted").exists() and not (course / "grader" / "gradebook.db").exists()


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1-2", "a/b", "2", "1/0", ""])
def test_a_bad_shard_is_one_line_and_writes_nothing(tmp_path, shard):
    course = copy_course(tmp_path, with_grader=False)
    code, out, err = finished(grade(course, "--shard", shard, "--samples"))
    assert code == 2 and "--shard must be K/N" in err and len(err.strip().splitlines()) == 1, err
    assert not (course / "grader" / "submitted").exists() and not (course / "grader" / "gradebook.db").exists()


def test_the_split_is_stable_and_covers_everyone_once():
    students = [f"s{i:03d}" for i in range(300)]
    parts = [gradebook.share(students, k, 4) for k in range(1, 5)]
    assert sorted(sum(parts, [])) == students
    assert all(50 < len(p) < 100 for p in parts), [len(p) for p in parts]
    assert gradebook.share(list(reversed(students)), 2, 4) == list(reversed(parts[1])), "order of discovery does not matter"
    assert gradebook.shard_of("alice", 4) == gradebook.shard_of("alice", 4)


def test_nbgrader_reads_the_url_and_kernels_do_not_inherit_it(tmp_path):
    # nbgrader_config.py takes LOWBIT_DB_URL out of nbgrader's environment, so the kernels it
    # starts for student code never see the URL (or its password); re-reading the config still works
    script = (
        "import os, subprocess, sys, runpy\n"
        "from traitlets.config import Config\n"
        "for _ in range(2):\n"
        "    c = Config()\n"
        "    runpy.run_path('nbgrader_config.py', init_globals={'get_config': lambda: c})\n"
        "    print(c.CourseDirectory.db_url)\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get(\"LOWBIT_DB_URL\"))'], capture_output=True, text=True)\n"
        "print(child.stdout.strip())\n"
    )
    secret = "postgresql+psycopg://grader:s3cret@db.example.org/lowbit"
    course = copy_course(tmp_path, with_grader=False)
    env = dict(os.environ, LOWBIT_DB_URL=secret)
    out = subprocess.run([sys.executable, "-c", script], cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == [secret, secret, "None"], out.stdout + out.stderr
