"""The student bundle (`make release`): no answer key in it, and it works on its own.

The bundle is built into a temporary folder. Its notebooks run with `lowbit_ref` imported from
the bundle (PYTHONPATH), not from this checkout, in this test environment's interpreter.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course import LESSONS, ROOT, nbgrader_meta, source

sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


def build(out: Path) -> Path:
    subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(out)], check=True, capture_output=True, text=True)
    return out / "lowbit-student"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist"))


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_bundle_holds_what_students_need_and_nothing_else(bundle):
    top = sorted(p.name for p in bundle.iterdir())
    assert top == ["Makefile", "README.md", "constraints.txt", "environment.yml", "lessons", "lowbit_ref", "pyproject.toml"]
    assert sorted(p.name for p in (bundle / "lessons").iterdir()) == LESSONS
    for lesson in LESSONS:
        assert (bundle / "lessons" / lesson / f"{lesson}.ipynb").read_bytes() == (ROOT / "lessons" / lesson / f"{lesson}.ipynb").read_bytes()
    names = {str(p.relative_to(bundle)) for p in files(bundle)}
    assert not [n for n in names if n.startswith(("solutions", "grader", "tests")) or "__pycache__" in n or "gradebook" in n]
    assert "grader/" not in (bundle / "README.md").read_text() and "solutions/" not in (bundle / "README.md").read_text()


def test_zip_holds_exactly_the_folder(bundle):
    with zipfile.ZipFile(bundle.parent / "lowbit-student.zip") as z:
        zipped = {n: z.read(n) for n in z.namelist()}
    assert zipped == {f"lowbit-student/{p.relative_to(bundle)}": p.read_bytes() for p in files(bundle)}


def secrets():
    """Every non-trivial hidden-test and solution line of solutions/, minus lines students see anyway."""
    hidden, solution, public = set(), set(), set()
    for lesson in LESSONS:
        for cell in json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())["cells"]:
            text = source(cell)
            hidden.update(l.strip() for b in HIDDEN.findall(text) for l in b.splitlines() if len(l.strip()) >= 16)
            solution.update(l.strip() for b in SOLUTION.findall(text) for l in b.splitlines() if len(l.strip()) >= 16)
            public.update(l.strip() for l in SOLUTION.sub("", HIDDEN.sub("", text)).splitlines())
    return hidden - public, solution - public


def test_bundle_shows_no_hidden_test_or_solution_line(bundle):
    hidden, solution = secrets()
    assert len(hidden) > 50 and len(solution) > 50, "the search must have something to look for"
    found = []
    for path in files(bundle):
        text = path.read_text(errors="replace")
        rel = str(path.relative_to(bundle))
        for line in hidden | solution:
            if rel.startswith("lowbit_ref/"):
                # the reference library implements every exercise, so answer lines may be its
                # code; it must hold no hidden test
                if line not in hidden or not line.startswith("assert"):
                    continue
            if line in text or json.dumps(line)[1:-1] in text:
                found.append(f"{rel}: {line}")
    assert not found, found[:10]


def test_a_leak_is_found_and_stops_the_build(tmp_path, monkeypatch):
    hidden, solution = secrets()
    staged = tmp_path / "b"
    shutil.copytree(ROOT / "lessons", staged / "lessons")
    assert release.leaks(staged) == []
    nb = staged / "lessons" / LESSONS[0] / f"{LESSONS[0]}.ipynb"
    data = json.loads(nb.read_text())
    data["cells"][-1]["source"] = sorted(hidden)[0]
    nb.write_text(json.dumps(data))
    assert any("hidden line" in p for p in release.leaks(staged))
    # and the build refuses: dist/ keeps what was there
    monkeypatch.setattr(release, "leaks", lambda staged: ["lessons/x.ipynb: hidden line 'assert ...'"])
    (tmp_path / "out" / "lowbit-student").mkdir(parents=True)
    (tmp_path / "out" / "lowbit-student" / "old.txt").write_text("before")
    with pytest.raises(SystemExit, match="nothing written"):
        release.build(tmp_path / "out")
    assert (tmp_path / "out" / "lowbit-student" / "old.txt").read_text() == "before"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lowbit-student"]


def test_rebuild_replaces_only_the_bundle(tmp_path):
    out = tmp_path / "dist"
    out.mkdir()
    (out / "my-notes.txt").write_text("mine")
    build(out)
    (out / "lowbit-student" / "stale.txt").write_text("from an old build")
    build(out)
    assert (out / "my-notes.txt").read_text() == "mine"
    assert not (out / "lowbit-student" / "stale.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["lowbit-student", "lowbit-student.zip", "my-notes.txt"]


def test_make_lab_in_the_bundle(bundle):
    plan = subprocess.run(["make", "-n", "lab"], cwd=bundle, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    assert '-e ".[course]"' in plan.stdout and "-c constraints.txt" in plan.stdout
    assert "jupyter lab --ServerApp.root_dir=lessons" in plan.stdout
    # the bundle's pyproject names only what the bundle has
    text = (bundle / "pyproject.toml").read_text()
    for package in re.findall(r'"(lowbit_ref[\w.]*)"', text):
        assert (bundle / package.replace(".", "/") / "__init__.py").is_file(), package


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_release_notebook_runs_with_its_stubs_from_the_bundle(bundle, lesson):
    import nbformat
    from nbclient import NotebookClient

    path = bundle / "lessons" / lesson / f"{lesson}.ipynb"
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell("import lowbit_ref; print(lowbit_ref.__file__)")
    nb.cells.insert(0, probe)
    env = dict(os.environ, PYTHONPATH=str(bundle))
    env.pop("NBGRADER_EXECUTION", None)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    where = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    assert Path(where).resolve().is_relative_to(bundle.resolve()), f"lowbit_ref came from {where}, not the bundle"
    failed = []
    for cell in nb.cells[1:]:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        meta = nbgrader_meta(cell)
        if errors and not (meta.get("solution") or meta.get("grade")):
            failed.append(f"{meta.get('grade_id', cell.source[:60])}: {errors[0]['ename']}: {errors[0]['evalue'][:200]}")
    assert not failed, f"{lesson}: cells other than exercise stubs and their tests fail: {failed}"
    # the stubs are what ran: the tests of the exercises fail on them (as a student first sees)
    tests = [c for c in nb.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
    assert tests and any(o.output_type == "error" for c in tests for o in c.outputs), f"{lesson}: no test failed on the stubs"
