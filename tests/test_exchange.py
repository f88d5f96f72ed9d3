"""nbgrader's exchange end to end, as on a JupyterHub where every student is a Unix user.

The instructor releases lesson 01 into a temporary exchange directory; two throw-away Unix users
(created here, removed at the end) fetch it, answer it (one correct, one partial: the sample
answers), submit; the instructor collects, grades with grader/grade.py, generates and releases
feedback; each student fetches feedback that shows their own score. Needs root (CI runs as root)
to create the users; skipped otherwise.
"""

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from course import ROOT, copy_course, run



LESSON = "01_bits_and_loops"
ANSWERS = {"a": ("sample_correct", 8.0), "b": ("sample_partial", 5.0)}  # scores: grader/answers/loop.py


def nbgrader(*args):
    return [sys.executable, "-m", "nbgrader", *args]


@pytest.fixture
def users():
    if os.geteuid() != 0:
        pytest.skip("creating throw-away Unix users for the exchange needs root (CI runs as root)")
    for tool in ("useradd", "userdel", "setpriv"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not found")
    base = Path(tempfile.mkdtemp(prefix="lowbit-hub-"))
    base.chmod(0o755)  # the students reach the exchange and the Python environment through it
    made = []
    try:
        for key in ANSWERS:
            name = f"lowbit{os.getpid() % 100000}{key}"
            home = base / "home" / name
            home.mkdir(parents=True)
            subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin",
                            "--no-user-group", "--gid", "nogroup", name], check=True, capture_output=True)
            made.append(name)
            shutil.chown(home, name)
        yield base, dict(zip(ANSWERS, made))
    finally:
        for name in made:
            subprocess.run(["userdel", "--force", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def as_student(user, home, args, cwd):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TRITON_INTERPRET")}
    env.update(HOME=str(home), USER=user, LOGNAME=user, PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}")
    result = subprocess.run(["setpriv", f"--reuid={user}", "--regid=nogroup", "--init-groups", *args],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{user}: {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_release_fetch_submit_collect_grade_feedback(users):
    base, accounts = users
    exchange = base / "exchange"  # nbgrader creates it, world-writable with sticky inboxes
    (base / "course").mkdir()
    course = copy_course(base / "course")
    config = f"--Exchange.root={exchange}"

    # instructor: register the lesson in the gradebook and release lessons/ (the student version)
    run(nbgrader("generate_assignment", LESSON, "--force", "--CourseDirectory.release_directory=grader/release"), cwd=course)
    run(nbgrader("release_assignment", LESSON, config), cwd=course)

    for key, user in accounts.items():
        home = base / "home" / user
        (home / ".jupyter").mkdir()
        (home / ".jupyter" / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = 'lowbit'\nc.Exchange.root = {str(exchange)!r}\n")
        shutil.chown(home / ".jupyter", user)
        as_student(user, home, nbgrader("fetch_assignment", LESSON), cwd=home)
        fetched = home / LESSON / f"{LESSON}.ipynb"
        assert fetched.read_bytes() == (ROOT / "lessons" / LESSON / f"{LESSON}.ipynb").read_bytes()
        answer = base / f"{user}.ipynb"
        shutil.copy(ROOT / "grader" / "samples" / ANSWERS[key][0] / LESSON / f"{LESSON}.ipynb", answer)
        answer.chmod(0o644)
        as_student(user, home, ["cp", str(answer), str(fetched)], cwd=home)  # the student's work
        as_student(user, home, nbgrader("submit", LESSON), cwd=home)

    run(nbgrader("collect", LESSON, config), cwd=course)
    for user in accounts.values():
        assert (course / "grader" / "submitted" / user / LESSON / f"{LESSON}.ipynb").is_file()
    # default cell time limit: neither answer loops, and a loaded machine must not time out honest cells
    run([sys.executable, "grader/grade.py", "--jobs", "2", LESSON], cwd=course, timeout=900)
    with open(course / "grader" / "grades.csv", newline="") as f:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == LESSON}
    assert scores == {user: ANSWERS[key][1] for key, user in accounts.items()}

    run(nbgrader("release_feedback", LESSON, config), cwd=course)
    for key, user in accounts.items():
        home = base / "home" / user
        as_student(user, home, nbgrader("fetch_feedback", LESSON), cwd=home)
        pages = list((home / LESSON / "feedback").glob(f"*/{LESSON}.html"))
        assert len(pages) == 1, pages
        assert pages[0].stat().st_uid == pwd_uid(user)
        score = re.search(r"Score:\s*([\d.]+)\s*/\s*([\d.]+)", re.sub(r"<[^>]+>", " ", pages[0].read_text()))
        assert score and (float(score[1]), float(score[2])) == (ANSWERS[key][1], 8.0), (user, score and score.group(0))


def pwd_uid(user):
    import pwd

    return pwd.getpwnam(user).pw_uid


def test_jupyterhub_example_gives_students_the_assignment_list_only(tmp_path):
    """tools/jupyterhub/jupyterhub_config.example.py: per-role Jupyter config folders as JupyterLab reads them."""
    import json
    import runpy
    import types

    class Config(dict):
        def __getattr__(self, name):
            return self.setdefault(name, types.SimpleNamespace())

    config = Config()
    example = runpy.run_path(str(ROOT / "tools" / "jupyterhub" / "jupyterhub_config.example.py"),
                             init_globals={"get_config": lambda: config}, run_name="jupyterhub_config")
    example["write_roles"](str(tmp_path))
    assert config.Spawner.pre_spawn_hook is example["pick_role"]
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name="student7"), environment={})
    example["prepare"] = lambda: None  # the hub (root) writes /etc/jupyter-lowbit and /srv here; not in a test
    example["pick_role"].__globals__["prepare"] = example["prepare"]
    example["pick_role"](spawner)
    assert spawner.environment["JUPYTER_CONFIG_DIR"].endswith("/student")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    lab = {}
    for role in ("student", "instructor"):
        out = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                             env=dict(env, JUPYTER_CONFIG_DIR=str(tmp_path / role)), timeout=120)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
        lab[role] = set(re.findall(r"@jupyter/nbgrader:[\w-]+", text.split("Disabled extensions:")[-1])) if "Disabled extensions:" in text else set()
        server = json.loads((tmp_path / role / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
        assert server["nbgrader.server_extensions.assignment_list"] and server["nbgrader.server_extensions.validate_assignment"]
        assert server["nbgrader.server_extensions.formgrader"] == (role == "instructor")
        assert "c.Exchange.root" in (tmp_path / role / "nbgrader_config.py").read_text()
    assert lab["student"] == {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment"}
    assert lab["instructor"] == set()
